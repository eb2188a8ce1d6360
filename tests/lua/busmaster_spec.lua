-- The built-in bus-master DMA device (m:busmaster): driven at register level
-- by a tiny Lua driver that maps the BAR, gets an adapter, maps buffers with
-- AllocateAdapterChannel/MapTransfer, programs the registers and connects an
-- ISR that reads and acknowledges STATUS. Single, S/G and ring modes, the
-- storage medium, timing, every device limit and every injected fault.
local dma = require "dma"
local support = require "support"

local R = dma.busmaster_registers
local KiB, GiB = 1024, 1 << 30
local NS = 1000000000

local machine = support.machine

-- ceil(bytes * 1e9 / bandwidth): the time the device takes to move bytes.
local function xfer_ns(bytes, bandwidth)
  return (bytes * NS + bandwidth - 1) // bandwidth
end

-- ---- a tiny driver -----------------------------------------------------------

local Driver = {}
Driver.__index = Driver

-- Maps the BAR, gets an adapter (packet-based, 64-bit unless bits = 32) and
-- connects the ISR on the device's resources.
local function driver(m, hw, opts)
  opts = opts or {}
  local d = setmetatable({ m = m, hw = hw, calls = {} }, Driver)
  local mem, irq = hw.resources.memory, hw.resources.interrupt
  d.regs = dma.MmMapIoSpace(mem.start, mem.length, dma.MmNonCached)
  d.adapter, d.nmr = dma.IoGetDmaAdapter(hw.device, {
    Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, ScatterGather = false,
    Dma32BitAddresses = true, Dma64BitAddresses = opts.bits ~= 32, InterfaceType = dma.PCIBus,
    MaximumLength = 64 * KiB })
  local status
  status, d.interrupt = dma.IoConnectInterrupt(function(_, self) return self:isr() end, d, nil,
                                               irq.vector, irq.level, irq.level,
                                               dma.LevelSensitive, false, 1, false)
  assert(status == dma.STATUS_SUCCESS)
  return d
end

function Driver:read(reg) return dma.READ_REGISTER_ULONG(self.regs + reg) end

function Driver:write(reg, value) dma.WRITE_REGISTER_ULONG(self.regs + reg, value) end

-- The ISR: records what it finds; claims and acknowledges DONE/ERROR (and
-- SHORT); finding neither, the interrupt is not its device's.
function Driver:isr()
  local status = self:read(R.STATUS)
  self.calls[#self.calls + 1] = { now = self.m.now, status = status, irql = dma.KeGetCurrentIrql(),
                                  bytes = self:read(R.BYTES_DONE), code = self:read(R.ERROR_CODE) }
  if status & (R.DONE | R.ERROR) == 0 then return false end
  self:write(R.STATUS, status & (R.DONE | R.ERROR | R.SHORT))
  return true
end

-- Maps a buffer for one transfer: AllocateAdapterChannel at DISPATCH_LEVEL,
-- then MapTransfer over the whole buffer (contiguous buffers map in one go).
function Driver:map(b, to_device)
  local mdl = dma.IoAllocateMdl(b.va, b.length)
  dma.MmBuildMdlForNonPagedPool(mdl)
  local t = { b = b, mdl = mdl, to_device = to_device }
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  self.adapter:AllocateAdapterChannel(self.hw.device, self.nmr, function(_, _, base)
    t.base = base
    t.logical, t.length = self.adapter:MapTransfer(mdl, base, b.va, b.length, to_device)
    return dma.DeallocateObjectKeepRegisters
  end, nil)
  dma.KeLowerIrql(old)
  assert(t.length == b.length, "the buffer did not map in one transfer")
  return t
end

-- Ends a mapped transfer: FlushAdapterBuffers, FreeMapRegisters, IoFreeMdl.
function Driver:unmap(t)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  self.adapter:FlushAdapterBuffers(t.mdl, t.base, t.b.va, t.length, t.to_device)
  self.adapter:FreeMapRegisters(t.base, self.nmr)
  dma.KeLowerIrql(old)
  dma.IoFreeMdl(t.mdl)
end

-- Programs one single-mode command and starts it.
function Driver:single(logical, length, offset, to_device)
  self:write(R.ADDR_LO, logical & 0xFFFFFFFF)
  self:write(R.ADDR_HI, logical >> 32)
  self:write(R.LENGTH, length)
  self:write(R.OFFSET_LO, offset & 0xFFFFFFFF)
  self:write(R.OFFSET_HI, offset >> 32)
  self:write(R.CONTROL, R.START | R.IRQ_ENABLE | R.MODE_SINGLE | (to_device and R.TO_DEVICE or 0))
end

