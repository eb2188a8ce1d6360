-- The Driver Verifier gaps of issue 16 (item 7) and frees of objects in use
-- (item 1): each raises (or records) with its bug check and P1, names the
-- call, and leaves the machine usable; a refused free frees nothing.
local dma = require "dma"
local support = require "support"

local PAGE = 4096
local machine, p1s, built, granted = support.machine, support.p1s, support.built, support.granted

local function sg64(m, name)
  local dev = m:device { name = name }
  local a, nmr = dma.IoGetDmaAdapter(dev, { Version = dma.DEVICE_DESCRIPTION_VERSION2,
    Master = true, ScatterGather = true, Dma64BitAddresses = true, InterfaceType = dma.PCIBus,
    MaximumLength = 64 * 1024 })
  return a, nmr, dev
end

describe("Driver Verifier gaps", function()
  local m
  after_each(function() m = support.close(m) end)

  it("0x1D: a second S/G list of one buffer range, naming the adapter that mapped it", function()
    m = machine {}
    local a, _, dev = sg64(m, "nic")
    local b, mdl = built(m, 2 * PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local lists = {}
    a:GetScatterGatherList(dev, mdl, b.va, b.length, function(_, _, sg) lists[1] = sg end, nil, true)
    local ok, err = pcall(a.GetScatterGatherList, a, dev, mdl, b.va + PAGE, PAGE,
                          function(_, _, sg) lists[2] = sg end, nil, true)
    assert.is_false(ok)
    assert.truthy(err:find("DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x1D): MapTransfer: ", 1, true), err)
    assert.truthy(err:find(("is already mapped for DMA by adapter#%d"):format(a.id), 1, true), err)
    assert.is_nil(lists[2])
    a:PutScatterGatherList(lists[1], true)
    a:GetScatterGatherList(dev, mdl, b.va + PAGE, PAGE, function(_, _, sg) lists[3] = sg end, nil, true)
    assert.is_not_nil(lists[3])  -- usable again once the first list is put
    a:PutScatterGatherList(lists[3], true)
    dma.IoFreeMdl(mdl)
  end)

  it("0x1D: two adapters mapping one buffer range (recorded)", function()
    m = machine { verifier = "record" }
    local a, _, adev = sg64(m, "a")
    local c, _, cdev = sg64(m, "c")
    local b, mdl = built(m, PAGE)
    local la, lc
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:GetScatterGatherList(adev, mdl, b.va, PAGE, function(_, _, sg) la = sg end, nil, false)
    c:GetScatterGatherList(cdev, mdl, b.va, PAGE, function(_, _, sg) lc = sg end, nil, false)
    assert.are.same({ 0x1D }, p1s(m))
    assert.is_nil(lc)
    a:PutScatterGatherList(la, false)
    dma.IoFreeMdl(mdl)
  end)

  it("0x21: a zero-length GetScatterGatherList", function()
    m = machine {}
    local a, _, dev = sg64(m, "nic")
    local b, mdl = built(m, PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.GetScatterGatherList, a, dev, mdl, b.va, 0, function() end, nil, true)
    assert.is_false(ok)
    assert.truthy(err:find("(0xE6, P1=0x21): GetScatterGatherList: zero-length map", 1, true), err)
  end)

  it("0x00: FlushAdapterBuffers with a Length past what was mapped", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = support.vf_packet(m)
    local b, mdl = built(m, 2 * PAGE)
    granted(a, dev, nmr, function(base)
      a:MapTransfer(mdl, base, b.va, 100, true)
      a:FlushAdapterBuffers(mdl, base, b.va, 2 * PAGE, true)
      a:FreeMapRegisters(base, nmr)
    end)
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.same({ 0x00, 1, 100, 2 * PAGE }, { r[1].p1, r[1].p2, r[1].p3, r[1].p4 })
    assert.matches("^FlushAdapterBuffers: Length 8192 is more than the 100 bytes mapped", r[1].message)
  end)

  it("FlushAdapterBuffers the wrong way is reported and copies nothing back", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "1G" } }, alloc = "high_first", verifier = "record" }
    local a, nmr, dev = support.vf_packet(m)  -- 32-bit: the buffer above 4 GiB bounces
    local b, mdl = built(m, PAGE)
    b:write(0, "kept")
    granted(a, dev, nmr, function(base)
      local logical = a:MapTransfer(mdl, base, b.va, PAGE, false)  -- device -> memory
      m:device_write(logical, "junk")
      a:FlushAdapterBuffers(mdl, base, b.va, PAGE, true)           -- flushed as a write
      a:FreeMapRegisters(base, nmr)
    end)
    assert.are.same({ 0x00 }, p1s(m))
    assert.matches("WriteToDevice is TRUE but MapTransfer mapped", m:reports()[1].message)
    assert.are.equal("kept", b:read(0, 4))
  end)

  it("0x05: FreeMapRegisters with a base naming none of its registers, not an argument error", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = support.vf_packet(m)
    local o, onmr, odev = support.vf_packet(m)
    granted(o, odev, onmr, function(base)
      a:FreeMapRegisters(base, nmr)    -- another adapter's base
      a:FreeMapRegisters(nil, nmr)     -- no base at all
      o:FreeMapRegisters(base, onmr)
    end)
    assert.are.same({ 0x05, 0x05 }, p1s(m))
    assert.matches("^FreeMapRegisters: MapRegisterBase 0x%x+ names no map registers of adapter#",
                   m:reports()[1].message)
    granted(a, dev, nmr, function(base) a:FreeMapRegisters(base, nmr) end)  -- still usable
    assert.are.equal(2, #m:reports())
  end)

  it("leaks at close raise in the format of every report, listing the others", function()
    m = machine {}
    local a, nmr, dev = support.vf_packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va, PAGE, true) end)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    local ok, err = pcall(m.close, m)
    m = nil
    assert.is_false(ok)
    local want = "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x09): leak at end of run: "
    assert.truthy(err:find(want, 1, true), err)
    assert.truthy(err:find("(and 1 more leak: P1=0x0D)", 1, true), err)
  end)
