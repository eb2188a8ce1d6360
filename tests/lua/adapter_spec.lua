-- DMA adapters (WDM): IoGetDmaAdapter, DEVICE_DESCRIPTION, ceilings,
-- NumberOfMapRegisters, PutDmaAdapter, the DMA_OPERATIONS table, and the IRQL
-- calls and rules (reference sections 1.1, 1.2, 3).
local dma = require "dma"
local support = require "support"

local KiB, MiB = 1024, 1 << 20

local machine, p1s = support.machine, support.p1s

-- A bus-master DEVICE_DESCRIPTION with `fields` over PCI, v2 defaults.
local function desc(fields)
  local d = { Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = dma.TRUE,
              InterfaceType = dma.PCIBus, MaximumLength = 64 * KiB }
  for k, v in pairs(fields or {}) do d[k] = v end
  return d
end

describe("IoGetDmaAdapter", function()
  local m, dev
  before_each(function()
    m = machine { ram = "16G", seed = 1 }
    dev = m:device { name = "nic0" }
  end)
  after_each(function()
    m:close()
    m, dev = nil, nil
  end)

  it("returns an adapter and NumberOfMapRegisters = BYTES_TO_PAGES(MaximumLength)+1", function()
    local a, nmr = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true, MaximumLength = 16 * KiB })
    assert.are.equal(5, nmr)
    assert.are.equal(5, a.NumberOfMapRegisters)
    assert.are.equal(dma.DEVICE_DESCRIPTION_VERSION2, a.Version)
    local _, odd = dma.IoGetDmaAdapter(m:device(), desc { Dma32BitAddresses = true, MaximumLength = 10000 })
    assert.are.equal(dma.BYTES_TO_PAGES(10000) + 1, odd)
    assert.are.equal(4, odd)
  end)

  it("puts an adapter held in a <close> variable when its scope ends, once", function()
    local kept
    do
      local a <close> = dma.IoGetDmaAdapter(dev, desc())
      kept = a
      assert.is_nil(tostring(a):find("released"))
    end
    assert.matches("released$", tostring(kept))
    local ok = pcall(function()
      local again <close> = kept  -- already put: closing again does nothing
      return again
    end)
    assert.is_true(ok)
    assert.are.same({}, m:reports())
  end)

  it("accepts Versions 0 to 3", function()
    for v = 0, 3 do  -- version 3 takes the width from DmaAddressWidth alone
      local a, nmr = dma.IoGetDmaAdapter(m:device(), desc { Version = v, Dma32BitAddresses = true,
                                                            DmaAddressWidth = v == 3 and 32 or nil })
      assert.is_not_nil(a, "Version " .. v)
      assert.is_true(nmr > 0)
    end
    assert.are.same({}, m:reports())
  end)

  it("refuses Version 4: nil and report 0x25 (record), an error naming it (raise)", function()
    local rec = machine { verifier = "record" }
    local a, nmr = dma.IoGetDmaAdapter(rec:device(), desc { Version = 4 })
    assert.is_nil(a)
    assert.are.equal(0, nmr)
    assert.are.same({ 0x25 }, p1s(rec))
    assert.are.equal(0xE6, rec:reports()[1].bugcheck)
    assert.matches("IoGetDmaAdapter", rec:reports()[1].message)
    rec:close()
    m:select()
    assert.has_error(function() dma.IoGetDmaAdapter(dev, desc { Version = 4 }) end,
      "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x25): IoGetDmaAdapter: DEVICE_DESCRIPTION "
      .. "Version 4 is unknown: it must be DEVICE_DESCRIPTION_VERSION (0), 1, 2 or 3")
  end)

  it("sets the ceiling at 24, 32 or 64 bits", function()
    local function ceiling(fields) return (dma.IoGetDmaAdapter(m:device(), desc(fields))).ceiling end
    assert.are.equal(0xFFFFFF, ceiling { InterfaceType = dma.Isa })
    assert.are.equal(0xFFFFFF, ceiling {})
    assert.are.equal(0xFFFFFFFF, ceiling { Dma32BitAddresses = true })
    assert.are.equal(0xFFFFFFFFFFFFFFFF, ceiling { Dma64BitAddresses = true })  -- 2^64-1 (-1 in Lua)
    -- the 64-bit flag overrides the 32-bit one
    assert.are.equal(0xFFFFFFFFFFFFFFFF, ceiling { Dma32BitAddresses = true, Dma64BitAddresses = true })
    -- ScatterGather on PCIBus implies 32-bit addressing
    assert.are.equal(0xFFFFFFFF, ceiling { ScatterGather = true })
    assert.are.equal(0xFFFFFF, ceiling { ScatterGather = true, InterfaceType = dma.Isa })
  end)

  it("takes DmaAddressWidth from Version 3 only", function()
    local function ceiling(fields) return (dma.IoGetDmaAdapter(m:device(), desc(fields))).ceiling end
    assert.are.equal((1 << 40) - 1, ceiling { Version = 3, DmaAddressWidth = 40 })
    assert.are.equal(0xFFFFFFFF, ceiling { Version = 3, DmaAddressWidth = 32 })
    assert.are.equal(0xFFFFFF, ceiling { Version = 3, DmaAddressWidth = 24 })
    assert.are.equal(0xFFFFFFFFFFFFFFFF, ceiling { Version = 3, DmaAddressWidth = 64 })
    -- ignored before v3: the 32-bit flag decides
    assert.are.equal(0xFFFFFFFF, ceiling { Version = 2, DmaAddressWidth = 40, Dma32BitAddresses = true })
  end)

  it("caps NumberOfMapRegisters per adapter (16) and by the pool", function()
    local _, nmr = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true, MaximumLength = MiB })
    assert.are.equal(16, nmr)
    local wide = machine { adapter_map_registers = 32 }
    local _, n2 = dma.IoGetDmaAdapter(wide:device(),
                                      desc { Dma32BitAddresses = true, MaximumLength = 64 * KiB })
    assert.are.equal(17, n2)
    local _, n3 = dma.IoGetDmaAdapter(wide:device(), desc { Dma32BitAddresses = true, MaximumLength = MiB })
    assert.are.equal(32, n3)
    local small = machine { map_registers = 8 }
    local _, n4 = dma.IoGetDmaAdapter(small:device(),
                                      desc { Dma32BitAddresses = true, MaximumLength = 64 * KiB })
    assert.are.equal(8, n4)
    wide:close()
    small:close()
  end)

  it("gives a 64-bit scatter/gather master registers that take nothing from the pool", function()
    local pool = machine { map_registers = 16 }
    local sg, nmr = dma.IoGetDmaAdapter(pool:device(),
      desc { ScatterGather = true, Dma64BitAddresses = true, MaximumLength = MiB })
    assert.are.equal(257, nmr)  -- BYTES_TO_PAGES(1 MiB) + 1, not capped: none are used
    local other_dev = pool:device()
    local other, all = dma.IoGetDmaAdapter(other_dev, desc { Dma32BitAddresses = true })
    assert.are.equal(16, all)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local sg_base
    assert.are.equal(dma.STATUS_SUCCESS, sg:AllocateAdapterChannel(sg.device, 16, function(_, _, base)
      sg_base = base
      return dma.DeallocateObjectKeepRegisters
    end))
    assert.is_not_nil(sg_base)
    assert.are.equal(0, sg:stats().map_registers_high_water)
    assert.are.equal(0, sg:stats().map_registers_held)
    local ran = false
    other:AllocateAdapterChannel(other_dev, all, function(_, _, base)
      ran = true
      other:FreeMapRegisters(base, all)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.is_true(ran)  -- the whole pool was still free
    assert.are.equal(16, other:stats().map_registers_high_water)
    sg:FreeMapRegisters(sg_base, 16)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    pool:close()
  end)

  it("rejects an unknown DEVICE_DESCRIPTION field, naming it", function()
    local ok, err = pcall(dma.IoGetDmaAdapter, dev, desc { MaximumLenght = 4096 })
    assert.is_false(ok)
    assert.matches("bad argument #2 to '[%w.]*IoGetDmaAdapter' %(DEVICE_DESCRIPTION has no field "
                   .. "'MaximumLenght'%)$", err)
    ok, err = pcall(dma.IoGetDmaAdapter, dev, desc { Master = "yes" })
    assert.is_false(ok)
    assert.matches("DEVICE_DESCRIPTION.Master must be a boolean", err)
  end)

  it("reaches the same functions through DmaOperations, methods and Io* names", function()
    local a = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true })
    assert.are.equal(a.DmaOperations.MapTransfer, a.MapTransfer)
    assert.are.equal(a.DmaOperations.AllocateAdapterChannel, a.AllocateAdapterChannel)
    assert.are.equal(a.DmaOperations.PutDmaAdapter, dma.PutDmaAdapter)
    assert.are.equal(a.DmaOperations.MapTransfer, dma.IoMapTransfer)
    assert.are.equal(a.DmaOperations.FlushAdapterBuffers, dma.IoFlushAdapterBuffers)
    assert.are.equal(a.DmaOperations.FreeMapRegisters, dma.IoFreeMapRegisters)
    assert.is_function(a.DmaOperations.GetScatterGatherList)
    assert.is_function(a.DmaOperations.CalculateScatterGatherList)
  end)

  it("releases with PutDmaAdapter; the adapter then refuses every call (0x18)", function()
    local a = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true })
    a.DmaOperations.PutDmaAdapter(a)
    assert.matches(" released$", tostring(a))
    assert.has_error(function() a:AllocateCommonBuffer(4096, false) end,
      "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x18): AllocateCommonBuffer: adapter#"
      .. a.id .. " was already released by PutDmaAdapter")
    assert.has_error(function() dma.PutDmaAdapter(a) end)
  end)
