-- Driver Verifier leak checks (0x07-0x0A, 0x0D through m:check_leaks) and
-- what a Lua error thrown by AdapterControl leaves behind.
local dma = require "dma"
local support = require "support"

local KiB = 1024
local PAGE = 4096

local machine, packet, built, granted = support.machine, support.vf_packet, support.built, support.granted

describe("leak checks", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("reports what adapters still hold as leaks (0x07-0x0A, 0x0D)", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, verifier = "record", map_registers = 16 }
    local a, nmr, dev = packet(m)
    local s, _, sdev = packet(m)
    local w, _, wdev = packet(m)
    local x, xnmr, xdev = packet(m, { MaximumLength = 64 * KiB })
    local c = packet(m, { Dma64BitAddresses = true })
    c:AllocateCommonBuffer(PAGE, false)
    local b, mdl = built(m, PAGE)
    granted(a, dev, 3, function(base) a:MapTransfer(mdl, base, b.va, PAGE, true) end, dma.KeepObject)
    a:AllocateAdapterChannel(m:device(), 1, function() return dma.DeallocateObject end)  -- queued
    local b2, mdl2 = built(m, PAGE)  -- another buffer: one mapped twice is 0x1D
    s:GetScatterGatherList(sdev, mdl2, b2.va, PAGE, function() end, nil, true)  -- 1 register
    granted(x, xdev, 12, function() end)                       -- 3 + 1 + 12: the pool is full
    w:AllocateAdapterChannel(wdev, 1, function() return dma.DeallocateObject end)
    assert.is_true(nmr > 0 and xnmr >= 12)
    assert.are.same({}, m:reports())
    local leaks = m:check_leaks()
    local seen = {}
    for _, r in ipairs(leaks) do
      assert.is_true(r.leak)
      assert.are.equal(0xE6, r.bugcheck)
      seen[r.p1] = (seen[r.p1] or 0) + 1
    end
    assert.are.same({ [0x07] = 1, [0x08] = 2, [0x09] = 2, [0x0A] = 1, [0x0D] = 1 }, seen)
    local held = {}
    for _, r in ipairs(leaks) do
      if r.p1 == 0x08 then held[#held + 1] = r.message:match("still holds (%d+) adapter channel") end
    end
    assert.are.same({ "2", "1" }, held)  -- a: the owner and a queued request; w: a waiting owner
    assert.are.equal(#leaks, #m:reports())
  end)

  it("reports a KTIMER still set as TIMER_OR_DPC_INVALID (0xC7, P1 0), not one cancelled", function()
    m = machine { verifier = "record" }
    local set, cancelled = dma.KeInitializeTimer(), dma.KeInitializeTimer()
    dma.KeSetTimer(set, -1000000)
    dma.KeSetTimer(cancelled, -1000000)
    dma.KeCancelTimer(cancelled)
    local leaks = m:check_leaks()
    assert.are.equal(1, #leaks)
    assert.are.equal(0xC7, leaks[1].bugcheck)
    assert.are.equal(0, leaks[1].p1)
    assert.is_true(leaks[1].leak)
    assert.matches("KTIMER#%d+ is still set %(KeCancelTimer before unload%)", leaks[1].message)
    dma.KeCancelTimer(set)
    assert.are.same({}, m:check_leaks())
  end)

  it("finds nothing once everything is given back", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, PAGE)
    granted(a, dev, nmr, function(base)
      local _, len = a:MapTransfer(mdl, base, b.va, PAGE, false)
      a:FlushAdapterBuffers(mdl, base, b.va, len, false)
      a:FreeMapRegisters(base, nmr)
    end)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    a:PutDmaAdapter()
    assert.are.same({}, m:check_leaks())
    assert.are.same({}, m:reports())
  end)
end)

describe("an error in AdapterControl", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("propagates out of the call that ran it, and the registers are freed", function()
    m = machine { map_registers = 16 }
    local a, nmr, dev = packet(m, { MaximumLength = 64 * KiB })
    assert.are.equal(16, nmr)
    local x, xnmr, xdev = packet(m, { MaximumLength = 64 * KiB })
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.AllocateAdapterChannel, a, dev, nmr, function() error("driver bug 1") end)
    assert.is_false(ok)
    assert.matches("driver bug 1", err)
    assert.are.equal(0, a:stats().map_registers_held)
    -- deferred: it runs inside another adapter's FreeMapRegisters
    local held
    x:AllocateAdapterChannel(xdev, xnmr, function(_, _, base)
      held = base
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.are.equal(dma.STATUS_SUCCESS,
      a:AllocateAdapterChannel(dev, nmr, function() error("driver bug 2") end))
    ok, err = pcall(x.FreeMapRegisters, x, held, xnmr)
    assert.is_false(ok)
    assert.matches("driver bug 2", err)
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.equal(0, x:stats().map_registers_held)
    -- consistent: the whole pool can be had again, and the device may ask again
    local ran = false
    a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
      ran = true
      a:FreeMapRegisters(base, nmr)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.is_true(ran)
    assert.are.same({}, m:reports())
  end)

  it("ends its mappings without a report the driver did not cause", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, verifier = "record" }
    local a, nmr, dev = packet(m)
    local b, mdl = built(m, 2 * PAGE)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local logical
    local ok, err = pcall(a.AllocateAdapterChannel, a, dev, nmr, function(_, _, base)
      logical = a:MapTransfer(mdl, base, b.va, b.length, true)
      error("driver bug 3")
    end)
    assert.is_false(ok)
    assert.matches("driver bug 3", err)
    assert.are.same({}, m:reports())  -- no FreeMapRegisters was called: no 0x10
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.equal(0, m:stats().dma_mappings)
    assert.is_nil(m:device_read(logical, 1))
    assert.are.same({}, m:check_leaks())
  end)

  it("must return an IO_ALLOCATION_ACTION", function()
    m = machine {}
    local a, nmr, dev = packet(m)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.AllocateAdapterChannel, a, dev, nmr, function() return 7 end)
    assert.is_false(ok)
    assert.matches("AdapterControl must return KeepObject, DeallocateObject or "
                   .. "DeallocateObjectKeepRegisters", err)
    assert.are.equal(0, a:stats().map_registers_held)
  end)
end)