end)

describe("frees of objects in use", function()
  local m
  after_each(function() m = support.close(m) end)

  it("b:free of a buffer whose pages are mapped for DMA is refused; nothing is freed", function()
    m = machine {}
    local a, _, dev = sg64(m, "nic")
    local b, mdl = built(m, PAGE)
    local pfn = b:pfns()[1]
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local list
    a:GetScatterGatherList(dev, mdl, b.va, PAGE, function(_, _, sg) list = sg end, nil, false)
    local ok, err = pcall(b.free, b)
    assert.is_false(ok)
    assert.truthy(err:find(("b:free: buffer#%d is still mapped for DMA by 1 live mapping"):format(b.id),
                           1, true), err)
    assert.are.equal(pfn, b:pfns()[1])  -- still there
    ok, err = pcall(dma.IoFreeMdl, mdl)
    assert.is_false(ok)
    assert.truthy(err:find("IoFreeMdl: MDL#%d+ is still in use by DMA_ADAPTER#%d+"), err)
    a:PutScatterGatherList(list, false)
    dma.IoFreeMdl(mdl)
    b:free()
  end)

  it("IoFreeMdl of the MDL of an initialized KMDF transaction is refused", function()
    m = machine {}
    dma.export()
    local hw = m:device_model { name = "dmadev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local enabler
    local _, driver = WdfDriverCreate(nil, "\\Registry\\dmadev", WDF_NO_OBJECT_ATTRIBUTES,
      WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
        local _, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
        local st
        st, enabler = WdfDmaEnablerCreate(device,
          WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather64, 64 * 1024), WDF_NO_OBJECT_ATTRIBUTES)
        return st
      end))
    m:wdf_add_device(driver, hw)
    local _, t = WdfDmaTransactionCreate(enabler, WDF_NO_OBJECT_ATTRIBUTES)
    local b, mdl = built(m, 2 * PAGE)
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionInitialize(t, function() return TRUE end,
      WdfDmaDirectionWriteToDevice, mdl, b.va, b.length))
    local ok, err = pcall(dma.IoFreeMdl, mdl)
    assert.is_false(ok)
    assert.truthy(err:find("IoFreeMdl: MDL#%d+ is still in use by WDFDMATRANSACTION#%d+: an "
                           .. "initialized transaction"), err)
    WdfDmaTransactionRelease(t)
    dma.IoFreeMdl(mdl)
    WdfObjectDelete(t)
  end)
end)

describe("wrong-type messages", function()
  it("name the type for a non-string key and the field for MDL.Next", function()
    local m = machine {}
    local b, mdl = built(m, PAGE)
    local ok, err = pcall(function() return b[true] end)
    assert.is_false(ok)
    assert.matches("buffer%[k%]: a field name is a string, not a boolean %(true%)", err)
    ok, err = pcall(function() return mdl[{}] end)
    assert.is_false(ok)
    assert.matches("MDL%[k%]: a field name is a string, not a table", err)
    ok, err = pcall(function() mdl.Next = 1 end)
    assert.is_false(ok)
    assert.matches("MDL%.Next must be an MDL or nil, not a number", err)
    dma.IoFreeMdl(mdl)
    m:close()
  end)
end)

describe("closing a machine from inside its own routines", function()
  local function refused(m)
    local ok, err = pcall(m.close, m)
    assert.is_false(ok)
    assert.matches("machine:close%(%) inside one of its own callbacks", err)
  end

  it("is refused in a KeSynchronizeExecution routine", function()
    local m = machine {}
    local _, intr = dma.IoConnectInterrupt(function() return false end, nil, nil, 5, 5, 5,
                                           dma.LevelSensitive, true, 1, false)
    local ran = false
    assert.is_true(dma.KeSynchronizeExecution(intr, function()
      refused(m)
      ran = true
      return true
    end, nil))
    assert.is_true(ran)
    m:close()
  end)

  it("is refused in EvtDriverDeviceAdd and WdfInterruptSynchronize", function()
    local m = machine {}
    dma.export()
    local hw = m:device_model { name = "d", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local wi
    local _, driver = WdfDriverCreate(nil, "\\Registry\\d", WDF_NO_OBJECT_ATTRIBUTES,
      WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
        refused(m)
        local _, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
        local st
        st, wi = WdfInterruptCreate(device, WDF_INTERRUPT_CONFIG_INIT(function() return true end, nil),
                                    WDF_NO_OBJECT_ATTRIBUTES)
        return st
      end))
    assert.is_not_nil(m:wdf_add_device(driver, hw))
    local ran = false
    WdfInterruptSynchronize(wi, function()
      refused(m)
      ran = true
      return true
    end, nil)
    assert.is_true(ran)
    m:close()
  end)
end)
