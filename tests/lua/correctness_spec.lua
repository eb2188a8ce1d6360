-- Issue 15: the answers an independent check found wrong against the
-- documented rules, as a script sees them: IoGetDmaAdapter's NULLs and their
-- traced reasons, CalculateScatterGatherList's STATUS_BUFFER_TOO_SMALL, the
-- KMDF fragment rules, map register pools and machine option ranges,
-- split_transfer's alignment, MapTransfer's 0x15 message.
local dma = require "dma"
local support = require "support"
dma.export()

local KiB, GiB = 1024, 1 << 30
local PAGE = 4096

local machine, p1s = support.machine, support.p1s

-- A bus-master DEVICE_DESCRIPTION with `fields` over PCI, v2 defaults.
local function desc(fields)
  local d = { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, InterfaceType = PCIBus,
              MaximumLength = 64 * KiB }
  for k, v in pairs(fields or {}) do d[k] = v end
  return d
end

-- The reason of the newest "adapter_refused" trace record.
local function reason(m)
  local t = m:trace("adapter_refused")
  return t[#t] and t[#t].reason
end

describe("IoGetDmaAdapter answers every invalid DEVICE_DESCRIPTION with nil, 0", function()
  local m
  before_each(function() m = machine { verifier = "record" } end)
  after_each(function()
    m:close()
    m = nil
  end)

  it("refuses a version 3 DmaAddressWidth above 64 (65-80), the reason in the trace", function()
    for w = 65, 80 do
      local a, nmr = IoGetDmaAdapter(m:device(), desc { Version = 3, DmaAddressWidth = w })
      assert.is_nil(a, w)
      assert.are.equal(0, nmr)
      assert.are.equal("DmaAddressWidth " .. w .. " exceeds 64", reason(m))
    end
    assert.are.same({}, m:reports())
    assert.is_not_nil((IoGetDmaAdapter(m:device(), desc { Version = 3, DmaAddressWidth = 64 })))
  end)

  it("refuses a version 3 DmaAddressWidth of 0 whatever the v2 flags say", function()
    for _, flags in ipairs { {}, { Dma32BitAddresses = TRUE }, { Dma64BitAddresses = TRUE } } do
      flags.Version = 3
      local a, nmr = IoGetDmaAdapter(m:device(), desc(flags))
      assert.is_nil(a)
      assert.are.equal(0, nmr)
      assert.matches("DmaAddressWidth is 0", reason(m))
    end
    assert.is_nil((IoGetDmaAdapter(m:device(), desc { Version = 3, DmaAddressWidth = 23 })))
    assert.matches("below 24", reason(m))
    assert.are.same({}, m:reports())
  end)

  it("refuses Version 4 with nil, 0 and the report Driver Verifier makes, stating the rule", function()
    local a, nmr = IoGetDmaAdapter(m:device(), desc { Version = 4 })
    assert.is_nil(a)
    assert.are.equal(0, nmr)
    assert.are.same({ 0x25 }, p1s(m))
    assert.matches("Version 4 is unknown: it must be DEVICE_DESCRIPTION_VERSION %(0%), 1, 2 or 3",
                   m:reports()[1].message)
    assert.matches("Version 4 is unknown", reason(m))
    assert.is_not_nil((IoGetDmaAdapter(m:device(), desc { Version = 0, Dma32BitAddresses = TRUE })))
  end)

  it("gives nil, 0 (not an error) when the machine has no map registers", function()
    local none = machine { map_registers = 0 }
    local a, nmr = IoGetDmaAdapter(none:device(), desc { Dma64BitAddresses = TRUE })
    assert.is_nil(a)
    assert.are.equal(0, nmr)
    assert.matches("needs map registers and the machine has none", reason(none))
    assert.is_not_nil((IoGetDmaAdapter(none:device(), desc { ScatterGather = TRUE,
                                                            Dma64BitAddresses = TRUE })))
    none:close()
    m:select()
  end)
end)

describe("map registers", function()
  it("are RAM reserved from the RAM map, shown by m:stats()", function()
    local m = machine {}
    local st = m:stats()
    assert.are.equal(64, st.map_registers)
    assert.are.equal(16 * (1 << 20) - 64 * PAGE, st.map_registers_base)  -- the top of 16 MiB
    assert.are.equal(st.ram_bytes - 64 * PAGE, st.free_bytes)
    m:close()
  end)

  it("with RAM only above 4 GiB lie there: a 32-bit device that needs them gets nil, 0", function()
    local m = machine { ram = { { "4G", "8G" } }, verifier = "record" }
    assert.are.equal(4 * GiB, m:stats().map_registers_base)
    local a, nmr = support.packet(m, "nic0")
    assert.is_nil(a)
    assert.are.equal(0, nmr)
    assert.matches("no RAM below its ceiling", reason(m))
    assert.has_error(function() m:read_phys(0x100005, 1) end,
      "bad argument #1 to 'read_phys' (range is not RAM)")
    local wide = IoGetDmaAdapter(m:device(), desc { Dma64BitAddresses = TRUE })
    assert.is_not_nil(wide)  -- a 64-bit packet master reaches them
    m:close()
  end)

  it("bounce through RAM a script can read when low RAM holds them", function()
    local m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 3 }
    assert.are.equal(1 << 20, m:stats().map_registers_base)
    local a, nmr, dev = support.packet(m, "nic0")
    local b, mdl = support.buffer(m, 2 * PAGE, { offset = 5 })
    KeRaiseIrql(DISPATCH_LEVEL)
    support.granted(a, dev, nmr, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va, b.length, TRUE)
      assert.are.equal(b:read(), m:read_phys(logical, len))
      a:FlushAdapterBuffers(mdl, base, b.va, len, TRUE)
      a:FreeMapRegisters(base, nmr)
    end)
    KeLowerIrql(PASSIVE_LEVEL)
    assert.are.equal(b.length, a:stats().bytes_bounced)
    m:close()
  end)
