-- xdma/model.lua: a device model, in Lua, of the Xilinx "DMA/Bridge
-- Subsystem for PCI Express" (XDMA) IP configured for AXI memory-mapped
-- (AXI-MM) transfers, as the XDMA Windows driver (xdma/driver.lua) sees it.
-- The register map is that of the driver's libxdma/reg.h (Xilinx
-- XDMA_Windows, mirrored as github.com/yiyaowen/xdma_driver_win at commit
-- 3670f57, libxdma/reg.h and libxdma/dma_engine.h) and of the product guide
-- PG195 it cites; the model implements what the driver uses.
--
-- Usage:
--   local model = require "drivers.xdma.model"
--   local hw = model.new(m, { name = "xdma0", h2c_channels = 1, c2h_channels = 1,
--                             card_memory = "16M", user_bar = "64K", bandwidth = "2G",
--                             start_latency = "500ns", descriptor_latency = "300ns",
--                             interrupt = "msi" or "line", vector = 48, irql = 8 })
--   hw.model, hw.device, hw.resources    the m:device_model, its PDO, its resources
--   hw:card_read(address, len)           the AXI-MM side (the card's memory)
--   hw:card_write(address, bytes)
--   hw:user_read(offset, len)            the user BAR's register file (AXI-Lite)
--   hw:stats()                           what the IP did
--   model.R                              register offsets, bits, identifiers
--
-- ---- PCI resources ------------------------------------------------------------
-- BAR0: the user BAR (AXI-Lite master; here a register file of user_bar
--       bytes, 64 KiB by default; user_bar = 0: none)
-- BAR1: the config BAR (the DMA's registers, 64 KiB), so the driver's
--       IdentifyBars finds the config BAR at index 1 and the user BAR at 0
--       (BAR0 without a user BAR)
-- one interrupt: a single-vector MSI (default), or with interrupt = "line"
--       INTA, level-sensitive; every channel and user vector register 0
--
-- ---- Config BAR (little-endian 32-bit registers) ------------------------------
--   0x0000 + ch*0x100  H2C engine ch    0x1000 + ch*0x100  C2H engine ch
--     +0x00 identifier  0x1FC0_0006 | dir << 16 | ch << 8 (bit 15 clear: AXI-MM)
--     +0x04 control     RW; +0x08 W1S; +0x0C W1C
--             bit 0 RUN: 0 -> 1 starts at the first descriptor (the count of
--                   completed descriptors restarts at 0); 1 -> 0 stops the engine
--                   (a descriptor in flight moves nothing)
--             bits 1..23 stop/interrupt enables (stored), bit 25 NON_INCR_ADDR
--             (stored: the model's engines always increment), bit 26 POLL_MODE:
--             write the completed count to the writeback address after every
--             descriptor
--     +0x40 status      bit 0 BUSY, 1 DESCRIPTOR_STOPPED, 2 DESCRIPTOR_COMPLETED,
--             3 ALIGN_MISMATCH, 4 MAGIC_STOPPED, 5 FETCH_STOPPED (descriptors
--             crossing 4 KiB, a next pointer that does not follow the block),
--             9..13 READ_ERROR, 14..18 WRITE_ERROR, 19..23 DESCRIPTOR_ERROR
--     +0x44 statusRC    the status, whose bits 1..23 are cleared by the read
--     +0x48 completedDescCount   +0x4C alignments (0x00010140: byte-aligned, 64-bit)
--     +0x88/+0x8C pollModeWbLo/Hi  +0x90 intEnableMask (+0x94 W1S, +0x98 W1C)
--     +0xC0 perfCtrl (bit 0 RUN, 1 CLEAR, 2 AUTO: stops at a STOP descriptor)
--     +0xC4.. perfCycLo/Hi (250 MHz cycles busy), perfDatLo/Hi (data beats of
--             16 bytes), perfPndLo/Hi (0)
--   0x2000 IRQ block: +0x00 identifier 0x1FC2_0006, +0x04/08/0C userIntEnable
--     (RW/W1S/W1C), +0x10/14/18 channelIntEnable, +0x40 userIntRequest (0: the
--     model has no user logic raising them), +0x44 channelIntRequest (bit i:
--     engine i, H2C channels first, has status & intEnableMask), +0x48
--     userIntPending, +0x4C channelIntPending (request & enable), +0x80..0x8C
--     userVector[4], +0xA0/A4 channelVector[2] (stored)
--   0x3000 config block: identifier 0x1FC3_0006, pcieMPS 1 (256 B), pcieMRRS
--     2 (512 B), pcieWidth 1 (128-bit), other registers stored
--   0x4000 + dir*0x1000 + ch*0x100 SGDMA: identifier 0x1FC4_0006 | dir << 16 |
--     ch << 8, +0x80/84 firstDescLo/Hi, +0x88 firstDescAdj, +0x8C descCredits
--   0x6000 SGDMA common: identifier 0x1FC6_0006, control and creditModeEnable
--     (RW/W1S/W1C; stored: credits matter to streaming engines only)
--   Absent engines read 0 (the driver's EngineExists probes the identifier).
--
-- ---- Descriptors (host memory, 32 bytes, dma_engine.h's DMA_DESCRIPTOR) -------
--   control (magic 0xAD4B in bits 31:16, nextAdj in 13:8, STOP bit 0,
--   COMPLETED bit 1, EOP bit 4), numBytes, srcAddrLo/Hi, dstAddrLo/Hi,
--   nextLo/Hi. The engine fetches firstDescAdj + 1 adjacent descriptors at the
--   first address in one read, then, at the last descriptor of a block, the
--   nextAdj + 1 descriptors at its next pointer. A block may not cross a 4 KiB
--   boundary and each next pointer inside a block must be the following
--   descriptor (else FETCH_STOPPED). A wrong magic is MAGIC_STOPPED. H2C
--   moves numBytes from host srcAddr (a logical address, through the
--   machine's translation) to card dstAddr; C2H from card srcAddr to host
--   dstAddr. COMPLETED sets DESCRIPTOR_COMPLETED; STOP ends the run
--   (DESCRIPTOR_STOPPED, BUSY clear).
--
-- ---- Timing and interrupts ----------------------------------------------------
-- A start costs start_latency; each block fetch descriptor_latency; each
-- descriptor numBytes / bandwidth. An engine requests its channel interrupt
-- while status & intEnableMask has a bit other than BUSY; the MSI message is
-- sent when a channel's pending bit (request & channelIntEnable) rises.
local dma = require "dma"
-- drivers/modelkit.lua, beside this folder
local kit = require(((...) or "drivers.xdma."):match("^(.-)[^.]*%.[^.]*$") .. "modelkit")

local model = {}

local XDMA_ID = 0x1FC00000
local VERSION = 6                          -- 2017.1, the version the driver expects
local R = {
  BLOCK = 0x1000, ENGINE = 0x100, IRQ_BLOCK = 0x2000, CONFIG_BLOCK = 0x3000, SGDMA_BLOCK = 0x4000,
  SGDMA_COMMON = 0x6000, CONFIG_BAR_SIZE = 0x10000,
  -- engine registers
  identifier = 0x00, control = 0x04, controlW1S = 0x08, controlW1C = 0x0C, status = 0x40, statusRC = 0x44,
  completedDescCount = 0x48, alignments = 0x4C, pollModeWbLo = 0x88, pollModeWbHi = 0x8C,
  intEnableMask = 0x90, intEnableMaskW1S = 0x94, intEnableMaskW1C = 0x98, perfCtrl = 0xC0,
  -- IRQ block
  userIntEnable = 0x04, channelIntEnable = 0x10, userIntRequest = 0x40, channelIntRequest = 0x44,
  userIntPending = 0x48, channelIntPending = 0x4C,
  -- config block
  pcieMPS = 0x08, pcieMRRS = 0x0C, pcieWidth = 0x18,
  -- SGDMA
  firstDescLo = 0x80, firstDescHi = 0x84, firstDescAdj = 0x88, descCredits = 0x8C,
  -- bits
  RUN = 1 << 0, POLL_MODE = 1 << 26, BUSY = 1 << 0, DESCRIPTOR_STOPPED = 1 << 1,
  DESCRIPTOR_COMPLETED = 1 << 2,
  MAGIC_STOPPED = 1 << 4, FETCH_STOPPED = 1 << 5, READ_ERROR = 0x1F << 9, WRITE_ERROR = 0x1F << 14,
  DESCRIPTOR_ERROR = 0x1F << 19, DESC_STOP = 1 << 0, DESC_COMPLETED = 1 << 1, DESC_MAGIC = 0xAD4B,
  PERF_RUN = 1, PERF_CLEAR = 2, PERF_AUTO = 4,
  DESC_SIZE = 32, ALIGNMENTS = 0x00010140,
}
model.R = R
model.XDMA_ID = XDMA_ID

local DESC = dma.struct { { "control", "ULONG" }, { "numBytes", "ULONG" }, { "srcAddrLo", "ULONG" },
                          { "srcAddrHi", "ULONG" }, { "dstAddrLo", "ULONG" }, { "dstAddrHi", "ULONG" },
                          { "nextLo", "ULONG" }, { "nextHi", "ULONG" } }
assert(DESC.size == R.DESC_SIZE)

local function duration(v, default) return kit.duration(v, default, "xdma model") end
local size = kit.size

-- ---- byte stores: the card's memory and the user BAR (4 KiB chunks, zeros absent)
local store_read, store_write = kit.store_read, kit.store_write

-- ---- the IP ----------------------------------------------------------------------

-- Creates the IP on machine m; see the top of the file for the options.
function model.new(m, opts)
  opts = opts or {}
  local self = setmetatable({
    m = m, card = {}, user = {},
    card_size = size(opts.card_memory, 16 << 20), user_size = size(opts.user_bar, 64 << 10),
    bandwidth = size(opts.bandwidth, 2 << 30),
    start_latency = duration(opts.start_latency, 500),
    descriptor_latency = duration(opts.descriptor_latency, 300),
    msi = opts.interrupt ~= "line", line = false, engines = {}, order = {},
    irq = { userIntEnable = 0, channelIntEnable = 0, pending = 0, store = {} },
    config = { [R.pcieMPS] = 1, [R.pcieMRRS] = 2, [R.pcieWidth] = 1 }, common = {},
    st = { starts = 0, stops = 0, fetches = 0, descriptors = 0, max_block = 0, bytes_h2c = 0, bytes_c2h = 0,
           messages = 0, errors = 0, writebacks = 0 },
  }, { __index = model })
  -- engines: [dir][ch]; interrupt bit i in order H2C channels, then C2H
  for dir = 0, 1 do
    self.engines[dir] = {}
    for ch = 0, (dir == 0 and (opts.h2c_channels or 1) or (opts.c2h_channels or 1)) - 1 do
      local e = { dir = dir, ch = ch, control = 0, status = 0, completed = 0, intmask = 0, wb = 0,
                  perf = { ctrl = 0, cyc = 0, dat = 0 }, sg = { [R.firstDescAdj] = 0, [R.descCredits] = 0 },
                  bit = 1 << #self.order }
      self.engines[dir][ch] = e
      self.order[#self.order + 1] = e
    end
  end

  local bars = {}
  if self.user_size > 0 then        -- the user BAR is optional in the IP (then the config BAR is BAR0)
    bars[1] = { size = self.user_size,
                read = function(_, offset, sz)
                  return string.unpack("<I" .. sz, store_read(self.user, offset, sz))
                end,
                write = function(_, offset, sz, value)
                  store_write(self.user, offset, string.pack("<I" .. sz, value))
                end }
  end
  bars[#bars + 1] = { size = R.CONFIG_BAR_SIZE,
                      read = function(_, offset, sz) return self:config_read(offset, sz) end,
                      write = function(_, offset, sz, value) self:config_write(offset, sz, value) end }
  self.model = m:device_model {
    name = opts.name or "xdma", bars = bars,
    interrupts = { { vector = opts.vector or 48, irql = opts.irql or 8, message = self.msi } },
  }
  self.device, self.resources, self.name = self.model.device, self.model.resources, self.model.name
  return self
end

-- The channel interrupt requests: engines whose status has an enabled cause.
function model:requests()
  local r = 0
  for _, e in ipairs(self.order) do
    if e.status & e.intmask & ~R.BUSY ~= 0 then r = r | e.bit end
  end
  return r
end

-- The interrupt follows the pending channels: an MSI when a channel's
-- pending bit rises; a line (INTA, level-sensitive) asserted while any is.
function model:update_irq()
  local pending = self:requests() & self.irq.channelIntEnable
  local rising = pending & ~self.irq.pending
  self.irq.pending = pending
  if self.msi then
    if rising ~= 0 then                      -- a message: an edge, nothing held
      self.st.messages = self.st.messages + 1
      self.model:raise_interrupt()
      self.model:clear_interrupt()
    end
  elseif (pending ~= 0) ~= self.line then
    self.line = pending ~= 0
    if self.line then
      self.st.messages = self.st.messages + 1
      self.model:raise_interrupt()
    else
      self.model:clear_interrupt()
    end
  end
end

-- The engine is idle again; `cause` are the status bits it ends with.
function model:finish(e, cause)
  if e.timer then self.m:cancel(e.timer) end
  e.timer, e.block = nil, nil
  e.status = (e.status & ~R.BUSY) | cause
  if cause & (R.MAGIC_STOPPED | R.FETCH_STOPPED | R.READ_ERROR | R.WRITE_ERROR | R.DESCRIPTOR_ERROR) ~= 0 then
    self.st.errors = self.st.errors + 1
  end
  if e.perf.ctrl & R.PERF_AUTO ~= 0 then e.perf.ctrl = e.perf.ctrl & ~R.PERF_RUN end
  self:update_irq()
end

-- Moves one descriptor's bytes; the error bits, or 0.
function model:move(e, d)
  local n = d.numBytes
  local src, dst = (d.srcAddrHi << 32) | d.srcAddrLo, (d.dstAddrHi << 32) | d.dstAddrLo
  if e.dir == 0 then                                       -- H2C: host -> card
    if dst + n > self.card_size then return R.WRITE_ERROR end
    local bytes = self.model:dma_read(src, n)
    if not bytes then return R.READ_ERROR end
    store_write(self.card, dst, bytes)
    self.st.bytes_h2c = self.st.bytes_h2c + n
  else                                                     -- C2H: card -> host
    if src + n > self.card_size then return R.READ_ERROR end
    if not self.model:dma_write(dst, store_read(self.card, src, n)) then return R.WRITE_ERROR end
    self.st.bytes_c2h = self.st.bytes_c2h + n
  end
  return 0
end

local step

-- Fetches adj + 1 adjacent descriptors at `at`, then runs the first.
local function fetch(self, e, at, adj)
  local count = adj + 1
  if (at & 0xFFF) + count * R.DESC_SIZE > 0x1000 then return self:finish(e, R.FETCH_STOPPED) end
  local raw = self.model:dma_read(at, count * R.DESC_SIZE)
  if not raw then return self:finish(e, R.DESCRIPTOR_ERROR) end
  self.st.fetches = self.st.fetches + 1
  self.st.max_block = math.max(self.st.max_block, count)
  local block = {}
  for i = 1, count do
    local f = { string.unpack("<I4I4I4I4I4I4I4I4", raw, (i - 1) * R.DESC_SIZE + 1) }
    block[i] = { control = f[1], numBytes = f[2], srcAddrLo = f[3], srcAddrHi = f[4], dstAddrLo = f[5],
                 dstAddrHi = f[6], nextLo = f[7], nextHi = f[8], at = at + (i - 1) * R.DESC_SIZE }
  end
  e.block = block
  e.timer = self.m:after(self.descriptor_latency, function() step(self, e, 1) end)
end

-- Runs descriptor i of the engine's block: its bytes move once its time has passed.
step = function(self, e, i)
  e.timer = nil
  local d = e.block[i]
  if d.control >> 16 ~= R.DESC_MAGIC then return self:finish(e, R.MAGIC_STOPPED) end
  local ns = d.numBytes * 1000000000 // self.bandwidth
  e.timer = self.m:after(ns, function()
    e.timer = nil
    local err = self:move(e, d)
    if err ~= 0 then return self:finish(e, err) end
    e.completed = e.completed + 1
    self.st.descriptors = self.st.descriptors + 1
    if e.perf.ctrl & R.PERF_RUN ~= 0 then
      e.perf.cyc = e.perf.cyc + (ns * 250 // 1000) + 1
      e.perf.dat = e.perf.dat + (d.numBytes + 15) // 16
    end
    if e.control & R.POLL_MODE ~= 0 then
      self.model:dma_write(e.wb, string.pack("<I4", e.completed & 0x00FFFFFF))
      self.st.writebacks = self.st.writebacks + 1
    end
    if d.control & R.DESC_COMPLETED ~= 0 then e.status = e.status | R.DESCRIPTOR_COMPLETED end
    if d.control & R.DESC_STOP ~= 0 then return self:finish(e, R.DESCRIPTOR_STOPPED) end
    local next_at = (d.nextHi << 32) | d.nextLo
    if i < #e.block then
      if e.block[i + 1].at ~= next_at then return self:finish(e, R.FETCH_STOPPED) end
      return step(self, e, i + 1)
    end
    fetch(self, e, next_at, (d.control >> 8) & 0x3F)
  end)
end

function model:start(e)
  self.st.starts = self.st.starts + 1
  e.status, e.completed = R.BUSY, 0
  local first = (e.sg[R.firstDescHi] or 0) << 32 | (e.sg[R.firstDescLo] or 0)
  e.timer = self.m:after(self.start_latency, function()
    e.timer = nil
    fetch(self, e, first, e.sg[R.firstDescAdj] & 0x3F)
  end)
end

-- A new value of an engine's control register.
function model:set_control(e, v)
  local was = e.control
  e.control = v & 0xFFFFFFFF
  if v & R.RUN ~= 0 and was & R.RUN == 0 then
    self:start(e)
  elseif v & R.RUN == 0 and was & R.RUN ~= 0 and e.status & R.BUSY ~= 0 then
    self.st.stops = self.st.stops + 1
    self:finish(e, 0)
  end
end

local function engine_at(self, offset, base)
  local dir, ch = (offset - base) // R.BLOCK, ((offset - base) % R.BLOCK) // R.ENGINE
  return self.engines[dir] and self.engines[dir][ch], dir, ch
end

-- Reads of a 32-bit register at an aligned offset of the config BAR.
function model:read32(o)
  if o < R.IRQ_BLOCK then
    local e, dir, ch = engine_at(self, o, 0)
    if not e then return 0 end
    local r = o % R.ENGINE
    if r == R.identifier then return XDMA_ID | dir << 16 | ch << 8 | VERSION
    elseif r == R.control then return e.control
    elseif r == R.status then return e.status
    elseif r == R.statusRC then
      local s = e.status
      e.status = e.status & R.BUSY
      self:update_irq()
      return s
    elseif r == R.completedDescCount then return e.completed
    elseif r == R.alignments then return R.ALIGNMENTS
    elseif r == R.pollModeWbLo then return e.wb & 0xFFFFFFFF
    elseif r == R.pollModeWbHi then return e.wb >> 32
    elseif r == R.intEnableMask then return e.intmask
    elseif r == R.perfCtrl then return e.perf.ctrl
    elseif r == 0xC4 or r == 0xC8 then return r == 0xC4 and e.perf.cyc & 0xFFFFFFFF or e.perf.cyc >> 32
    elseif r == 0xCC or r == 0xD0 then return r == 0xCC and e.perf.dat & 0xFFFFFFFF or e.perf.dat >> 32
    end
    return 0
  elseif o < R.CONFIG_BLOCK then
    local r = o - R.IRQ_BLOCK
    if r == R.identifier then return XDMA_ID | 0x20000 | VERSION
    elseif r == R.userIntEnable then return self.irq.userIntEnable
    elseif r == R.channelIntEnable then return self.irq.channelIntEnable
    elseif r == R.channelIntRequest then return self:requests()
    elseif r == R.channelIntPending then return self:requests() & self.irq.channelIntEnable
    elseif r == R.userIntRequest or r == R.userIntPending then return 0
    end
    return self.irq.store[r] or 0
  elseif o < R.SGDMA_BLOCK then
    local r = o - R.CONFIG_BLOCK
    if r == R.identifier then return XDMA_ID | 0x30000 | VERSION end
    return self.config[r] or 0
  elseif o < R.SGDMA_COMMON then
    local e, dir, ch = engine_at(self, o, R.SGDMA_BLOCK)
    if not e then return 0 end
    local r = o % R.ENGINE
    if r == R.identifier then return XDMA_ID | 0x40000 | dir << 16 | ch << 8 | VERSION end
    return e.sg[r] or 0
  elseif o < R.SGDMA_COMMON + R.BLOCK then
    local r = o - R.SGDMA_COMMON
    if r == R.identifier then return XDMA_ID | 0x60000 | VERSION end
    return self.common[r] or 0
  end
  return 0
end

-- A register with RW / W1S / W1C views at r, r + 4, r + 8: the new value.
local function w1sc(old, r, base, v)
  if r == base then return v elseif r == base + 4 then return old | v else return old & ~v end
end

-- Writes of a 32-bit register at an aligned offset of the config BAR.
function model:write32(o, v)
  if o < R.IRQ_BLOCK then
    local e = engine_at(self, o, 0)
    if not e then return end
    local r = o % R.ENGINE
    if r >= R.control and r <= R.controlW1C then
      self:set_control(e, w1sc(e.control, r, R.control, v))
    elseif r == R.pollModeWbLo then e.wb = (e.wb & ~0xFFFFFFFF) | v
    elseif r == R.pollModeWbHi then e.wb = (e.wb & 0xFFFFFFFF) | v << 32
    elseif r >= R.intEnableMask and r <= R.intEnableMaskW1C then
      e.intmask = w1sc(e.intmask, r, R.intEnableMask, v)
      self:update_irq()
    elseif r == R.perfCtrl then
      if v & R.PERF_CLEAR ~= 0 then e.perf.cyc, e.perf.dat = 0, 0 end
      e.perf.ctrl = v & (R.PERF_RUN | R.PERF_AUTO)
    end
  elseif o < R.CONFIG_BLOCK then
    local r = o - R.IRQ_BLOCK
    if r >= R.userIntEnable and r <= R.userIntEnable + 8 then
      self.irq.userIntEnable = w1sc(self.irq.userIntEnable, r, R.userIntEnable, v)
    elseif r >= R.channelIntEnable and r <= R.channelIntEnable + 8 then
      self.irq.channelIntEnable = w1sc(self.irq.channelIntEnable, r, R.channelIntEnable, v)
      self:update_irq()
    elseif r >= 0x80 then
      self.irq.store[r] = v
    end
  elseif o < R.SGDMA_BLOCK then
    self.config[o - R.CONFIG_BLOCK] = v
  elseif o < R.SGDMA_COMMON then
    local e = engine_at(self, o, R.SGDMA_BLOCK)
    if e then e.sg[o % R.ENGINE] = v end
  elseif o < R.SGDMA_COMMON + R.BLOCK then
    local r = o - R.SGDMA_COMMON
    if r >= 0x10 and r <= 0x28 then
      local base = r < 0x20 and 0x10 or 0x20
      self.common[base] = w1sc(self.common[base] or 0, r, base, v)
    end
  end
end

-- Accesses of 1..8 bytes at any offset: whole registers are read, a write
-- changes only the bytes written.
function model:config_read(offset, sz)
  local v = 0
  for i = 0, sz - 1 do
    local o = offset + i
    v = v | ((self:read32(o & ~3) >> (8 * (o & 3))) & 0xFF) << (8 * i)
  end
  return v
end

function model:config_write(offset, sz, value)
  if offset & 3 == 0 and sz == 4 then return self:write32(offset, value) end
  if offset & 3 == 0 and sz == 8 then
    self:write32(offset, value & 0xFFFFFFFF)
    return self:write32(offset + 4, value >> 32)
  end
  error(("xdma model: %d-byte write at config offset 0x%x (registers are 32-bit)"):format(sz, offset))
end

-- The card's memory (the AXI-MM side) and the user BAR, as the scenario sees them.
function model:card_read(address, len)
  assert(address >= 0 and address + len <= self.card_size, "xdma model: card read out of range")
  return store_read(self.card, address, len)
end

function model:card_write(address, bytes)
  assert(address >= 0 and address + #bytes <= self.card_size, "xdma model: card write out of range")
  store_write(self.card, address, bytes)
end

function model:user_read(offset, len) return store_read(self.user, offset, len) end

-- What the IP did: starts, stops, fetches (descriptor blocks read), max_block,
-- descriptors, bytes_h2c, bytes_c2h, messages (MSIs sent), errors, writebacks.
function model:stats()
  local s = {}
  for k, v in pairs(self.st) do s[k] = v end
  return s
end

-- Is engine `dir` (0 H2C, 1 C2H) channel `ch` running?
function model:busy(dir, ch) return self.engines[dir][ch].status & R.BUSY ~= 0 end

return model