end)

describe("IRQL", function()
  local m, dev
  before_each(function()
    m = machine { verifier = "record" }
    dev = m:device { name = "disk0" }
  end)
  after_each(function()
    m:close()
    m, dev = nil, nil
  end)

  it("starts at PASSIVE_LEVEL, raises and lowers", function()
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeRaiseIrql(dma.DISPATCH_LEVEL))
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeRaiseIrql(dma.DISPATCH_LEVEL))  -- same level is fine
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    assert.are.equal(0, m:stats().irql)
  end)

  it("refuses raising below the current level and lowering above it", function()
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.has_error(function() dma.KeRaiseIrql(dma.PASSIVE_LEVEL) end,
      "KeRaiseIrql: IRQL_NOT_GREATER_OR_EQUAL: cannot raise from 2 to 0")
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
    assert.has_error(function() dma.KeLowerIrql(dma.HIGH_LEVEL) end,
      "KeLowerIrql: IRQL_NOT_LESS_OR_EQUAL: cannot lower from 2 to 15")
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
    assert.has_error(function() dma.KeRaiseIrql(16) end)
  end)

  it("reports IoGetDmaAdapter at DISPATCH_LEVEL (0x13)", function()
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true })
    assert.are.same({ 0x13 }, p1s(m))
    assert.matches("IoGetDmaAdapter", m:reports()[1].message)
  end)

  it("reports AllocateAdapterChannel at PASSIVE_LEVEL (0x13) yet runs the routine at DISPATCH_LEVEL",
    function()
      local a, nmr = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true })
      local seen
      a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
        seen = dma.KeGetCurrentIrql()
        a:FreeMapRegisters(base, nmr)
        return dma.DeallocateObjectKeepRegisters
      end)
      assert.are.equal(0x13, m:reports()[1].p1)
      assert.matches("AllocateAdapterChannel", m:reports()[1].message)
      assert.are.equal(dma.DISPATCH_LEVEL, seen)
      assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())  -- restored afterwards
    end)

  it("reports MapTransfer above DISPATCH_LEVEL (0x13), raises it by default", function()
    local b = m:buffer(8192)
    local mdl = dma.IoAllocateMdl(b.va, b.length)
    dma.MmBuildMdlForNonPagedPool(mdl)
    local a, nmr = dma.IoGetDmaAdapter(dev, desc { Dma32BitAddresses = true })
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
      dma.KeRaiseIrql(dma.HIGH_LEVEL)
      a:MapTransfer(mdl, base, b.va, 4096, true)
      dma.KeLowerIrql(dma.DISPATCH_LEVEL)
      a:FlushAdapterBuffers(mdl, base, b.va, 4096, true)
      a:FreeMapRegisters(base, nmr)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.are.same({ 0x13 }, p1s(m))
    assert.matches("MapTransfer", m:reports()[1].message)

    local strict = machine {}
    local sb = strict:buffer(8192)
    local smdl = dma.IoAllocateMdl(sb.va, sb.length)
    dma.MmBuildMdlForNonPagedPool(smdl)
    local sdev = strict:device()
    local s, snmr = dma.IoGetDmaAdapter(sdev, desc { Dma32BitAddresses = true })
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err
    s:AllocateAdapterChannel(sdev, snmr, function(_, _, base)
      dma.KeRaiseIrql(dma.CLOCK_LEVEL)
      ok, err = pcall(s.MapTransfer, s, smdl, base, sb.va, 4096, true)
      dma.KeLowerIrql(dma.DISPATCH_LEVEL)
      s:FlushAdapterBuffers(smdl, base, sb.va, 4096, true)  -- it did map: the report only records
      s:FreeMapRegisters(base, snmr)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.is_false(ok)
    assert.matches("DRIVER_VERIFIER_DMA_VIOLATION %(0xE6, P1=0x13%): MapTransfer", err)
    strict:close()
  end)
end)