-- A whole transfer of buffer b to or from the medium at offset: map,
-- program, run the machine, unmap. Returns the ISR's record (or nil).
function Driver:transfer(b, offset, to_device)
  local n = #self.calls
  local t = self:map(b, to_device)
  self:single(t.logical, t.length, offset, to_device)
  self.m:run()
  self:unmap(t)
  return self.calls[n + 1]
end

-- A contiguous buffer holding a pattern.
local function buffer(m, len, seed, opts)
  local b = m:buffer(len, opts or { alloc = "contiguous" })
  b:write(0, dma.pattern(len, seed))
  return b
end

local function fields(records, ...)
  local names, out = { ... }, {}
  for i, r in ipairs(records) do
    local row = {}
    for k, name in ipairs(names) do row[k] = r[name] end
    out[i] = row
  end
  return out
end

-- ---- the device --------------------------------------------------------------

describe("m:busmaster", function()
  local m
  after_each(function() m = support.close(m) end)

  it("names its registers and bits as a C header would", function()
    assert.are.same({ 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x2C,
                      0x30, 0x34, 0x38, 0x3C },
                    { R.CONTROL, R.STATUS, R.ADDR_LO, R.ADDR_HI, R.LENGTH, R.OFFSET_LO,
                      R.OFFSET_HI, R.BYTES_DONE, R.DESC_LO, R.DESC_HI, R.DESC_COUNT,
                      R.ERROR_CODE, R.RING_TAIL, R.RING_HEAD, R.MAX_TRANSFER, R.MAX_SG })
    assert.are.same({ 1, 2, 4, 8, 0, 0x10, 0x20, 1, 2, 4, 8, 0x80000000, 1, 2 },
                    { R.START, R.TO_DEVICE, R.IRQ_ENABLE, R.RESET, R.MODE_SINGLE, R.MODE_SG,
                      R.MODE_RING, R.BUSY, R.DONE, R.ERROR, R.SHORT, R.DESC_OWNED,
                      R.DESC_TO_DEVICE, R.DESC_INTERRUPT })
    assert.is_nil(dma.CONTROL)  -- in its own table, not among the WDK names
  end)

  it("is a device model with a BAR, an interrupt and its limits in registers", function()
    m = machine {}
    local hw = m:busmaster { name = "disk0", vector = 19, irql = 7, max_transfer = "256K",
                             max_sg = 17 }
    assert.matches("^device model disk0 ", tostring(hw))
    assert.are.equal("disk0", hw.name)
    assert.matches("^DEVICE_OBJECT", tostring(hw.device))
    assert.are.same({ vector = 19, level = 7 }, hw.resources.interrupt)
    assert.is_true(hw.resources.memory.length >= 0x40)
    local d = driver(m, hw)
    assert.are.same({ 256 * KiB, 17, 0, 0 },
                    { d:read(R.MAX_TRANSFER), d:read(R.MAX_SG), d:read(R.STATUS), d:read(R.CONTROL) })
    d:write(R.ADDR_LO, 0x89abcdef)
    d:write(R.ADDR_HI, 0x1234)
    assert.are.equal(0x123489abcdef, dma.READ_REGISTER_ULONG64(d.regs + R.ADDR_LO))
    dma.WRITE_REGISTER_ULONG64(d.regs + R.DESC_LO, 0x5566778899)
    assert.are.same({ 0x66778899, 0x55 }, { d:read(R.DESC_LO), d:read(R.DESC_HI) })
    d:write(R.MAX_SG, 99)  -- read-only
    assert.are.equal(17, d:read(R.MAX_SG))
    local plain = m:device_model { name = "plain" }
    assert.has_error(function() plain:device_stats() end)
    assert.matches("a busmaster expected", select(2, pcall(plain.inject, plain, { kind = "hang",
                                                                                at_command = 1 })))
  end)

  it("stores what a write moves and reads it back into a cleared buffer, byte for byte", function()
    m = machine { seed = 3 }
    local hw = m:busmaster { name = "disk" }
    local d = driver(m, hw)
    local len, offset = 24 * KiB + 100, 3 * 512
    local b = buffer(m, len, 7, { alloc = "contiguous", offset = 0x40 })
    local data = b:read()
    local w = d:transfer(b, offset, true)
    assert.are.same({ R.DONE, len, 0, 5 }, { w.status, w.bytes, w.code, w.irql })
    assert.are.equal(data, hw:medium_read(offset, len))
    assert.are.equal(string.rep("\0", 512), hw:medium_read(offset - 512, 512))  -- untouched
    b:fill(0)
    assert.are_not.equal(data, b:read())
    local r = d:transfer(b, offset, false)
    assert.are.same({ R.DONE, len, 0 }, { r.status, r.bytes, r.code })
    assert.is_true(b:compare(0, data))
    assert.are.same({ commands = 2, bytes = 2 * len, errors = 0, faults = 0, interrupts = 2 },
                    hw:device_stats())
    local s = m:run_stats()
    assert.are.same({ 2, 2 * len, 2, 0 }, { s.transfers, s.bytes_moved, s.isrs, s.interrupts_unclaimed })
    local starts, ends = m:trace("dma_start"), m:trace("dma_end")
    assert.are.same({ { hw.id, b:pa(0), len }, { hw.id, b:pa(0), len } }, fields(starts, "obj", "a", "b"))
    assert.are.same({ { hw.id, len, 0 }, { hw.id, len, 0 } }, fields(ends, "obj", "a", "b"))
    assert.are.same({}, m:reports())
  end)

  it("completes after setup_latency + bytes/bandwidth, the ISR interrupt_latency later", function()
    m = machine { interrupt_latency = "5us" }
    local bw = 800 * (1 << 20)
    local hw = m:busmaster { bandwidth = "800M", setup_latency = "3us" }
    local d = driver(m, hw)
    local len = 10000
    local b = buffer(m, len, 1)
    local t = d:map(b, true)
    m:run_until(1000)
    d:single(t.logical, len, 0, true)
    local done = 1000 + 3000 + xfer_ns(len, bw)
    m:run_until(done - 1)
    assert.are.equal(R.BUSY, d:read(R.STATUS))
    assert.are.equal(R.START, d:read(R.CONTROL) & R.START)  -- reads 1 while busy
    assert.are.equal(string.rep("\0", 16), hw:medium_read(0, 16))  -- bytes move at completion
    m:run()
    d:unmap(t)
    assert.are.equal(done, m:trace("dma_end")[1].time)
    assert.are.equal(1000, m:trace("dma_start")[1].time)
    assert.are.same({ { now = done + 5000, status = R.DONE, bytes = len, code = 0, irql = 5 } }, d.calls)
    assert.are.equal(0, d:read(R.CONTROL) & R.START)
    -- an integer bandwidth and latency in ns
    local hw2 = m:busmaster { bandwidth = 1000000, setup_latency = 250, vector = 30 }
    local d2 = driver(m, hw2)
    local t2 = d2:map(b, true)
    local start = m.now
    d2:single(t2.logical, 1000, 0, true)
    m:run()
    d2:unmap(t2)
    assert.are.equal(start + 250 + 1000000, m:trace("dma_end")[2].time)
  end)

  it("keeps the medium sparse: hw:medium_write is what a read brings back", function()
    m = machine {}
    local hw = m:busmaster { capacity = "1T" }
    local d = driver(m, hw)
    local far = 512 * GiB + 4096
    hw:medium_write(far, "hello, medium")
    local b = buffer(m, 64, 1)
    d:transfer(b, far - 8, false)
    assert.are.equal(string.rep("\0", 8) .. "hello, medium" .. string.rep("\0", 43), b:read())
    assert.are.equal(string.rep("\0", 32), hw:medium_read(1 << 39, 32))
    assert.has_error(function() hw:medium_read((1 << 40) - 4, 8) end)
    assert.has_error(function() hw:medium_write(1 << 40, "x") end)
  end)

  it("goes through bounce pages as the adapter made them (32-bit device, RAM above 4 GiB)", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "4G" } }, seed = 5 }
    local hw = m:busmaster { address_width = 32 }
    local d = driver(m, hw, { bits = 32 })
    local b = buffer(m, 16 * KiB, 9)
    local data = b:read()
    local t = d:map(b, true)
    assert.is_true(t.logical < 1 << 32 and b:pa(0) >= 1 << 32)  -- a bounce
    d:single(t.logical, t.length, 0, true)
    m:run()
    d:unmap(t)
    assert.are.equal(data, hw:medium_read(0, b.length))
    b:fill(0xEE)
    t = d:map(b, false)
    d:single(t.logical, t.length, 0, false)
    m:run()
    assert.are.equal(string.rep("\xEE", 16), b:read(0, 16))  -- in the bounce until the flush
    d:unmap(t)
    assert.is_true(b:compare(0, data))
    assert.are.same({ R.DONE, R.DONE }, { d.calls[1].status, d.calls[2].status })
    assert.are.same({}, m:reports())
  end)
