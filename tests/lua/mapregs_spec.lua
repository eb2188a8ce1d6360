-- Map registers (reference 1.2, 1.3): one page each below 16 MiB,
-- allocated in contiguous runs, waiters served from one strict FIFO with
-- head-of-line blocking.
local dma = require "dma"
local support = require "support"

local MiB = 1 << 20

local machine, packet, ask = support.machine, support.packet, support.ask

describe("map registers", function()
  local m
  after_each(function() m = support.close(m) end)

  it("are pages below 16 MiB: a 32-bit device's bounce lands there", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 3 }
    local a, nmr, dev = packet(m, "nic0")
    local b = m:buffer(3 * 4096, { offset = 0x80 })
    b:write(0, dma.pattern(b.length, 5))
    local mdl = dma.IoAllocateMdl(b.va, b.length)
    dma.MmBuildMdlForNonPagedPool(mdl)
    assert.is_true(b:pa(0) >= 4 << 30)  -- the buffer is above the device's reach
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local logical, len
    a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
      logical, len = a:MapTransfer(mdl, base, b.va, b.length, true)
      assert.are.equal(b:read(), m:device_read(logical, len))
      a:FlushAdapterBuffers(mdl, base, b.va, len, true)
      a:FreeMapRegisters(base, nmr)
      return dma.DeallocateObjectKeepRegisters
    end)
    assert.are.equal(b.length, len)
    assert.is_true(logical + len <= 16 * MiB)
    assert.are.equal(0x80, logical % 4096)  -- the byte offset is kept in the register page
    assert.are.equal(b.length, a:stats().bytes_bounced)
  end)

  it("need a contiguous run: 6 free in two pieces do not serve a request for 4", function()
    m = machine { map_registers = 8 }
    local log = {}
    local A, _, da = packet(m, "A")
    local B, _, db = packet(m, "B")
    local C, _, dc = packet(m, "C")
    local D, _, dd = packet(m, "D")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ha, hb, hc = ask(A, da, 3, log, "A"), ask(B, db, 2, log, "B"), ask(C, dc, 3, log, "C")
    assert.are.same({ "A", "B", "C" }, log)
    A:FreeMapRegisters(ha.base, 3)
    C:FreeMapRegisters(hc.base, 3)
    local hd = ask(D, dd, 4, log, "D")
    assert.are.equal(dma.STATUS_SUCCESS, hd.status)
    assert.are.same({ "A", "B", "C" }, log)  -- 6 free, no run of 4
    assert.are.equal(1, D:stats().channel_waits)
    B:FreeMapRegisters(hb.base, 2)
    assert.are.same({ "A", "B", "C", "D" }, log)
    D:FreeMapRegisters(hd.base, 4)
  end)

  for _, how in ipairs { "KeepObject", "DeallocateObjectKeepRegisters" } do
    it("serve waiters strictly FIFO with head-of-line blocking (A keeps 6 by " .. how .. ")", function()
      m = machine { map_registers = 8 }
      local log = {}
      local A, _, da = packet(m, "A")
      local B, _, db = packet(m, "B")
      local C, _, dc = packet(m, "C")
      dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
      local ha = ask(A, da, 6, log, "A", dma[how])
      local hb = ask(B, db, 4, log, "B")
      local hc = ask(C, dc, 1, log, "C")
      assert.are.same({ "A" }, log)  -- C waits behind B though 2 registers are free
      assert.are.equal(6, A:stats().map_registers_held)
      if how == "KeepObject" then A:FreeAdapterChannel() else A:FreeMapRegisters(ha.base, 6) end
      assert.are.same({ "A", "B", "C" }, log)
      assert.are.equal(0, A:stats().map_registers_held)
      B:FreeMapRegisters(hb.base, 4)
      C:FreeMapRegisters(hc.base, 1)
    end)
  end

  it("keep the head blocking when registers come free that it cannot use", function()
    m = machine { map_registers = 8 }
    local log = {}
    local A, _, da = packet(m, "A")
    local X, _, dx = packet(m, "X")
    local B, _, db = packet(m, "B")
    local C, _, dc = packet(m, "C")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ha, hx = ask(A, da, 5, log, "A"), ask(X, dx, 1, log, "X")
    local hb, hc = ask(B, db, 4, log, "B"), ask(C, dc, 1, log, "C")
    X:FreeMapRegisters(hx.base, 1)
    assert.are.same({ "A", "X" }, log)  -- 3 free: B still cannot run, so C may not
    A:FreeMapRegisters(ha.base, 5)
    assert.are.same({ "A", "X", "B", "C" }, log)
    B:FreeMapRegisters(hb.base, 4)
    C:FreeMapRegisters(hc.base, 1)
  end)

  it("serve several adapters in the order they asked", function()
    m = machine { map_registers = 8 }
    local log, ads = {}, {}
    for i, name in ipairs { "X", "P", "Q", "R", "S" } do
      local a, _, dev = packet(m, name)
      ads[i] = { a = a, dev = dev, name = name }
    end
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local hx = ask(ads[1].a, ads[1].dev, 8, log, "X")
    local want = { 3, 2, 3, 1 }
    local held = {}
    for i = 2, 5 do held[i] = ask(ads[i].a, ads[i].dev, want[i - 1], log, ads[i].name) end
    assert.are.same({ "X" }, log)
    ads[1].a:FreeMapRegisters(hx.base, 8)
    assert.are.same({ "X", "P", "Q", "R" }, log)  -- 3+2+3 = 8: S (1) waits for the next free
    ads[3].a:FreeMapRegisters(held[3].base, 2)
    assert.are.same({ "X", "P", "Q", "R", "S" }, log)
    for _, i in ipairs { 2, 4, 5 } do ads[i].a:FreeMapRegisters(held[i].base, want[i - 1]) end
  end)
end)
