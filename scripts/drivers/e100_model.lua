-- e100_model.lua: a device model, in Lua, of the Intel 8255x (82557/82558/
-- 82559) Fast Ethernet controller, the hardware of the WDK's PCIDRV KMDF
-- sample (microsoft/Windows-driver-samples, general/pcidrv/kmdf; register
-- and structure layouts from its HW/e100_557.h and HW/e100_equ.h), with the
-- subset of the chip that sample uses: the control/status registers (CSR)
-- in a memory BAR (the same CSR in an I/O-port BAR), the command unit (CU)
-- walking a list of command blocks in host memory by DMA, the receive unit
-- (RU) filling receive frame descriptors (RFDs) in host memory by DMA, the
-- PORT interface (reset, self-test), the MDI (PHY registers) and one
-- level-sensitive interrupt.
--
-- Usage:
--   local e100 = require "drivers.e100_model"
--   local hw = e100.new(m, { name = "e100", vector = 40, irql = 7, revision = 8 })
--   hw.model, hw.device, hw.resources      the m:device_model, its PDO, its resources
--   hw:inject(frame)          a frame arrives from the wire (received when the
--                             RU is ready, else counted in stats().rx_dropped)
--   hw.transmitted            the frames the CU sent, in order (strings)
--   hw:stats()                what the chip did (see the end of the file)
--   e100.R                    register offsets and bits
--
-- ---- CSR (BAR0, memory, 4 KiB; and ports[1], 32 bytes of I/O) -----------
--   0x00 u16 SCB status   bits 2..5 RU state (0 idle, 0x04 suspended, 0x08 no
--                         resources, 0x10 ready), bits 6..7 CU state (0 idle,
--                         0x40 suspended, 0x80 active); bits 8..15 STAT/ACK:
--                         0x8000 CX (a CB with its I bit done), 0x4000 FR
--                         (a frame received), 0x2000 CNA (the CU left the
--                         active state), 0x1000 RNR (the RU left the ready
--                         state), 0x0800 MDI, 0x0400 SWI; writing 1s to them
--                         acknowledges (clears) them; the low byte is read-only
--   0x02 u8  SCB command  CU command (bits 4..7): 0x10 start at CU base +
--                         general pointer, 0x20 resume, 0x40 load the dump
--                         address, 0x50 dump counters, 0x60 load CU base, 0x70
--                         dump and reset counters; RU command (bits 0..2):
--                         1 start at RU base + general pointer, 2 resume,
--                         4 abort, 6 load RU base. The chip takes the command
--                         `command_latency` after the write, then reads 0
--   0x03 u8  interrupt    bit 0 M masks the interrupt, bit 1 SI raises SWI
--   0x04 u32 general pointer
--   0x08 u32 PORT         bits 0..3: 0 software reset, 1 self-test (writes
--                         {signature 0xFFFFFFFF, results 0} at bits 4..31
--                         after `selftest_time`), 2 selective reset (CU and
--                         RU idle); reads the value written until done, then 0
--   0x0E u16 EEPROM control, 0x0C u16 flash control   storage only (no EEPROM)
--   0x10 u32 MDI control  bits 0..15 data, 16..20 PHY register, 21..25 PHY
--                         address, 26..27 opcode (1 write, 2 read), bit 28
--                         ready (set when the operation is done, at once)
--   0x14 u32 RX DMA byte count (storage)
--
-- ---- Command blocks (in host memory, 32-bit addresses relative to the CU base)
--   +0 u16 status (0x8000 C complete, 0x2000 OK), +2 u16 command (bits 0..2
--   the command: 0 NOP, 1 IA setup (6-byte address at +8), 2 configure, 3
--   multicast setup (u16 count at +8), 4 transmit, 6 dump, 7 diagnose;
--   0x8000 EL end of list, 0x4000 S suspend after, 0x2000 I interrupt after,
--   0x0008 SF flexible mode), +4 u32 link to the next CB.
--   Transmit: +8 u32 TBD array address (0xFFFFFFFF: none), +12 u16 bytes in
--   the TCB (bits 0..13), +14 u8 threshold, +15 u8 number of TBDs, +16 the
--   TCB's own bytes; each TBD: u32 buffer address, u32 bits 0..13 count, bit
--   16 EL. The frame is the TCB's bytes then each TBD's buffer, read by DMA.
--   A CB costs `cb_latency`, a transmit also its bytes on the wire (100 Mb/s:
--   80 ns a byte). Done: status C|OK is written; then I -> CX; EL -> CU idle
--   and CNA; S -> CU suspended (resume goes on at its link) and CNA; else the
--   next CB at the link.
-- ---- Receive frame descriptors (simplified mode only) -------------------------
--   +0 u16 status (0x8000 C, 0x2000 OK), +2 u16 command (EL 0x8000, S 0x4000,
--   SF 0x0008: flexible mode is not modelled: such an RFD ends the frame with
--   status C and no OK), +4 u32 link, +8 u32 RBD pointer, +12 u16 actual
--   count (bits 0..13, 0x8000 EOF, 0x4000 F), +14 u16 size, +16 the data.
--   A frame arrives `#frame * 80 ns` after the previous one (the wire); with
--   the RU ready it goes into the RFD at the RU's pointer (status C|OK, FR),
--   then EL -> RU no resources and RNR; S -> RU suspended and RNR; else the
--   RU moves to the link. With the RU not ready the frame is lost.
-- ---- Interrupt -------------------------------------------------------------------
--   The line (level) is asserted while some STAT/ACK bit is set and M is clear.
local kit = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "modelkit")  -- drivers. or dma.drivers.

