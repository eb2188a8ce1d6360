-- Driver Verifier DMA checks (reference section 4): every bug check 0xE6
-- parameter 1 the adapter layer reports, raised by default and recorded with
-- verifier = "record" (leaks and AdapterControl errors: verifier_leaks_spec).
local dma = require "dma"
local support = require "support"

local PAGE = 4096

local machine, packet, built, granted = support.machine, support.vf_packet, support.built, support.granted

-- Each violation: the P1 it must produce, the call the message names, and
-- a scenario making it on machine m. The machine is on RAM above 4 GiB, so
-- a 32-bit packet device bounces every transfer.
local violations = {
  { 0x03, "FreeCommonBuffer", function(m)
    local a = packet(m, { Dma64BitAddresses = true })
    local va, logical = a:AllocateCommonBuffer(PAGE, false)
    a:FreeCommonBuffer(PAGE, logical, va, false)
    a:FreeCommonBuffer(PAGE, logical, va, false)
  end },
  { 0x04, "FreeAdapterChannel", function(m)
    local a, nmr, dev = packet(m)
    granted(a, dev, nmr, function() end, dma.DeallocateObject)
    a:FreeAdapterChannel()
  end },
  { 0x05, "FreeMapRegisters", function(m)
    local a, nmr, dev = packet(m)
    granted(a, dev, nmr, function(base)
      a:FreeMapRegisters(base, nmr)
      a:FreeMapRegisters(base, nmr)
    end)
  end },
  { 0x06, "PutScatterGatherList", function(m)
    local a, _, dev = packet(m)
    local _, mdl = built(m, PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:GetScatterGatherList(dev, mdl, mdl.StartVa + mdl.ByteOffset, PAGE, function(_, _, sg)
      a:PutScatterGatherList(sg, true)
      a:PutScatterGatherList(sg, true)
    end, nil, true)
  end },
  { 0x07, "PutDmaAdapter", function(m)
    local a = packet(m, { Dma64BitAddresses = true })
    a:AllocateCommonBuffer(PAGE, false)
    dma.PutDmaAdapter(a)
  end },
  { 0x08, "PutDmaAdapter", function(m)
    local x, xnmr, xdev = packet(m)
    local a, _, dev = packet(m)
    granted(x, xdev, xnmr, function() end)       -- holds the whole (small) pool
    a:AllocateAdapterChannel(dev, 5, function() return dma.DeallocateObject end)  -- waits
    a:PutDmaAdapter()
  end, { map_registers = 5 } },
  { 0x09, "PutDmaAdapter", function(m)
    local a, nmr, dev = packet(m)
    granted(a, dev, nmr, function() end)
    a:PutDmaAdapter()
  end },
  { 0x0A, "PutDmaAdapter", function(m)
    local a, _, dev = packet(m)
    local b, mdl = built(m, PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:GetScatterGatherList(dev, mdl, b.va, PAGE, function() end, nil, true)
    a:PutDmaAdapter()
  end },
  { 0x0B, "AllocateAdapterChannel", function(m)
    local x, xnmr, xdev = packet(m)
    local a, _, dev = packet(m)
    granted(x, xdev, xnmr, function() end)
    a:AllocateAdapterChannel(dev, 5, function() return dma.DeallocateObject end)
    a:AllocateAdapterChannel(dev, 1, function() return dma.DeallocateObject end)
  end, { map_registers = 5 } },
  { 0x0C, "AllocateAdapterChannel", function(m)
    local a, nmr, dev = packet(m)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, nmr + 1, function() return dma.DeallocateObject end)
  end },
  { 0x0D, "MapTransfer", function(m)  -- the registers still hold an unflushed mapping
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, 4 * PAGE)
    granted(a, dev, nmr, function(base)
      a:MapTransfer(mdl, base, b.va, 3 * PAGE, true)
      a:MapTransfer(mdl, base, b.va + 3 * PAGE, PAGE, true)
      a:MapTransfer(mdl, base, b.va, 3 * PAGE, true)
    end)
  end },
  { 0x0E, "MapTransfer", function(m)
    local a, nmr, dev = packet(m)
    local b = m:buffer(PAGE, { paged = true })
    local mdl = dma.IoAllocateMdl(b.va, PAGE)  -- never probed and locked
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va, PAGE, true) end)
  end },
  { 0x10, "FreeMapRegisters", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
      a:MapTransfer(mdl, base, b.va, PAGE, true)
      a:FreeMapRegisters(base, nmr)
      return dma.DeallocateObjectKeepRegisters
    end)
  end },
  { 0x10, "FreeAdapterChannel", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va, PAGE, true) end, dma.KeepObject)
    a:FreeAdapterChannel()
  end },
  { 0x10, "AdapterControl (DeallocateObject)", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va, PAGE, true) end, dma.DeallocateObject)
  end },
  { 0x13, "FreeMapRegisters", function(m)
    local a, nmr, dev = packet(m)
    granted(a, dev, nmr, function(base)
      dma.KeLowerIrql(dma.PASSIVE_LEVEL)
      a:FreeMapRegisters(base, nmr)
      dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    end)
  end },
  { 0x15, "MapTransfer", function(m)
    local a, _, dev = packet(m)
    local b, mdl = built(m, 4 * PAGE)
    granted(a, dev, 2, function(base) a:MapTransfer(mdl, base, b.va, 4 * PAGE, true) end)
  end },
  { 0x18, "AllocateAdapterChannel", function(m)
    local a, nmr, dev = packet(m)
    a:PutDmaAdapter()
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, nmr, function() return dma.DeallocateObject end)
  end },
  { 0x1B, "MapTransfer", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, 2 * PAGE)
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va + 2 * PAGE, 16, true) end)
  end },
  { 0x1F, "MapTransfer", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, 2 * PAGE)
    granted(a, dev, nmr, function(base)
      a:MapTransfer(mdl, base, b.va + PAGE, 2 * PAGE, true)
    end)
  end },
  { 0x20, "FlushAdapterBuffers", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base) a:FlushAdapterBuffers(mdl, base, b.va, PAGE, true) end)
  end },
  { 0x21, "MapTransfer", function(m)
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base) a:MapTransfer(mdl, base, b.va, 0, true) end)
  end },
  { 0x25, "IoGetDmaAdapter", function(m) packet(m, { Version = 4 }) end },
  { 0x26, "a device reads", function(m) m:device_read(0x3000, 8) end },
}

