-- plx_model.lua: a device model, in Lua, of a PLX PCI 9656-style DMA engine
-- (the chip of the WDK's PLX9x5x KMDF sample): two DMA channels, each able
-- to run one block transfer from its registers or a chain of descriptors
-- it fetches from host memory (a common buffer), a local memory behind the
-- chip (the "SRAM" of the evaluation board; here a few MiB), realistic
-- timing and one PCI interrupt line.
--
-- Usage:
--   local plx = require "drivers.plx_model"
--   local hw = plx.new(m, { name = "plx0", local_memory = "4M", bandwidth = "512M",
--                           setup_latency = "1us", descriptor_latency = "200ns",
--                           vector = 40, irql = 7 })
--   hw.model, hw.device, hw.resources      the m:device_model, its PDO, its resources
--   hw:local_read(offset, len)              the local memory, as the scenario sees it
--   hw:local_write(offset, bytes)
--   hw:stats()                              what the chip did (see plx_stats below)
--   plx.R                                   register offsets and bits (below)
--
-- ---- Register map (BAR0, 0x200 bytes, little-endian) ---------------------------
-- Offsets and bits are those of the PCI 9656 (Reg9656.h of the sample); the
-- model implements the DMA subset. Any access size (1, 2, 4, 8) works on any
-- offset: reads assemble bytes, writes change only the bytes written (so
-- WRITE_REGISTER_UCHAR on DMACSR1 at 0xA9 leaves DMACSR0 alone).
--
--   0x068 INTCSR   interrupt control/status
--           bit  8 PCI_INT_ENABLE      RW  the PCI line may be driven at all
--           bit 18 DMA0_INT_ENABLE     RW  channel 0 may interrupt
--           bit 19 DMA1_INT_ENABLE     RW  channel 1 may interrupt
--           bit 21 DMA0_INT_ACTIVE     RO  channel 0 has an interrupt pending
--           bit 22 DMA1_INT_ACTIVE     RO  channel 1 has an interrupt pending
--           bit 25 DMA0_ABORTED        RO  channel 0 stopped on a failed bus cycle
--           bit 26 DMA1_ABORTED        RO  (cleared by the channel's next Start)
--           other bits are plain storage.
--   0x06C CNTRL    bit 30 SOFTWARE_RESET: setting it stops both channels and
--                  resets every register (but CNTRL) to its power-on value.
--   Channel n (n = 0, 1; channel 0 at 0x80, channel 1 at 0x94):
--   0x080 / 0x094  DMAMODEn
--           bit  9 SG_MODE             descriptor-chain (scatter/gather) mode
--           bit 10 DONE_INT_ENABLE     interrupt when the channel is done
--           bit 16 CLEAR_COUNT_MODE    write 0 into a descriptor's size once it is done
--           bit 17 INT_TO_PCI          route the channel's interrupt to the PCI line
--           bit 18 DAC_CHAIN_LOAD      descriptors carry PCI address bits 63:32
--                                      (32-byte descriptors; else 16-byte ones and
--                                      DMADACn supplies bits 63:32)
--   0x084 / 0x098  DMAPADRn   PCI (logical) address bits 31:0
--   0x088 / 0x09C  DMALADRn   local address (offset in the local memory)
--   0x08C / 0x0A0  DMASIZn    transfer size in bytes (bits 22:0, at most 8 MiB - 1)
--   0x090 / 0x0A4  DMADPRn    descriptor pointer, the same layout as a descriptor's:
--           bit  0 DESC_PCI            the chain lies in PCI (host) memory (required)
--           bit  1 END_OF_CHAIN        this is the last descriptor
--           bit  2 TERM_COUNT_INT      interrupt after this descriptor's transfer
--           bit  3 TO_PCI              direction: local -> PCI (device -> memory);
--                                      0 is PCI -> local (memory -> device)
--           bits 31:4                  next descriptor's address bits 31:4
--                                      (descriptors are 16-byte aligned)
--   In block mode (SG_MODE clear) the channel moves DMASIZn bytes between
--   DMAPADRn (DMADACn above) and DMALADRn, direction from DMADPRn bit 3. In
--   SG mode it starts at the descriptor DMADPRn points to; while it runs the
--   four registers show the descriptor being processed (DMASIZn counts the
--   bytes left of it: 0 once it is moved).
--   0x0A8 DMACSR0 (byte), 0x0A9 DMACSR1 (byte)
--           bit 0 ENABLE   RW  the channel may run (clearing it while the channel
--                              runs does not pause it: pausing is not modelled)
--           bit 1 START    W   start (with ENABLE); reads 0
--           bit 2 ABORT    W   stop the running transfer (the channel is done,
--                              the descriptor in progress moves nothing)
--           bit 3 CLEAR    W   clear the channel's interrupt; reads 0
--           bit 4 DONE     RO  the channel is idle (1 after reset)
--   0x0B4 DMADAC0, 0x0B8 DMADAC1   PCI address bits 63:32 (block mode, or SG
--                                  mode without DAC_CHAIN_LOAD)
--   0x0BC DMADPRHI0, 0x0C0 DMADPRHI1   descriptor address bits 63:32. A MODEL
--                  EXTENSION: the real 9656 has no such register (its chains
--                  must lie below 4 GiB, which the sample assumes by writing
--                  only the LowPart of the common buffer's address); here a
--                  common buffer of a 64-bit enabler may lie anywhere, so the
--                  driver writes its HighPart here. A chain stays inside one
--                  4 GiB window (a common buffer never crosses one).
--
-- ---- Descriptor (DMA_TRANSFER_ELEMENT), in host memory, 16-byte aligned ---------
--   +0  u32 PCI address bits 31:0      +4  u32 local address
--   +8  u32 transfer size (bytes)      +12 u32 next descriptor pointer + flags
--   +16 u32 PCI address bits 63:32 (read only with DAC_CHAIN_LOAD)
--   +20 u32 pad[3]                     (32 bytes, as the sample's structure)
--
-- ---- Timing -------------------------------------------------------------------
-- A Start costs setup_latency; each descriptor then costs descriptor_latency
-- (its fetch) plus size / bandwidth; its bytes move by logical address when
-- that time has passed (so bounce pages and unmapped addresses behave as the
-- adapter layer made them). A block transfer costs setup + size / bandwidth.
-- The two channels run independently (duplex).
--
-- ---- Interrupt -----------------------------------------------------------------
-- A channel's interrupt is pending (DMAn_INT_ACTIVE) after a descriptor with
-- TERM_COUNT_INT, or when the channel is done with DONE_INT_ENABLE set. The
-- line (level-sensitive) is asserted while some channel has one pending,
-- its INTCSR enable bit and its DMAMODE INT_TO_PCI set, and PCI_INT_ENABLE
-- is set. DMACSRn CLEAR ends the channel's interrupt.
--
-- ---- Errors --------------------------------------------------------------------
-- A bus cycle to a logical address nobody mapped (the machine's report 0x26
-- first), a descriptor not in PCI memory, or a local range past the local
-- memory ends the channel as an abort does and sets DMAn_ABORTED; the model
-- counts it in stats().errors.
local kit = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "modelkit")  -- drivers. or dma.drivers.

local plx = {}

local R = {
  INTCSR = 0x68, CNTRL = 0x6C,
  DMAMODE0 = 0x80, DMAPADR0 = 0x84, DMALADR0 = 0x88, DMASIZ0 = 0x8C, DMADPR0 = 0x90,
  DMAMODE1 = 0x94, DMAPADR1 = 0x98, DMALADR1 = 0x9C, DMASIZ1 = 0xA0, DMADPR1 = 0xA4,
  DMACSR0 = 0xA8, DMACSR1 = 0xA9, DMADAC0 = 0xB4, DMADAC1 = 0xB8,
  DMADPRHI0 = 0xBC, DMADPRHI1 = 0xC0,
  REGISTERS = 0x200,
  -- INTCSR
  PCI_INT_ENABLE = 1 << 8, DMA0_INT_ENABLE = 1 << 18, DMA1_INT_ENABLE = 1 << 19,
  DMA0_INT_ACTIVE = 1 << 21, DMA1_INT_ACTIVE = 1 << 22, DMA0_ABORTED = 1 << 25, DMA1_ABORTED = 1 << 26,
  -- CNTRL
  SOFTWARE_RESET = 1 << 30,
  -- DMAMODE
  SG_MODE = 1 << 9, DONE_INT_ENABLE = 1 << 10, CLEAR_COUNT_MODE = 1 << 16, INT_TO_PCI = 1 << 17,
  DAC_CHAIN_LOAD = 1 << 18,
  -- DMACSR
  CSR_ENABLE = 0x1, CSR_START = 0x2, CSR_ABORT = 0x4, CSR_CLEAR = 0x8, CSR_DONE = 0x10,
  -- DMADPR and descriptors
  DESC_PCI = 0x1, END_OF_CHAIN = 0x2, TERM_COUNT_INT = 0x4, TO_PCI = 0x8, DESC_ADDRESS_MASK = 0xFFFFFFF0,
  DESC_SIZE = 32, DESC_SIZE_SHORT = 16, DESC_ALIGNMENT = 16,
  MAX_SIZE = (1 << 23) - 1,
}
plx.R = R

-- Per-channel register offsets.
local function channel_regs(n)
  local base = n == 0 and 0x80 or 0x94
  return { MODE = base, PADR = base + 4, LADR = base + 8, SIZ = base + 0xC, DPR = base + 0x10,
           DAC = n == 0 and R.DMADAC0 or R.DMADAC1, DPRHI = n == 0 and R.DMADPRHI0 or R.DMADPRHI1,
           INT_ENABLE = n == 0 and R.DMA0_INT_ENABLE or R.DMA1_INT_ENABLE,
           INT_ACTIVE = n == 0 and R.DMA0_INT_ACTIVE or R.DMA1_INT_ACTIVE,
           ABORTED = n == 0 and R.DMA0_ABORTED or R.DMA1_ABORTED }
end

-- Durations: a number of ns, or "200ns", "2us", "1ms", "1s"; sizes: bytes or "4M".
local function duration(v, default) return kit.duration(v, default, "plx_model") end
local size = kit.size

-- ---- the local memory: 4 KiB chunks, absent ones read as zeros -----------------
local function local_read(self, offset, len)
  assert(offset >= 0 and offset + len <= self.local_size, "plx_model: local read out of range")
  return kit.store_read(self.chunks, offset, len)
end

local function local_write(self, offset, bytes)
  assert(offset >= 0 and offset + #bytes <= self.local_size, "plx_model: local write out of range")
  kit.store_write(self.chunks, offset, bytes)
end

-- ---- the chip ------------------------------------------------------------------

-- Creates the device on machine m; see the top of the file for the options.
function plx.new(m, opts)
  opts = opts or {}
  local self = {
    m = m,
    local_size = size(opts.local_memory, 4 << 20),
    bandwidth = size(opts.bandwidth, 512 << 20),           -- bytes per second
    setup_latency = duration(opts.setup_latency, 1000),
    descriptor_latency = duration(opts.descriptor_latency, 200),
    chunks = {},
    regs = {},                                              -- 32-bit words by aligned offset
    channels = {},
    st = { starts = 0, descriptors = 0, block_transfers = 0, bytes_to_device = 0,
           bytes_from_device = 0, interrupts = 0, clears = 0, aborts = 0, errors = 0,
           resets = 0, busy_ns = { [0] = 0, [1] = 0 } },
  }
  assert(self.local_size > 0 and self.local_size <= 1 << 32, "plx_model: local memory must be 1 B..4 GiB")
  for n = 0, 1 do
    self.channels[n] = { n = n, r = channel_regs(n), enable = false, busy = false, done = true,
                         int_active = false, aborted = false, timer = nil }
  end

  local function reg(o) return self.regs[o] or 0 end
  local function setreg(o, v) self.regs[o] = v & 0xFFFFFFFF end

  -- The line follows the pending interrupts and their enables.
  local function update_line()
    local intcsr = reg(R.INTCSR)
    local want = false
    if intcsr & R.PCI_INT_ENABLE ~= 0 then
      for n = 0, 1 do
        local ch = self.channels[n]
        if ch.int_active and intcsr & ch.r.INT_ENABLE ~= 0 and reg(ch.r.MODE) & R.INT_TO_PCI ~= 0 then
          want = true
        end
      end
    end
    if want ~= self.line then
      self.line = want
      if want then
        self.st.interrupts = self.st.interrupts + 1
        self.model:raise_interrupt()
      else
        self.model:clear_interrupt()
      end
    end
  end

  local function interrupt(ch)
    ch.int_active = true
    update_line()
  end

  -- The channel is idle again (done, aborted or failed).
  local function finish(ch, how)
    if ch.timer then
      m:cancel(ch.timer)
      ch.timer = nil
    end
    ch.busy, ch.done = false, true
    self.st.busy_ns[ch.n] = self.st.busy_ns[ch.n] + (m.now - ch.started)
    if how == "error" then
      ch.aborted = true
      self.st.errors = self.st.errors + 1
    elseif how == "abort" then
      self.st.aborts = self.st.aborts + 1
    end
    if reg(ch.r.MODE) & R.DONE_INT_ENABLE ~= 0 then interrupt(ch) end
  end

  -- Moves one element's bytes; false if a bus cycle failed.
  local function move(logical, ladr, siz, to_pci)
    if siz == 0 then return true end
    if ladr + siz > self.local_size then return false end
    if to_pci then       -- local -> PCI: device -> memory
      if not self.model:dma_write(logical, local_read(self, ladr, siz)) then return false end
      self.st.bytes_from_device = self.st.bytes_from_device + siz
    else                 -- PCI -> local: memory -> device
      local bytes = self.model:dma_read(logical, siz)
      if not bytes then return false end
      local_write(self, ladr, bytes)
      self.st.bytes_to_device = self.st.bytes_to_device + siz
    end
    return true
  end

  local function transfer_ns(siz)
    return siz * 1000000000 // self.bandwidth
  end

  local fetch

  -- A descriptor's time is over: move it, then the next one or done.
  local function descriptor_done(ch, desc_addr, logical, ladr, siz, dpr)
    ch.timer = nil
    if not move(logical, ladr, siz, dpr & R.TO_PCI ~= 0) then return finish(ch, "error") end
    self.st.descriptors = self.st.descriptors + 1
    setreg(ch.r.SIZ, 0)
    if reg(ch.r.MODE) & R.CLEAR_COUNT_MODE ~= 0 then
      if not self.model:dma_write(desc_addr + 8, string.pack("<I4", 0)) then return finish(ch, "error") end
    end
    if dpr & R.TERM_COUNT_INT ~= 0 then interrupt(ch) end
    if dpr & R.END_OF_CHAIN ~= 0 then return finish(ch, "done") end
    fetch(ch, (desc_addr & ~0xFFFFFFFF) | (dpr & R.DESC_ADDRESS_MASK))
  end

  -- Fetches the descriptor at desc_addr and schedules its transfer.
  fetch = function(ch, desc_addr)
    local long = reg(ch.r.MODE) & R.DAC_CHAIN_LOAD ~= 0
    local raw = self.model:dma_read(desc_addr, long and R.DESC_SIZE or R.DESC_SIZE_SHORT)
    if not raw then return finish(ch, "error") end
    local padr, ladr, siz, dpr = string.unpack("<I4I4I4I4", raw)
    local hi = long and string.unpack("<I4", raw, 17) or reg(ch.r.DAC)
    siz = siz & R.MAX_SIZE
    setreg(ch.r.PADR, padr)
    setreg(ch.r.LADR, ladr)
    setreg(ch.r.SIZ, siz)
    setreg(ch.r.DPR, dpr)
    if long then setreg(ch.r.DAC, hi) end
    local logical = (hi << 32) | padr
    ch.timer = m:after(self.descriptor_latency + transfer_ns(siz), function()
      descriptor_done(ch, desc_addr, logical, ladr, siz, dpr)
    end)
  end

  local function start(ch)
    ch.busy, ch.done, ch.aborted = true, false, false
    ch.started = m.now
    self.st.starts = self.st.starts + 1
    local mode = reg(ch.r.MODE)
    local dpr = reg(ch.r.DPR)
    if mode & R.SG_MODE ~= 0 then
      if dpr & R.DESC_PCI == 0 then   -- chains in local memory are not modelled
        ch.timer = m:after(self.setup_latency, function()
          ch.timer = nil
          finish(ch, "error")
        end)
        return
      end
      local first = (reg(ch.r.DPRHI) << 32) | (dpr & R.DESC_ADDRESS_MASK)
      ch.timer = m:after(self.setup_latency, function()
        ch.timer = nil
        fetch(ch, first)
      end)
    else
      local logical = (reg(ch.r.DAC) << 32) | reg(ch.r.PADR)
      local ladr, siz = reg(ch.r.LADR), reg(ch.r.SIZ) & R.MAX_SIZE
      ch.timer = m:after(self.setup_latency + transfer_ns(siz), function()
        ch.timer = nil
        if not move(logical, ladr, siz, dpr & R.TO_PCI ~= 0) then return finish(ch, "error") end
        self.st.block_transfers = self.st.block_transfers + 1
        setreg(ch.r.SIZ, 0)
        finish(ch, "done")
      end)
    end
  end

  -- A write of the DMACSR byte of channel ch.
  local function csr_write(ch, v)
    ch.enable = v & R.CSR_ENABLE ~= 0
    if v & R.CSR_CLEAR ~= 0 then
      self.st.clears = self.st.clears + 1
      ch.int_active = false
      update_line()
    end
    if v & R.CSR_ABORT ~= 0 and ch.busy then finish(ch, "abort") end
    if v & R.CSR_START ~= 0 and ch.enable and not ch.busy then start(ch) end
  end

  local function reset()
    self.st.resets = self.st.resets + 1
    for n = 0, 1 do
      local ch = self.channels[n]
      if ch.timer then m:cancel(ch.timer) end
      ch.timer, ch.busy, ch.done, ch.enable, ch.int_active, ch.aborted = nil, false, true, false, false, false
    end
    local cntrl = reg(R.CNTRL)
    self.regs = { [R.CNTRL] = cntrl }
    update_line()
  end

  -- Reads of a whole 32-bit word at an aligned offset.
  local function read_word(o)
    if o == R.INTCSR then
      local v = reg(R.INTCSR) & ~(R.DMA0_INT_ACTIVE | R.DMA1_INT_ACTIVE | R.DMA0_ABORTED | R.DMA1_ABORTED)
      for n = 0, 1 do
        local ch = self.channels[n]
        if ch.int_active then v = v | ch.r.INT_ACTIVE end
        if ch.aborted then v = v | ch.r.ABORTED end
      end
      return v
    elseif o == R.DMACSR0 then
      local v = 0
      for n = 0, 1 do
        local ch = self.channels[n]
        local b = (ch.enable and R.CSR_ENABLE or 0) | (ch.done and R.CSR_DONE or 0)
        v = v | (b << (8 * n))
      end
      return v
    end
    return reg(o)
  end

  -- A write of the bytes `mask` (bit i: byte i) of the word at aligned offset o.
  local function write_word(o, v, mask)
    local old = read_word(o)
    local merged = 0
    for i = 0, 3 do
      local src = (mask >> i) & 1 == 1 and v or old
      merged = merged | (src & (0xFF << (8 * i)))
    end
    if o == R.DMACSR0 then
      for n = 0, 1 do
        if (mask >> n) & 1 == 1 then csr_write(self.channels[n], (v >> (8 * n)) & 0xFF) end
      end
    elseif o == R.INTCSR then
      setreg(o, merged & ~(R.DMA0_INT_ACTIVE | R.DMA1_INT_ACTIVE | R.DMA0_ABORTED | R.DMA1_ABORTED))
      update_line()
    elseif o == R.CNTRL then
      local was = reg(R.CNTRL) & R.SOFTWARE_RESET
      setreg(o, merged)
      if merged & R.SOFTWARE_RESET ~= 0 and was == 0 then reset() end
    elseif o == R.DMAMODE0 or o == R.DMAMODE1 then
      setreg(o, merged)
      update_line()
    else
      setreg(o, merged)
    end
  end

  self.model = m:device_model {
    name = opts.name or "plx9656", registers = R.REGISTERS, vector = opts.vector, irql = opts.irql,
    read = function(_, offset, sz)
      local v = 0
      for i = 0, sz - 1 do
        local o = offset + i
        local word = read_word(o & ~3)
        v = v | (((word >> (8 * (o & 3))) & 0xFF) << (8 * i))
      end
      return v
    end,
    write = function(_, offset, sz, value)
      local i = 0
      while i < sz do
        local o = offset + i
        local aligned = o & ~3
        local v, mask = 0, 0
        while i < sz and (offset + i) & ~3 == aligned do
          local b = (offset + i) & 3
          v = v | (((value >> (8 * i)) & 0xFF) << (8 * b))
          mask = mask | (1 << b)
          i = i + 1
        end
        write_word(aligned, v, mask)
      end
    end,
  }
  self.line = false
  self.device = self.model.device
  self.resources = self.model.resources
  self.name = self.model.name
  return setmetatable(self, { __index = plx })
end

plx.local_read = local_read
plx.local_write = local_write

-- What the chip did: starts, descriptors, block_transfers, bytes_to_device,
-- bytes_from_device, interrupts (line assertions), clears, aborts, errors,
-- resets, busy_ns (per channel, [0] and [1]).
function plx:stats()
  local s = {}
  for k, v in pairs(self.st) do s[k] = v end
  s.busy_ns = { [0] = self.st.busy_ns[0], [1] = self.st.busy_ns[1] }
  return s
end

-- Is channel n (0 or 1) running?
function plx:busy(n) return self.channels[n].busy end

return plx