end)

describe("machine options", function()
  it("refuse a map register pool above 16 MiB when the machine is built, naming the range", function()
    assert.has_error(function() dma.machine { ram = "8G", page_size = 16384, map_registers = 1025 } end,
      "bad argument #1 to 'machine' (map_registers must be from 0 to 1024 with 16 KiB pages "
      .. "(16 MiB of map registers at most), not 1025)")
    local m = dma.machine { ram = "8G", page_size = 16384, map_registers = 1024 }
    local a, nmr = IoGetDmaAdapter(m:device(), desc { Dma64BitAddresses = TRUE })
    assert.is_not_nil(a)
    assert.are.equal(5, nmr)
    m:close()
    assert.has_error(function() dma.machine { page_size = 65536, map_registers = 257 } end)
  end)
end)

describe("CalculateScatterGatherList", function()
  it("is STATUS_BUFFER_TOO_SMALL for a Length past the end of the MDL, every adapter kind", function()
    local m = machine {}
    local b, mdl = support.buffer(m, 3 * PAGE + 100, { offset = 0x10 })
    for _, kind in ipairs { "packet32", "packet64", "sg32", "sg64" } do
      local a = support.adapter(m, kind)
      assert.are.equal(STATUS_BUFFER_TOO_SMALL, (a:CalculateScatterGatherList(mdl, b.va, b.length + 1)))
      assert.are.equal(STATUS_SUCCESS, (a:CalculateScatterGatherList(mdl, b.va, b.length)))
      assert.are.equal(STATUS_INVALID_PARAMETER, (a:CalculateScatterGatherList(mdl, b.va - 1, 1)))
    end
    m:close()
  end)
end)

describe("MapTransfer past its registers", function()
  it("keeps report 0x15 and Length 0, and says how many bytes fit", function()
    local m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, verifier = "record" }
    local a, nmr, dev = support.packet(m, "nic0", 3 * PAGE)
    local b, mdl = support.buffer(m, 8 * PAGE, {})
    KeRaiseIrql(DISPATCH_LEVEL)
    support.granted(a, dev, nmr, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va + 0x100, nmr * PAGE, TRUE)
      assert.are.same({ 0, 0 }, { logical, len })
      a:FreeMapRegisters(base, nmr)
    end)
    KeLowerIrql(PASSIVE_LEVEL)
    assert.are.same({ 0x15 }, p1s(m))
    assert.matches(tostring(nmr * PAGE - 0x100) .. " bytes fit %(NumberOfMapRegisters x PAGE_SIZE "
                   .. "%- BYTE_OFFSET%(CurrentVa%)%)", m:reports()[1].message)
    m:close()
  end)
end)