local e100 = {}

local R = {
  SCB_STATUS = 0x0, SCB_COMMAND_LOW = 0x2, SCB_COMMAND_HIGH = 0x3, SCB_GENERAL_POINTER = 0x4,
  PORT = 0x8, FLASH_CONTROL = 0xC, EEPROM_CONTROL = 0xE, MDI_CONTROL = 0x10, RX_DMA_BYTE_COUNT = 0x14,
  BAR_SIZE = 0x1000, IO_SIZE = 0x20,
  -- STAT/ACK (SCB status bits 8..15)
  CX = 0x8000, FR = 0x4000, CNA = 0x2000, RNR = 0x1000, MDI = 0x0800, SWI = 0x0400,
  -- CU and RU states in the SCB status
  CUS_IDLE = 0x00, CUS_SUSPEND = 0x40, CUS_ACTIVE = 0x80,
  RUS_IDLE = 0x00, RUS_SUSPEND = 0x04, RUS_NO_RESOURCES = 0x08, RUS_READY = 0x10,
  -- SCB commands
  CUC_START = 0x10, CUC_RESUME = 0x20, CUC_DUMP_ADDR = 0x40, CUC_DUMP_STAT = 0x50,
  CUC_LOAD_BASE = 0x60, CUC_DUMP_RST_STAT = 0x70,
  RUC_START = 1, RUC_RESUME = 2, RUC_ABORT = 4, RUC_LOAD_BASE = 6,
  INT_MASK = 0x01, SOFT_INT = 0x02,
  -- PORT functions
  PORT_SOFTWARE_RESET = 0, PORT_SELFTEST = 1, PORT_SELECTIVE_RESET = 2, PORT_DUMP = 3,
  -- command blocks and RFDs
  CB_STATUS_COMPLETE = 0x8000, CB_STATUS_OK = 0x2000,
  CB_EL = 0x8000, CB_S = 0x4000, CB_I = 0x2000, CB_SF = 0x0008, CB_CMD_MASK = 0x7,
  CB_NOP = 0, CB_IA_ADDRESS = 1, CB_CONFIGURE = 2, CB_MULTICAST = 3, CB_TRANSMIT = 4, CB_DUMP = 6,
  RFD_EOF = 0x8000, RFD_F = 0x4000, COUNT_MASK = 0x3FFF, TBD_EL = 0x10000,
  NULL_POINTER = 0xFFFFFFFF,
  -- MDI
  MDI_READY = 1 << 28, MDI_WRITE = 1, MDI_READ = 2,
  SELFTEST_SIGNATURE = 0xFFFFFFFF,
}
e100.R = R