end)

-- ---- scatter/gather and ring modes ----------------------------------------------

describe("busmaster S/G mode", function()
  local m
  after_each(function() m = support.close(m) end)

  it("moves the elements of a table in a common buffer, in order, at OFFSET", function()
    m = machine { seed = 11 }
    local bw = 1 << 30
    local hw = m:busmaster {}
    local d = driver(m, hw)
    local sizes = { 4096 + 12, 100, 8 * KiB }
    local bufs, maps, total = {}, {}, 0
    for i, n in ipairs(sizes) do
      bufs[i] = buffer(m, n, 20 + i)
      maps[i] = d:map(bufs[i], true)
      total = total + n
    end
    local va, logical = d.adapter:AllocateCommonBuffer(4096, false)
    for i, t in ipairs(maps) do
      m:write(va + (i - 1) * 16, string.pack("<I8I4I4", t.logical, t.length, 0))
    end
    d:write(R.DESC_LO, logical & 0xFFFFFFFF)
    d:write(R.DESC_HI, logical >> 32)
    d:write(R.DESC_COUNT, #sizes)
    d:write(R.OFFSET_LO, 4096)
    d:write(R.OFFSET_HI, 0)
    local start = m.now
    d:write(R.CONTROL, R.START | R.TO_DEVICE | R.IRQ_ENABLE | R.MODE_SG)
    m:run()
    for _, t in ipairs(maps) do d:unmap(t) end
    assert.are.equal(bufs[1]:read() .. bufs[2]:read() .. bufs[3]:read(), hw:medium_read(4096, total))
    assert.are.same({ R.DONE, total, 0 }, { d.calls[1].status, d.calls[1].bytes, d.calls[1].code })
    assert.are.equal(start + 2000 + xfer_ns(total, bw), m:trace("dma_end")[1].time)
    assert.are.same({ maps[1].logical, total }, { m:trace("dma_start")[1].a, m:trace("dma_start")[1].b })
    -- and back, into cleared buffers
    for i, b in ipairs(bufs) do
      b:fill(0)
      maps[i] = d:map(b, false)
      m:write(va + (i - 1) * 16, string.pack("<I8I4I4", maps[i].logical, maps[i].length, 0))
    end
    d:write(R.CONTROL, R.START | R.IRQ_ENABLE | R.MODE_SG)
    m:run()
    for _, t in ipairs(maps) do d:unmap(t) end
    assert.are.equal(hw:medium_read(4096, total), bufs[1]:read() .. bufs[2]:read() .. bufs[3]:read())
    assert.are.equal(dma.pattern(100, 22), bufs[2]:read())
    d.adapter:FreeCommonBuffer(4096, logical, va, false)
    assert.are.same({}, m:reports())
  end)
end)

describe("busmaster ring mode", function()
  local m
  after_each(function() m = support.close(m) end)

  local DESC = "<I8I4I4I8I4I4"

  it("processes three descriptors one after the other, writing each back", function()
    m = machine { seed = 12 }
    local bw = 1 << 30
    local hw = m:busmaster { setup_latency = "1us" }
    local d = driver(m, hw)
    local a, b, c = buffer(m, 8 * KiB, 1), buffer(m, 2 * KiB, 2), m:buffer(8 * KiB, { alloc = "contiguous" })
    local ma, mb, mc = d:map(a, true), d:map(b, true), d:map(c, false)
    local va, ring = d.adapter:AllocateCommonBuffer(4 * 32, false)
    local descs = {
      { ma.logical, a.length, R.DESC_OWNED | R.DESC_TO_DEVICE, 0 },
      { mb.logical, b.length, R.DESC_OWNED | R.DESC_TO_DEVICE | R.DESC_INTERRUPT, 64 * KiB },
      { mc.logical, c.length, R.DESC_OWNED | R.DESC_INTERRUPT, 0 },
    }
    for i, e in ipairs(descs) do
      m:write(va + (i - 1) * 32, string.pack(DESC, e[1], e[2], e[3], e[4], 0xdead, 0xbeef))
    end
    d:write(R.DESC_LO, ring & 0xFFFFFFFF)
    d:write(R.DESC_HI, ring >> 32)
    d:write(R.DESC_COUNT, 4)
    d:write(R.CONTROL, R.IRQ_ENABLE | R.MODE_RING)
    local start = m.now
    d:write(R.RING_TAIL, 3)  -- the doorbell
    assert.are.equal(R.BUSY, d:read(R.STATUS) & R.BUSY)
    m:run()
    for _, t in ipairs { ma, mb, mc } do d:unmap(t) end
    for i, e in ipairs(descs) do
      local addr, len, flags, offset, done, status = string.unpack(DESC, m:read(va + (i - 1) * 32, 32))
      assert.are.same({ e[1], e[2], e[3] & ~R.DESC_OWNED, e[4], e[2], 0 },
                      { addr, len, flags, offset, done, status }, "descriptor " .. i)
    end
    assert.are.equal(3, d:read(R.RING_HEAD))
    assert.are.equal(a:read(), hw:medium_read(0, a.length))
    assert.are.equal(b:read(), hw:medium_read(64 * KiB, b.length))
    assert.is_true(c:compare(0, a:read()))
    local ends, t = m:trace("dma_end"), start
    assert.are.equal(3, #ends)
    for i, e in ipairs(descs) do
      t = t + 1000 + xfer_ns(e[2], bw)
      assert.are.equal(t, ends[i].time, "descriptor " .. i)
    end
    -- interrupts only for the descriptors that asked (2 and 3)
    assert.are.equal(2, #d.calls)
    assert.are.equal(ends[2].time + 1000, d.calls[1].now)
    assert.are.equal(3, hw:device_stats().commands)
    assert.are.equal(2, hw:device_stats().interrupts)
    -- a descriptor the driver does not own stops the device until the next doorbell
    m:write(va + 3 * 32, string.pack(DESC, ma.logical, 16, R.DESC_TO_DEVICE, 0, 0, 0))
    d:write(R.RING_TAIL, 0)
    m:run()
    assert.are.same({ 3, 0, 3 }, { d:read(R.RING_HEAD), d:read(R.STATUS) & R.BUSY,
                                   hw:device_stats().commands })
    d:write(R.RING_TAIL, 4)  -- outside the ring
    assert.are.same({ R.ERROR, R.ERR_LIMIT }, { d:read(R.STATUS) & R.ERROR, d:read(R.ERROR_CODE) })
    d:write(R.CONTROL, R.RESET | R.MODE_RING)  -- back to an empty ring at 0
    assert.are.same({ 0, 0, 0, R.MODE_RING }, { d:read(R.RING_HEAD), d:read(R.RING_TAIL),
                                                d:read(R.STATUS), d:read(R.CONTROL) })
    d.adapter:FreeCommonBuffer(4 * 32, ring, va, false)
    assert.are.same({}, m:reports())
  end)
end)

-- ---- limits ------------------------------------------------------------------

describe("busmaster limits", function()
  local m
  after_each(function() m = support.close(m) end)

  -- One command on a fresh device with `config`; returns the ISR's record,
  -- the medium's first bytes and the buffer's bytes afterwards.
  local function attempt(config, len, opts)
    opts = opts or {}
    if m then m:close() end
    m = machine(opts.machine or { seed = 31 })
    local hw = m:busmaster(config)
    local d = driver(m, hw, { bits = opts.bits })
    local b = buffer(m, len, 4, opts.buffer)
    local before = b:read()
    local t = d:map(b, opts.to_device ~= false)
    d:single(t.logical, opts.length or len, opts.offset or 0, opts.to_device ~= false)
    m:run()
    d:unmap(t)
    return d.calls[1], hw:medium_read(0, 64), b:read() == before, hw
  end

  local ZERO = string.rep("\0", 64)

  it("max_transfer: a longer command is ERROR with code 3 and moves nothing", function()
    local call, medium, _, hw = attempt({ max_transfer = "8K" }, 8 * KiB + 512)
    assert.are.same({ R.ERROR, 3, 0 }, { call.status, call.code, call.bytes })
    assert.are.equal(ZERO, medium)
    assert.are.same({ 1, 0, 3 }, { hw:device_stats().errors, hw:device_stats().bytes,
                                    m:trace("dma_end")[1].b })
    assert.are.equal(2000, m:trace("dma_end")[1].time - m:trace("dma_start")[1].time)
    call = attempt({ max_transfer = "8K" }, 8 * KiB)
    assert.are.same({ R.DONE, 0 }, { call.status, call.code })
  end)

  it("max_sg: a table with more elements is ERROR with code 3", function()
    m = machine {}
    local hw = m:busmaster { max_sg = 2 }
    local d = driver(m, hw)
    local b = buffer(m, 3 * 512, 1)
    local t = d:map(b, true)
    local va, logical = d.adapter:AllocateCommonBuffer(4096, false)
    for i = 0, 2 do m:write(va + i * 16, string.pack("<I8I4I4", t.logical + i * 512, 512, 0)) end
    d:write(R.DESC_LO, logical & 0xFFFFFFFF)
    d:write(R.DESC_HI, logical >> 32)
    for _, count in ipairs { 3, 2 } do
      d:write(R.DESC_COUNT, count)
      d:write(R.CONTROL, R.START | R.TO_DEVICE | R.IRQ_ENABLE | R.MODE_SG)
      m:run()
    end
    d:unmap(t)
    d.adapter:FreeCommonBuffer(4096, logical, va, false)
    assert.are.same({ { R.ERROR, 3, 0 }, { R.DONE, 0, 1024 } }, fields(d.calls, "status", "code", "bytes"))
    assert.are.equal(b:read(0, 1024), hw:medium_read(0, 1024))
  end)

  it("capacity: OFFSET + length beyond the medium is ERROR with code 3", function()
    local call = attempt({ capacity = "64K" }, 4096, { offset = 62 * KiB })
    assert.are.same({ R.ERROR, 3 }, { call.status, call.code })
    call = attempt({ capacity = "64K" }, 4096, { offset = 60 * KiB })
    assert.are.same({ R.DONE, 0 }, { call.status, call.code })
  end)

  it("address_width: an address beyond it is ERROR with code 4, memory untouched", function()
    -- the driver wrongly declared 64-bit addressing for a 32-bit device
    local opts = { machine = { ram = { { "4G", "4G" } }, verifier = "record" }, to_device = false }
    local call, _, untouched, hw = attempt({ address_width = 32 }, 4096, opts)
    assert.are.same({ R.ERROR, 4, 0 }, { call.status, call.code, call.bytes })
    assert.is_true(untouched)
    assert.are.same({}, m:reports())
    assert.are.equal(0, hw:device_stats().bytes)
    call, _, untouched = attempt({ address_width = 33 }, 4096, opts)
    assert.are.same({ R.DONE, 0 }, { call.status, call.code })
    assert.is_false(untouched)
  end)

  it("alignment: a misaligned address or length is ERROR with code 5", function()
    local call, medium = attempt({ alignment = 64 }, 4096,
                                 { buffer = { alloc = "contiguous", offset = 0x20 } })
    assert.are.same({ R.ERROR, 5 }, { call.status, call.code })
    assert.are.equal(ZERO, medium)
    call = attempt({ alignment = 64 }, 4096, { length = 4000 })
    assert.are.same({ R.ERROR, 5 }, { call.status, call.code })
    call = attempt({ alignment = 64 }, 4096, { buffer = { alloc = "contiguous", offset = 0x40 } })
    assert.are.same({ R.DONE, 0 }, { call.status, call.code })
  end)

  it("an unmapped address is ERROR with code 1 and a verifier report 0x26", function()
    m = machine { verifier = "record" }
    local hw = m:busmaster { name = "rogue" }
    local d = driver(m, hw)
    local b = buffer(m, 4096, 1)
    d:single(b:pa(0), 4096, 0, true)  -- a physical address no one mapped
    m:run()
    assert.are.same({ R.ERROR, 1, 0 }, { d.calls[1].status, d.calls[1].code, d.calls[1].bytes })
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.same({ 0xE6, 0x26 }, { r[1].bugcheck, r[1].p1 })
    assert.matches("rogue", r[1].message)
    assert.are.equal(ZERO, hw:medium_read(0, 64))
    -- an S/G table where nothing is mapped: the device fails fetching it
    d:write(R.DESC_LO, b:pa(0) & 0xFFFFFFFF)
    d:write(R.DESC_HI, b:pa(0) >> 32)
    d:write(R.DESC_COUNT, 1)
    d:write(R.CONTROL, R.START | R.TO_DEVICE | R.IRQ_ENABLE | R.MODE_SG)
    assert.are.equal(2, #m:reports())  -- at once: the fetch is part of the start
    m:run()
    assert.are.same({ R.ERROR, 1, 0 }, { d.calls[2].status, d.calls[2].code, d.calls[2].bytes })
    assert.are.equal(0x26, m:reports()[2].p1)
  end)
end)

-- ---- injected faults -------------------------------------------------------------

describe("busmaster fault injection", function()
  local m
  after_each(function() m = support.close(m) end)

  -- A device with a driver and one mapped 4 KiB buffer; run(n) performs n
  -- write commands one after the other and returns the ISR records.
  local function rig(opts, config)
    m = machine(opts or { seed = 40 })
    local hw = m:busmaster(config or {})
    local d = driver(m, hw)
    local b = buffer(m, 4096, 5)
    local t = d:map(b, true)
    local function run(n)
      for _ = 1, n do
        d:single(t.logical, 4096, 0, true)
        m:run()
      end
      return d.calls
    end
    return hw, d, run, function() d:unmap(t) end, b
  end

  it("error: the chosen command fails with code 2 and moves nothing", function()
    local hw, d, run, done = rig()
    hw:inject { at_command = 2, kind = "error" }
    run(3)
    done()
    assert.are.same({ { R.DONE, 0, 4096 }, { R.ERROR, 2, 0 }, { R.DONE, 0, 4096 } },
                    fields(d.calls, "status", "code", "bytes"))
    local f = m:trace("fault")
    assert.are.same({ { hw.id, 1 } }, fields(f, "obj", "a"))
    assert.are.same({ commands = 3, bytes = 8192, errors = 1, faults = 1, interrupts = 3 },
                    hw:device_stats())
  end)

  it("short: half the bytes move, SHORT set, BYTES_DONE says so", function()
    local hw, d, run, done, b = rig()
    hw:inject { at_command = 1, kind = "short" }
    run(1)
    done()
    assert.are.same({ R.DONE | R.SHORT, 0, 2048 }, { d.calls[1].status, d.calls[1].code, d.calls[1].bytes })
    assert.are.equal(b:read(0, 2048) .. string.rep("\0", 2048), hw:medium_read(0, 4096))
    assert.are.equal(2048, m:trace("dma_end")[1].a)
    assert.are.equal(2, m:trace("fault")[1].a)
  end)

  it("drop_interrupt: no ISR, yet STATUS shows DONE", function()
    local hw, d, run, done = rig()
    hw:inject { at_command = 1, kind = "drop_interrupt" }
    run(1)
    assert.are.same({}, d.calls)
    assert.are.equal(R.DONE, d:read(R.STATUS))
    assert.is_false(hw.interrupt_asserted)
    assert.are.equal(0, m:run_stats().interrupts)
    d:write(R.STATUS, R.DONE)
    run(1)  -- the next one interrupts again
    done()
    assert.are.equal(1, #d.calls)
    assert.are.equal(3, m:trace("fault")[1].a)
  end)

  it("drop_interrupt at a time: the first completion at or after it", function()
    local hw, d, run, done = rig()
    hw:inject { at = "20us", kind = "drop_interrupt" }
    local ends = {}
    for _ = 1, 5 do
      run(1)
      ends[#ends + 1] = m:trace("dma_end")[#ends + 1].time
      if d:read(R.STATUS) & R.DONE ~= 0 and #d.calls < #ends then d:write(R.STATUS, R.DONE) end
    end
    done()
    local first = 0
    for i, t in ipairs(ends) do if first == 0 and t >= 20000 then first = i end end
    assert.is_true(first > 1)
    assert.are.equal(4, #d.calls)
    for i = 1, first - 1 do assert.are.equal(ends[i] + 1000, d.calls[i].now) end
    assert.are.equal(ends[first + 1] + 1000, d.calls[first].now)
    assert.are.equal(1, hw:device_stats().faults)
  end)

  it("spurious_interrupt: the ISR finds nothing and returns FALSE (unclaimed)", function()
    local hw, d, run, done = rig()
    hw:inject { at_command = 1, kind = "spurious_interrupt" }
    run(1)
    done()
    assert.are.equal(2, #d.calls)
    assert.are.same({ R.BUSY, 1000 }, { d.calls[1].status, d.calls[1].now })  -- no DONE or ERROR
    assert.are.equal(R.DONE, d.calls[2].status)
    local s = m:run_stats()
    assert.are.same({ 2, 1 }, { s.interrupts, s.interrupts_unclaimed })
    assert.is_false(hw.interrupt_asserted)
    assert.are.equal(4, m:trace("fault")[1].a)
    assert.are.equal(2, hw:device_stats().interrupts)
  end)

  it("spurious_interrupt at a time raises the line then, with no command", function()
    local hw, d, _, done = rig()
    hw:inject { at = "7us", kind = "spurious_interrupt" }
    m:run()
    done()
    assert.are.same({ { 8000, 0 } }, fields(d.calls, "now", "status"))
    assert.are.equal(1, m:run_stats().interrupts_unclaimed)
    assert.are.equal(7000, m:trace("fault")[1].time)
  end)

  it("latency: the completion comes `extra` later (default 1 ms)", function()
    local hw, d, run, done = rig()
    hw:inject { at_command = 2, kind = "latency", extra = "30us" }
    hw:inject { at_command = 3, kind = "latency" }
    run(3)
    done()
    local s, e = m:trace("dma_start"), m:trace("dma_end")
    local base = e[1].time - s[1].time
    assert.are.equal(2000 + xfer_ns(4096, 1 << 30), base)
    assert.are.equal(base + 30000, e[2].time - s[2].time)
    assert.are.equal(base + 1000000, e[3].time - s[3].time)
    assert.are.equal(e[3].time + 1000, d.calls[3].now)
    assert.are.same({ R.DONE, R.DONE, R.DONE }, { d.calls[1].status, d.calls[2].status, d.calls[3].status })
  end)

  it("latency and hang by time: at the first completion at or after it", function()
    local hw, d, run, done = rig()
    hw:inject { at = "10us", kind = "latency", extra = "40us" }
    hw:inject { at = "55us", kind = "hang" }
    local each = 2000 + xfer_ns(4096, 1 << 30)
    run(2)  -- completions at `each` and 2 * each + 1000 (after the first ISR)
    local e = m:trace("dma_end")
    assert.are.same({ each, 2 * each + 1000 + 40000 }, { e[1].time, e[2].time })
    assert.is_true(2 * each + 1000 >= 10000)
    run(1)  -- starts at the second ISR, completes after 55 us: hangs there
    m:run_until(m.now + 1000000)
    assert.are.equal(2, #m:trace("dma_end"))
    assert.are.equal(R.BUSY, d:read(R.STATUS))
    assert.are.same({ { 5, 2 * each + 1000 }, { 6, 3 * each + 2 * 1000 + 40000 } },
                    fields(m:trace("fault"), "a", "time"))
    d:write(R.CONTROL, R.RESET)
    done()
    assert.are.equal(2, hw:device_stats().faults)
  end)

  it("hang: never DONE until RESET, after which the device works again", function()
    local hw, d, run, done = rig()
    hw:inject { at_command = 1, kind = "hang" }
    run(1)
    m:run_until(m.now + 1000000000)
    assert.are.same({}, d.calls)
    assert.are.equal(R.BUSY, d:read(R.STATUS))
    assert.are.equal(R.START, d:read(R.CONTROL) & R.START)
    assert.are.same({}, m:trace("dma_end"))
    d:write(R.CONTROL, R.START | R.TO_DEVICE)  -- START while busy does nothing
    assert.are.equal(1, hw:device_stats().commands)
    d:write(R.CONTROL, R.RESET)
    assert.are.same({ 0, 0 }, { d:read(R.STATUS), d:read(R.CONTROL) })
    run(1)
    done()
    assert.are.same({ { R.DONE, 4096 } }, fields(d.calls, "status", "bytes"))
    assert.are.equal(6, m:trace("fault")[1].a)
  end)

  it("RESET clears STATUS and lowers the line", function()
    local _, d, _, done = rig()
    d.isr = function() return true end  -- an ISR that never acknowledges
    d:write(R.CONTROL, 0)
    local t = m.now
    d:single(0, 0, 0, true)  -- nothing to move
    d:write(R.CONTROL, R.MODE_SINGLE)  -- interrupts off: the line stays low
    m:run()
    assert.are.same({ R.DONE, 0 }, { d:read(R.STATUS), d:read(R.BYTES_DONE) })
    assert.are.equal(t + 2000, m:trace("dma_end")[1].time)
    d:write(R.CONTROL, R.IRQ_ENABLE)  -- now the line goes up
    assert.is_true(d.hw.interrupt_asserted)
    d:write(R.CONTROL, R.RESET | R.IRQ_ENABLE)
    assert.is_false(d.hw.interrupt_asserted)
    assert.are.same({ 0, R.IRQ_ENABLE }, { d:read(R.STATUS), d:read(R.CONTROL) })
    m:run()
    done()
    assert.are.equal(0, m:run_stats().interrupts)
  end)

  -- Which of n commands came back short, with a given seed.
  local function shorts(seed, n)
    local hw, d, run, done = rig({ seed = seed })
    hw:inject { probability = 0.3, kind = "short" }
    run(n)
    done()
    local out = {}
    for i, c in ipairs(d.calls) do out[i] = c.bytes < 4096 and 1 or 0 end
    assert.are.equal(n, #out)
    m:close()
    m = nil
    return table.concat(out)
  end

  it("probability: the same seed gives the same faults, another seed others", function()
    local a, b, c = shorts(1, 40), shorts(1, 40), shorts(2, 40)
    assert.are.equal(a, b)
    assert.are_not.equal(a, c)
    local hits = select(2, a:gsub("1", ""))
    assert.is_true(hits > 3 and hits < 25, a)
  end)

  it("rejects bad faults, naming the field", function()
    local hw, _, _, done = rig()
    done()
    local function err(f) return select(2, pcall(hw.inject, hw, f)) end
    assert.matches("field 'kind'", err { kind = "melt", at_command = 1 })
    assert.matches("field 'kind'", err { at_command = 1 })
    assert.matches("exactly one of", err { kind = "error" })
    assert.matches("exactly one of", err { kind = "error", at_command = 1, probability = 0.5 })
    assert.matches("field 'probability'", err { kind = "short", probability = 1.5 })
    assert.matches("field 'at_command'", err { kind = "short", at_command = 0 })
    assert.matches("field 'at'", err { kind = "short", at = "soon" })
    assert.matches("field 'extra'", err { kind = "short", at_command = 1, extra = 5 })
    assert.matches("unknown field 'at_cmd'", err { kind = "short", at_cmd = 1 })
    assert.is_nil(hw:inject { kind = "latency", probability = 0, extra = "5us" })
    assert.are.equal(0, hw:device_stats().faults)
  end)

  it("rejects a bad configuration, naming the field", function()
    m = machine {}
    local function err(c) return select(2, pcall(m.busmaster, m, c)) end
    assert.matches("field 'bandwidth'", err { bandwidth = 0 })
    assert.matches("field 'bandwidth'", err { bandwidth = "fast" })
    assert.matches("field 'setup_latency'", err { setup_latency = "2 weeks" })
    assert.matches("field 'max_sg'", err { max_sg = 0 })
    assert.matches("field 'address_width'", err { address_width = 65 })
    assert.matches("field 'alignment'", err { alignment = 3 })
    assert.matches("field 'sector_size'", err { sector_size = 100 })
    assert.matches("field 'vector'", err { vector = 300 })
    assert.matches("field 'irql'", err { irql = 2 })
    assert.matches("unknown field 'bandwith'", err { bandwith = "1G" })
  end)
end)
