-- The adapter channel (reference 1.3): AllocateAdapterChannel, the three
-- IO_ALLOCATION_ACTIONs, FreeAdapterChannel and FreeMapRegisters.
local dma = require "dma"
local support = require "support"

local KiB = 1024

local machine, packet, ask, p1s = support.machine, support.packet, support.ask, support.p1s

describe("AllocateAdapterChannel", function()
  local m
  after_each(function() m = support.close(m) end)

  it("calls AdapterControl(DeviceObject, Irp, MapRegisterBase, Context) at DISPATCH_LEVEL", function()
    m = machine {}
    local a, nmr, dev = packet(m, "disk0")
    local ctx = { "context" }
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local got
    local status = a.DmaOperations.AllocateAdapterChannel(a, dev, nmr, function(d, irp, base, c, extra)
      got = { d = d, irp = irp, base = base, c = c, extra = extra, irql = dma.KeGetCurrentIrql() }
      a:FreeMapRegisters(base, nmr)
      return dma.DeallocateObjectKeepRegisters
    end, ctx)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    assert.are.equal(dev, got.d)
    assert.is_nil(got.irp)
    assert.are.equal("userdata", type(got.base))
    assert.are.equal(ctx, got.c)
    assert.is_nil(got.extra)
    assert.are.equal(dma.DISPATCH_LEVEL, got.irql)
    assert.are.equal(1, a:stats().channel_grants)
  end)

  it("KeepObject keeps the channel: another device's request waits for FreeAdapterChannel", function()
    m = machine { map_registers = 16 }
    local a, nmr, dev1 = packet(m, "ch0")
    local dev2 = m:device { name = "ch1" }
    local log = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    ask(a, dev1, nmr, log, "first", dma.KeepObject)
    local second = ask(a, dev2, nmr, log, "second")
    assert.are.equal(dma.STATUS_SUCCESS, second.status)
    assert.are.same({ "first" }, log)
    assert.are.equal(16, a:stats().map_registers_held)
    a:FreeAdapterChannel()
    assert.are.same({ "first", "second" }, log)
    assert.are.equal(nmr, a:stats().map_registers_held)  -- the first's are gone
    assert.are.equal(0, a:stats().channel_waits)         -- ...before the second asked for its own
    a:FreeMapRegisters(second.base, nmr)
    assert.are.equal(0, a:stats().map_registers_held)
  end)

  it("KeepObject keeps the channel when the registers alone are freed", function()
    m = machine { verifier = "record" }
    local a, nmr, dev1 = packet(m, "ch0")
    local dev2 = m:device { name = "ch1" }
    local log = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local first = ask(a, dev1, nmr, log, "first", dma.KeepObject)
    local second = ask(a, dev2, 1, log, "second")
    a:FreeMapRegisters(first.base, nmr)
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.same({ "first" }, log)  -- the channel is still kept
    a:FreeAdapterChannel()
    assert.are.same({ "first", "second" }, log)
    a:FreeMapRegisters(second.base, 1)
    assert.are.same({}, m:reports())
  end)

  it("DeallocateObject frees channel and registers at once; the next waiter runs", function()
    m = machine { map_registers = 8 }
    local X, _, dx = packet(m, "X")
    local A, _, d1 = packet(m, "A1")
    local d2 = m:device { name = "A2" }
    local log = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local hx = ask(X, dx, 8, log, "X")
    ask(A, d1, 8, log, "A1", dma.DeallocateObject)  -- owns A's channel, waits for registers
    local h2 = ask(A, d2, 4, log, "A2")                -- waits for A's channel
    assert.are.same({ "X" }, log)
    X:FreeMapRegisters(hx.base, 8)
    assert.are.same({ "X", "A1", "A2" }, log)
    assert.are.equal(4, A:stats().map_registers_held)  -- only A2's
    A:FreeMapRegisters(h2.base, 4)
    local again = ask(X, dx, 8, log, "X again")        -- the whole pool is free
    assert.are.equal("X again", log[4])
    X:FreeMapRegisters(again.base, 8)
  end)

  it("DeallocateObjectKeepRegisters frees the channel but keeps registers until FreeMapRegisters", function()
    m = machine { map_registers = 16 }
    local a, nmr, dev1 = packet(m, "k0")
    local dev2 = m:device { name = "k1" }
    local other, onmr, odev = packet(m, "other")
    assert.are.equal(16, onmr)
    local log = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local h1 = ask(a, dev1, 4, log, "k0")
    local h2 = ask(a, dev2, 4, log, "k1")  -- the channel is free again at once
    assert.are.same({ "k0", "k1" }, log)
    assert.are.equal(8, a:stats().map_registers_held)
    local ho = ask(other, odev, 16, log, "other")
    assert.are.same({ "k0", "k1" }, log)   -- the registers are still held
    a:FreeMapRegisters(h1.base, 4)
    assert.are.same({ "k0", "k1" }, log)
    a:FreeMapRegisters(h2.base, 4)
    assert.are.same({ "k0", "k1", "other" }, log)
    other:FreeMapRegisters(ho.base, 16)
    assert.is_true(nmr >= 4)
  end)

  it("refuses more registers than IoGetDmaAdapter gave: STATUS_INSUFFICIENT_RESOURCES, 0x0C", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = packet(m, "big", 16 * KiB)
    assert.are.equal(5, nmr)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ran = false
    local status = a:AllocateAdapterChannel(dev, nmr + 1, function()
      ran = true
      return dma.DeallocateObject
    end)
    assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES, status)
    assert.is_false(ran)
    assert.are.same({ 0x0C }, p1s(m))
    assert.matches("AllocateAdapterChannel", m:reports()[1].message)
    -- the device has no request outstanding: the next one is served
    local log = {}
    local h = ask(a, dev, nmr, log, "ok")
    assert.are.same({ "ok" }, log)
    a:FreeMapRegisters(h.base, nmr)
    assert.are.same({ 0x0C }, p1s(m))
    assert.is_false(ran)
  end)

  it("allows one outstanding request per device (0x0B), and none from inside AdapterControl", function()
    m = machine { verifier = "record", map_registers = 8 }
    local X, _, dx = packet(m, "X")
    local a, _, dev = packet(m, "busy")
    local log = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local hx = ask(X, dx, 8, log, "X")
    local h1 = ask(a, dev, 2, log, "first")  -- waits for registers
    local h2 = ask(a, dev, 1, log, "second")
    assert.are.equal(dma.STATUS_DEVICE_BUSY, h2.status)
    assert.are.same({ 0x0B }, p1s(m))
    X:FreeMapRegisters(hx.base, 8)
    assert.are.same({ "X", "first" }, log)  -- the refused request never runs
    a:FreeMapRegisters(h1.base, 2)
    local inner
    a:AllocateAdapterChannel(dev, 1, function(_, _, base)
      inner = a:AllocateAdapterChannel(m:device(), 1, function() log[#log + 1] = "inner" end)
      a:FreeMapRegisters(base, 1)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.are.equal(dma.STATUS_DEVICE_BUSY, inner)
    assert.are.same({ 0x0B, 0x0B }, p1s(m))
    assert.are.same({ "X", "first" }, log)
  end)

  it("checks FreeMapRegisters counts (0x05), double frees (0x05) and FreeAdapterChannel (0x04)", function()
    m = machine { verifier = "record" }
    local a, nmr, dev = packet(m, "f0")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local h = ask(a, dev, 3, {}, "f0")
    a:FreeMapRegisters(h.base, 2)
    assert.are.same({ 0x05 }, p1s(m))
    assert.matches("frees 2 map registers but 3 were allocated", m:reports()[1].message)
    assert.are.equal(0, a:stats().map_registers_held)  -- freed anyway
    a:FreeMapRegisters(h.base, 3)
    assert.are.same({ 0x05, 0x05 }, p1s(m))
    assert.matches("already freed", m:reports()[2].message)
    a:FreeAdapterChannel()
    assert.are.same({ 0x05, 0x05, 0x04 }, p1s(m))
    assert.matches("FreeAdapterChannel", m:reports()[3].message)
    local k = ask(a, dev, nmr, {}, "kept", dma.KeepObject)
    a:FreeAdapterChannel()
    a:FreeAdapterChannel()
    assert.are.same({ 0x05, 0x05, 0x04, 0x04 }, p1s(m))
    assert.is_not_nil(k.base)
  end)
end)