local NS_PER_BYTE = 80   -- 100 Mb/s

-- Durations: a number of ns, or "200ns", "2us", "1ms".
local function duration(v, default) return kit.duration(v, default, "e100_model") end

-- The PHY's registers (an 82555-style PHY with the link up at 100 Mb/s full duplex).
local function phy_registers()
  return { [0] = 0x3000, [1] = 0x782D, [2] = 0x02A8, [3] = 0x0150, [4] = 0x01E1, [5] = 0x41E1 }
end

-- Creates the chip on machine m: opts name, vector, irql, revision (PCI
-- revision ID, 8: an 82559), command_latency ("500ns"), cb_latency ("1us"),
-- selftest_time ("1ms"), reset_time ("5us"), on_transmit(frame).
function e100.new(m, opts)
  opts = opts or {}
  local self = {
    m = m, revision = opts.revision or 8, on_transmit = opts.on_transmit,
    command_latency = duration(opts.command_latency, 500),
    cb_latency = duration(opts.cb_latency, 1000),
    selftest_time = duration(opts.selftest_time, 1000000),
    reset_time = duration(opts.reset_time, 5000),
    bytes = {},                 -- CSR storage by offset (the plain registers)
    ack = 0,                    -- STAT/ACK bits pending (SCB status bits 8..15)
    mask = R.INT_MASK,
    command = 0, command_timer = nil,
    port = 0, port_timer = nil,
    cu = { state = R.CUS_IDLE, base = 0, ptr = 0, timer = nil, dump = 0 },
    ru = { state = R.RUS_IDLE, base = 0, ptr = 0 },
    phy = phy_registers(),
    counters = { tx_good = 0, rx_good = 0, rx_resource = 0 },
    rx_queue = {}, rx_busy_until = 0,
    transmitted = {},
    st = { commands = 0, cbs = 0, tx_frames = 0, tx_bytes = 0, tx_errors = 0, rx_frames = 0,
           rx_bytes = 0, rx_dropped = 0, interrupts = 0, resets = 0, selftests = 0, mdi = 0 },
  }
  local model

  local function get(o, n)      -- n bytes of plain storage, little-endian
    local v = 0
    for i = n - 1, 0, -1 do v = (v << 8) | (self.bytes[o + i] or 0) end
    return v
  end

  local function update_line()
    local want = self.ack ~= 0 and self.mask & R.INT_MASK == 0
    if want ~= self.line then
      self.line = want
      if want then
        self.st.interrupts = self.st.interrupts + 1
        model:raise_interrupt()
      else
        model:clear_interrupt()
      end
    end
  end

  local function interrupt(bits)
    self.ack = self.ack | bits
    update_line()
  end

  local function u16(addr) local s = model:dma_read(addr, 2) return s and string.unpack("<I2", s) end
  local function u32(addr) local s = model:dma_read(addr, 4) return s and string.unpack("<I4", s) end

  -- ---- the command unit -------------------------------------------------------

  local process

  -- The transmit of the TCB at addr: the frame its bytes and TBDs describe, or nil.
  local function gather(addr, command)
    local tbd, count, number = u32(addr + 8), u16(addr + 12), model:dma_read(addr + 15, 1)
    if not (tbd and count and number) then return nil end
    local parts = {}
    count = count & R.COUNT_MASK
    if count > 0 then parts[1] = model:dma_read(addr + 16, count) end
    if command & R.CB_SF ~= 0 and tbd ~= R.NULL_POINTER then
      for i = 0, number:byte() - 1 do
        local at = self.cu.base + tbd + 8 * i
        local buffer, n = u32(at), u32(at + 4)
        if not (buffer and n) then return nil end
        local bytes = model:dma_read(self.cu.base + buffer, n & R.COUNT_MASK)
        if not bytes then return nil end
        parts[#parts + 1] = bytes
        if n & R.TBD_EL ~= 0 then break end
      end
    end
    for _, p in ipairs(parts) do if not p then return nil end end
    return table.concat(parts)
  end

  -- The dump of the statistical counters (ERR_COUNT_STRUC) with its completion word.
  local function dump_counters(code, reset)
    local c = self.counters
    local words = { c.tx_good, 0, 0, 0, 0, 0, 0, 0, 0, c.rx_good, 0, 0, c.rx_resource, 0, 0, 0, code }
    model:dma_write(self.cu.dump, string.pack("<" .. ("I4"):rep(#words), table.unpack(words)))
    if reset then self.counters = { tx_good = 0, rx_good = 0, rx_resource = 0 } end
  end

  -- The CB at addr is done: its effect, its status, then what its command bits say.
  local function cb_done(addr, command)
    local cu = self.cu
    cu.timer = nil
    self.st.cbs = self.st.cbs + 1
    local ok = true
    local kind = command & R.CB_CMD_MASK
    if kind == R.CB_TRANSMIT then
      local frame = gather(addr, command)
      if frame then
        self.transmitted[#self.transmitted + 1] = frame
        self.st.tx_frames, self.st.tx_bytes = self.st.tx_frames + 1, self.st.tx_bytes + #frame
        self.counters.tx_good = self.counters.tx_good + 1
        if self.on_transmit then self.on_transmit(frame) end
      else
        ok = false
        self.st.tx_errors = self.st.tx_errors + 1
      end
    elseif kind == R.CB_IA_ADDRESS then
      self.address = model:dma_read(addr + 8, 6)
    end
    model:dma_write(addr, string.pack("<I2", R.CB_STATUS_COMPLETE | (ok and R.CB_STATUS_OK or 0)))
    local now = u16(addr + 2) or R.CB_EL      -- the driver may have cleared S meanwhile
    local bits = now & R.CB_I ~= 0 and R.CX or 0
    if now & R.CB_EL ~= 0 then
      cu.state = R.CUS_IDLE
      interrupt(bits | R.CNA)
    elseif now & R.CB_S ~= 0 then
      cu.state = R.CUS_SUSPEND
      interrupt(bits | R.CNA)
    else
      if bits ~= 0 then interrupt(bits) end
      process(cu.base + (u32(addr + 4) or 0))
    end
  end

  -- The CU fetches the CB at addr and runs it.
  process = function(addr)
    local cu = self.cu
    cu.ptr, cu.state = addr, R.CUS_ACTIVE
    local command = u16(addr + 2)
    if not command then
      cu.state = R.CUS_IDLE
      return interrupt(R.CNA)
    end
    local cost = self.cb_latency
    if command & R.CB_CMD_MASK == R.CB_TRANSMIT then
      local count, tbd = u16(addr + 12) or 0, u32(addr + 8) or R.NULL_POINTER
      local n = model:dma_read(addr + 15, 1)
      local number = n and n:byte() or 0
      local bytes = count & R.COUNT_MASK
      if tbd ~= R.NULL_POINTER then
        for i = 0, number - 1 do bytes = bytes + ((u32(cu.base + tbd + 8 * i + 4) or 0) & R.COUNT_MASK) end
      end
      cost = cost + bytes * NS_PER_BYTE
    end
    cu.timer = m:after(cost, function() cb_done(addr, command) end)
  end

  local function cu_command(c)
    local cu, gp = self.cu, get(R.SCB_GENERAL_POINTER, 4)
    if c == R.CUC_START and cu.state ~= R.CUS_ACTIVE then
      process(cu.base + gp)
    elseif c == R.CUC_RESUME and cu.state == R.CUS_SUSPEND then
      process(cu.base + (u32(cu.ptr + 4) or 0))
    elseif c == R.CUC_LOAD_BASE then
      cu.base = gp
    elseif c == R.CUC_DUMP_ADDR then
      cu.dump = cu.base + gp
    elseif c == R.CUC_DUMP_STAT or c == R.CUC_DUMP_RST_STAT then
      dump_counters(c == R.CUC_DUMP_STAT and 0xA005 or 0xA007, c == R.CUC_DUMP_RST_STAT)
    end
  end

  -- ---- the receive unit ---------------------------------------------------------

  local function receive(frame)
    local ru = self.ru
    if ru.state ~= R.RUS_READY then
      self.st.rx_dropped = self.st.rx_dropped + 1
      self.counters.rx_resource = self.counters.rx_resource + 1
      return
    end
    local rfd = ru.ptr
    local command, size = u16(rfd + 2), u16(rfd + 14)
    if not (command and size) then
      ru.state = R.RUS_NO_RESOURCES
      return interrupt(R.RNR)
    end
    local ok = command & R.CB_SF == 0
    local n = ok and math.min(#frame, size & R.COUNT_MASK) or 0
    if n > 0 then model:dma_write(rfd + 16, frame:sub(1, n)) end
    ok = ok and n == #frame
    model:dma_write(rfd + 12, string.pack("<I2", n | R.RFD_EOF | R.RFD_F))
    model:dma_write(rfd, string.pack("<I2", R.CB_STATUS_COMPLETE | (ok and R.CB_STATUS_OK or 0)))
    self.st.rx_frames, self.st.rx_bytes = self.st.rx_frames + 1, self.st.rx_bytes + n
    self.counters.rx_good = self.counters.rx_good + 1
    if command & R.CB_EL ~= 0 then
      ru.state = R.RUS_NO_RESOURCES
      interrupt(R.FR | R.RNR)
    elseif command & R.CB_S ~= 0 then
      ru.state = R.RUS_SUSPEND
      interrupt(R.FR | R.RNR)
    else
      ru.ptr = ru.base + (u32(rfd + 4) or 0)
      interrupt(R.FR)
    end
  end

  local function ru_command(c)
    local ru, gp = self.ru, get(R.SCB_GENERAL_POINTER, 4)
    if c == R.RUC_START then
      ru.ptr, ru.state = ru.base + gp, R.RUS_READY
    elseif c == R.RUC_RESUME and ru.state == R.RUS_SUSPEND then
      ru.ptr, ru.state = ru.base + (u32(ru.ptr + 4) or 0), R.RUS_READY
    elseif c == R.RUC_ABORT then
      ru.state = R.RUS_IDLE
    elseif c == R.RUC_LOAD_BASE then
      ru.base = gp
    end
  end

  -- ---- SCB command, PORT, MDI ------------------------------------------------------

  local function take_command()
    self.command_timer = nil
    local c = self.command
    self.st.commands = self.st.commands + 1
    if c & 0xF0 ~= 0 then cu_command(c & 0xF0) end
    if c & 0x07 ~= 0 then ru_command(c & 0x07) end
    self.command = 0
  end

  local function idle_units()
    if self.cu.timer then m:cancel(self.cu.timer) end
    self.cu.timer, self.cu.state, self.ru.state = nil, R.CUS_IDLE, R.RUS_IDLE
  end

  local function port_write(v)
    if self.port_timer then m:cancel(self.port_timer) end
    self.port = v
    local fn, addr = v & 0xF, v & ~0xF
    local function done(f)
      return function()
        self.port_timer = nil
        if f then f() end
        self.port = 0
      end
    end
    if fn == R.PORT_SOFTWARE_RESET then
      self.st.resets = self.st.resets + 1
      idle_units()
      if self.command_timer then m:cancel(self.command_timer) end
      self.command_timer, self.command = nil, 0
      self.cu.base, self.ru.base, self.ack, self.mask = 0, 0, 0, R.INT_MASK
      self.bytes = {}
      update_line()
      self.port_timer = m:after(self.reset_time, done())
    elseif fn == R.PORT_SELFTEST then
      self.st.selftests = self.st.selftests + 1
      self.port_timer = m:after(self.selftest_time, done(function()
        model:dma_write(addr, string.pack("<I4I4", R.SELFTEST_SIGNATURE, 0))
      end))
    elseif fn == R.PORT_SELECTIVE_RESET then
      idle_units()
      self.port_timer = m:after(self.reset_time, done())
    else
      self.port_timer = m:after(self.reset_time, done())
    end
  end

  local function mdi_write(v)
    self.st.mdi = self.st.mdi + 1
    local op, reg = (v >> 26) & 3, (v >> 16) & 0x1F
    if op == R.MDI_WRITE then
      self.phy[reg] = v & 0xFFFF
      self.mdi = v | R.MDI_READY
    else
      self.mdi = (v & ~0xFFFF) | (self.phy[reg] or 0) | R.MDI_READY
    end
  end

  -- ---- register access --------------------------------------------------------------

  local function read_byte(o)
    if o == 0 then return self.cu.state | self.ru.state end
    if o == 1 then return self.ack >> 8 end
    if o == 2 then return self.command end
    if o == 3 then return self.mask end
    if o >= R.PORT and o < R.PORT + 4 then return (self.port >> (8 * (o - R.PORT))) & 0xFF end
    if o >= R.MDI_CONTROL and o < R.MDI_CONTROL + 4 then
      return ((self.mdi or 0) >> (8 * (o - R.MDI_CONTROL))) & 0xFF
    end
    return self.bytes[o] or 0
  end

  local function read(_, offset, size)
    local v = 0
    for i = size - 1, 0, -1 do v = (v << 8) | read_byte(offset + i) end
    return v
  end

  local function write(_, offset, size, value)
    local function byte(o) return (value >> (8 * (o - offset))) & 0xFF end
    local function covers(o) return o >= offset and o < offset + size end
    for i = 0, size - 1 do self.bytes[offset + i] = (value >> (8 * i)) & 0xFF end
    if covers(1) then                                       -- STAT/ACK: write 1 to clear
      self.ack = self.ack & ~(byte(1) << 8)
      update_line()
    end
    if covers(3) then
      self.mask = byte(3)
      if self.mask & R.SOFT_INT ~= 0 then self.ack = self.ack | R.SWI end
      update_line()
    end
    if covers(2) and byte(2) ~= 0 then
      self.command = byte(2)
      if self.command_timer then m:cancel(self.command_timer) end
      self.command_timer = m:after(self.command_latency, take_command)
    end
    if covers(R.PORT + 3) then port_write(get(R.PORT, 4)) end
    if covers(R.MDI_CONTROL + 3) then mdi_write(get(R.MDI_CONTROL, 4)) end
  end

  model = m:device_model {
    name = opts.name or "e100",
    bars = { { size = R.BAR_SIZE } },
    ports = { { size = R.IO_SIZE } },
    interrupts = { { vector = opts.vector or 40, irql = opts.irql or 7 } },
    read = read, write = write,
  }
  self.model = model
  self.line = false
  self.device, self.resources, self.name = model.device, model.resources, model.name

  -- A frame from the wire: it arrives after the frames before it.
  function self.deliver_at(frame)
    local start = math.max(m.now, self.rx_busy_until)
    self.rx_busy_until = start + #frame * NS_PER_BYTE
    m:after(self.rx_busy_until - m.now, function() receive(frame) end)
  end
  return setmetatable(self, { __index = e100 })
end

-- A frame arrives from the wire.
function e100:inject(frame)
  assert(type(frame) == "string" and #frame > 0, "e100_model: inject(frame) wants a non-empty string")
  self.deliver_at(frame)
end

-- What the chip did: commands (SCB commands taken), cbs (command blocks
-- run), tx_frames, tx_bytes, tx_errors, rx_frames, rx_bytes, rx_dropped
-- (frames lost: RU not ready), interrupts (line assertions), resets,
-- selftests, mdi (MDI operations).
function e100:stats()
  local s = {}
  for k, v in pairs(self.st) do s[k] = v end
  return s
end

-- The RU's state (R.RUS_*) and the CU's (R.CUS_*).
function e100:units() return self.ru.state, self.cu.state end

return e100