describe("Driver Verifier", function()
  local m
  after_each(function()
    -- a raised violation leaves what the scenario held: closing may report it
    if m then pcall(m.close, m) end
    m = nil
  end)

  for _, v in ipairs(violations) do
    local p1, call, scenario, opts = v[1], v[2], v[3], v[4] or {}
    local tag = ("P1=0x%02X"):format(p1)

    it(("raises 0xE6 %s naming %s by default"):format(tag, call), function()
      m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 5, map_registers = opts.map_registers }
      local ok, err = pcall(scenario, m)
      assert.is_false(ok, "no error raised")
      local want = "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, " .. tag .. "): " .. call
      assert.is_truthy(err:find(want, 1, true), ("%q lacks %q"):format(err, want))
    end)

    it(("records 0xE6 %s naming %s with verifier = \"record\""):format(tag, call), function()
      m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 5, verifier = "record",
                    map_registers = opts.map_registers }
      scenario(m)  -- goes on after the report
      local found
      for _, r in ipairs(m:reports()) do
        if r.p1 == p1 then found = r end
      end
      assert.is_not_nil(found, "no report with " .. tag)
      assert.are.equal(0xE6, found.bugcheck)
      assert.are.equal("DRIVER_VERIFIER_DMA_VIOLATION", found.name)
      assert.are.equal(1, found.message:find(call, 1, true))
      assert.is_false(found.leak)
    end)
  end

  it("records in order and the run goes on", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, 2 * PAGE)
    granted(a, dev, nmr, function(base)
      assert.are.same({ 0, 0 }, { a:MapTransfer(mdl, base, b.va, 0, true) })  -- 0x21: nothing mapped
      local logical, len = a:MapTransfer(mdl, base, b.va, 2 * PAGE, true)
      assert.are.equal(2 * PAGE, len)
      assert.is_not_nil(m:device_read(logical, len))
      assert.is_false(a:FlushAdapterBuffers(mdl, base, b.va + 1, len, true))  -- 0x20
      assert.is_true(a:FlushAdapterBuffers(mdl, base, b.va, len, true))
      a:FreeMapRegisters(base, nmr)
    end)
    local r = m:reports()
    assert.are.equal(2, #r)
    assert.are.same({ 0x21, 0x20 }, { r[1].p1, r[2].p1 })
    assert.is_true(r[1].seq < r[2].seq)
    assert.are.equal(m.now, r[2].time)
  end)
end)