describe("dma.split_transfer", function()
  local m, b, mdl
  before_each(function()
    m = machine { seed = 4 }
    b, mdl = support.buffer(m, 11 * PAGE, { offset = 0x100 })
  end)
  after_each(function()
    m:close()
    m = nil
  end)

  it("says which limit no split can keep instead of breaking the alignment", function()
    local ok, err = pcall(dma.split_transfer, mdl, 16, { max_bytes = 907, alignment = 4096 })
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #3 to '", 1, true))
    assert.truthy(err:find("(no split keeps alignment 4096: from " .. dma.hex(b.va)
                           .. " (BYTE_OFFSET 0x100) max_bytes 907 allows only 907 bytes)", 1, true))
    ok, err = pcall(dma.split_transfer, mdl, 1, { alignment = 512 })
    assert.is_false(ok)
    assert.matches("NumberOfMapRegisters 1 allows only 256 bytes", err)
  end)

  it("starts every piece on the alignment grid from va when it can", function()
    for _, t in ipairs { { 1, 256 }, { 5, 512 }, { 3, 3 * 1024 } } do
      local pieces = dma.split_transfer(mdl, t[1], { alignment = t[2] })
      local at = b.va
      for i, p in ipairs(pieces) do
        assert.are.equal(at, p.va)
        assert.are.equal(0, (p.va - b.va) % t[2])
        if i < #pieces then assert.are.equal(0, p.length % t[2]) end
        assert.is_true(p.map_registers <= t[1])
        at = at + p.length
      end
      assert.are.equal(b.va + b.length, at)
    end
  end)
end)

describe("KMDF fragment rules", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  -- An enabler on a started device, and a transaction with a recorder of
  -- the fragment lengths EvtProgramDma sees.
  local function enabler(profile, maxlen)
    local hw = m:device_model { name = "dev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local e
    local function add(_, DeviceInit)
      local _, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
      local status
      status, e = WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(profile, maxlen),
                                      WDF_NO_OBJECT_ATTRIBUTES)
      return status
    end
    local _, driver = WdfDriverCreate(nil, "\\Registry\\dev", WDF_NO_OBJECT_ATTRIBUTES,
                                      WDF_DRIVER_CONFIG_INIT(add))
    m:wdf_add_device(driver, hw)
    return e
  end

  it("SetMaximumLength compares each call with the enabler's fragment length", function()
    m = machine { ram = "4G" }
    local e = enabler(WdfDmaProfileScatterGather64, 64 * KiB)
    local _, t = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)
    local b, mdl = support.buffer(m, 40000, {})
    local lengths = {}
    local function program(_, _, _, _, SgList)
      local n = 0
      for i = 0, SgList.NumberOfElements - 1 do n = n + SgList.Elements[i].Length end
      lengths[#lengths + 1] = n
      return TRUE
    end
    local function run(first, second)
      lengths = {}
      WdfDmaTransactionInitialize(t, program, WdfDmaDirectionWriteToDevice, mdl, b.va, b.length)
      WdfDmaTransactionSetMaximumLength(t, first)
      WdfDmaTransactionSetMaximumLength(t, second)
      WdfDmaTransactionExecute(t, nil)
      KeRaiseIrql(DISPATCH_LEVEL)
      while not WdfDmaTransactionDmaCompleted(t) do end
      KeLowerIrql(PASSIVE_LEVEL)
      WdfDmaTransactionRelease(t)
      return lengths
    end
    assert.are.same({ 16384, 16384, 40000 - 32768 }, run(8192, 16384))
    assert.are.same({ 8192, 8192, 8192, 8192, 40000 - 32768 }, run(8192, 1024 * KiB))
  end)

  it("WdfDmaEnablerGetFragmentLength returns 0 for an invalid direction", function()
    m = machine { ram = "4G" }
    local e = enabler(WdfDmaProfileScatterGather64, 64 * KiB)
    assert.are.equal(64 * KiB, WdfDmaEnablerGetFragmentLength(e, WdfDmaDirectionReadFromDevice))
    assert.are.equal(64 * KiB, WdfDmaEnablerGetFragmentLength(e, WdfDmaDirectionWriteToDevice))
    for _, bad in ipairs { 2, -1, 1 << 40 } do
      assert.are.equal(0, WdfDmaEnablerGetFragmentLength(e, bad))
    end
  end)

  it("shows the map registers behind an enabler on its adapter", function()
    m = machine { ram = "4G" }
    local e = enabler(WdfDmaProfilePacket, 32 * KiB)
    local a = WdfDmaEnablerWdmGetDmaAdapter(e, WdfDmaDirectionReadFromDevice)
    assert.are.equal(9, a.NumberOfMapRegisters)
    assert.are.equal(32, a.address_bits)
    assert.are.equal(0xFFFFFFFF, a.ceiling)
    assert.are.equal((a.NumberOfMapRegisters - 1) * PAGE,
                     WdfDmaEnablerGetFragmentLength(e, WdfDmaDirectionReadFromDevice))
  end)
end)
