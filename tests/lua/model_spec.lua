-- Device models and their registers: m:device_model{...}, the resources a
-- driver finds, MmMapIoSpace / MmUnmapIoSpace, READ_REGISTER_* and
-- WRITE_REGISTER_* (and the BUFFER forms), DMA by logical address with the
-- IOMMU-fault report (0xE6, P1=0x26), and a Lua device model driven end to
-- end by a Lua driver: registers, DMA, interrupt, ISR, DpcForIsr.
local dma = require "dma"
local support = require "support"

local GiB = 1 << 30

local machine = support.machine

-- A model whose reads return `value` and log every access in `log`.
-- The first value in each entry says whether the handler got the model.
local function logging_model(m, log, value)
  local hw
  hw = m:device_model {
    name = "regs", registers = 0x100, vector = 33, irql = 6,
    read = function(model, offset, size)
      log[#log + 1] = { "read", rawequal(model, hw), offset, size }
      return value
    end,
    write = function(model, offset, size, v)
      log[#log + 1] = { "write", rawequal(model, hw), offset, size, v }
    end,
  }
  return hw
end

describe("m:device_model", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("comes with a DEVICE_OBJECT and the resources a driver finds at start", function()
    m = machine { ram = "8G" }
    local hw = m:device_model { name = "nic", registers = 0x100, vector = 21, irql = 6 }
    assert.matches("^DEVICE_OBJECT", tostring(hw.device))
    assert.are.equal(hw.device, hw.device)  -- one handle
    assert.are.equal("nic", hw.name)
    assert.are.equal(m, hw.machine)
    local r = hw.resources
    assert.are.equal(4096, r.memory.length)  -- a page at least
    assert.is_true(r.memory.start >= 8 * GiB)  -- above RAM
    assert.are.equal(0, r.memory.start % 4096)
    assert.are.same({ vector = 21, level = 6 }, r.interrupt)
    assert.has_error(function() m:read_phys(r.memory.start, 4) end)  -- not RAM
    local second = m:device_model { registers = "8K" }
    local r2 = second.resources
    assert.are.equal(8192, r2.memory.length)
    assert.is_true(r2.memory.start >= r.memory.start + r.memory.length)  -- no overlap
    assert.are.same({ vector = 16, level = 5 }, r2.interrupt)  -- the defaults
    assert.matches("^device model nic registers=0x%x+%+4096 vector=21 irql=6$", tostring(hw))
  end)

  it("puts the register block above 4 GiB on a small machine", function()
    m = machine { ram = "1G" }
    local hw = m:device_model { registers = 64 }
    assert.is_true(hw.resources.memory.start >= 4 * GiB)
  end)

  it("rejects bad options", function()
    m = machine {}
    assert.has_error(function() m:device_model { vector = 256 } end)
    assert.has_error(function() m:device_model { irql = 2 } end)
    assert.has_error(function() m:device_model { irql = 16 } end)
    assert.has_error(function() m:device_model { registers = 0 } end)
    assert.has_error(function() m:device_model { read = "not a function" } end)
    assert.has_error(function() m:device_model { write = 42 } end)
  end)
end)

describe("device model handles", function()
  it("are new for a new model and its device, never kept handles of a closed machine's", function()
    local kept = {}
    for i = 1, 64 do
      local m = dma.machine {}  -- no collection between machines: old handles stay alive
      local hw = m:device_model { name = "h" .. i }
      local dev = hw.device
      for _, old in ipairs(kept) do
        assert.are_not.equal(old, hw, i)
        assert.are_not.equal(old, dev, i)
      end
      assert.are.equal("h" .. i, hw.name)
      assert.matches("h" .. i, tostring(dev))
      kept[#kept + 1] = hw
      kept[#kept + 1] = dev
      m:close()
    end
  end)
end)

describe("device registers", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("READ_REGISTER_* call read(model, offset, size) and keep the low bytes of the size", function()
    m = machine {}
    local log = {}
    local hw = logging_model(m, log, 0x1122334455667788)
    local res = hw.resources.memory
    local va = dma.MmMapIoSpace(res.start, res.length, dma.MmNonCached)
    assert.is_true(va > 0)
    assert.are.equal(0x88, dma.READ_REGISTER_UCHAR(va + 3))
    assert.are.equal(0x7788, dma.READ_REGISTER_USHORT(va + 0x10))
    assert.are.equal(0x55667788, dma.READ_REGISTER_ULONG(va + 0x24))
    assert.are.equal(0x1122334455667788, dma.READ_REGISTER_ULONG64(va + 0x80))
    assert.are.same({ { "read", true, 3, 1 }, { "read", true, 0x10, 2 }, { "read", true, 0x24, 4 },
                      { "read", true, 0x80, 8 } }, log)
    -- a register the model does not implement reads as 0
    local silent = m:device_model {}
    local sva = dma.MmMapIoSpace(silent.resources.memory.start, 4096, dma.MmNonCached)
    assert.are.equal(0, dma.READ_REGISTER_ULONG(sva))
  end)

  it("WRITE_REGISTER_* call write(model, offset, size, value) and record 'device_program'", function()
    m = machine {}
    local log = {}
    local hw = logging_model(m, log, 0)
    local va = dma.MmMapIoSpace(hw.resources.memory.start, 0x100, dma.MmNonCached)
    dma.WRITE_REGISTER_UCHAR(va + 1, 0x1ff)
    dma.WRITE_REGISTER_USHORT(va + 2, 0x12345)
    dma.WRITE_REGISTER_ULONG(va + 4, 0x1deadbeef)
    dma.WRITE_REGISTER_ULONG64(va + 8, 0x0102030405060708)
    assert.are.same({ { "write", true, 1, 1, 0xff }, { "write", true, 2, 2, 0x2345 },
                      { "write", true, 4, 4, 0xdeadbeef }, { "write", true, 8, 8, 0x0102030405060708 } },
                    log)
    local recs = m:trace("device_program")
    assert.are.equal(4, #recs)
    for i, want in ipairs { { 1, 0xff }, { 2, 0x2345 }, { 4, 0xdeadbeef }, { 8, 0x0102030405060708 } } do
      assert.are.same({ hw.id, want[1], want[2] }, { recs[i].obj, recs[i].a, recs[i].b })
    end
  end)

  it("the BUFFER forms read into and write from a table 1..Count, register after register", function()
    m = machine {}
    local log = {}
    local hw = m:device_model {
      read = function(_, offset, size) return offset * 0x1000001 + size end,
      write = function(_, offset, size, v) log[#log + 1] = { offset, size, v } end,
    }
    local va = dma.MmMapIoSpace(hw.resources.memory.start, 4096, dma.MmNonCached)
    local t = {}
    dma.READ_REGISTER_BUFFER_ULONG(va + 8, t, 3)
    assert.are.same({ (8 * 0x1000001 + 4) & 0xffffffff, (12 * 0x1000001 + 4) & 0xffffffff,
                      (16 * 0x1000001 + 4) & 0xffffffff }, t)
    local bytes = {}
    dma.READ_REGISTER_BUFFER_UCHAR(va, bytes, 2)
    assert.are.same({ 1, (0x1000001 + 1) & 0xff }, bytes)
    dma.WRITE_REGISTER_BUFFER_USHORT(va + 0x20, { 1, 2, 0x1ffff }, 3)
    assert.are.same({ { 0x20, 2, 1 }, { 0x22, 2, 2 }, { 0x24, 2, 0xffff } }, log)
    dma.WRITE_REGISTER_BUFFER_ULONG64(va + 0x40, { 7 }, 1)
    dma.WRITE_REGISTER_BUFFER_ULONG(va, { 9 }, 0)  -- Count 0: nothing
    assert.are.same({ 0x40, 8, 7 }, log[4])
    assert.are.equal(4, #log)
    assert.are.equal(4, #m:trace("device_program"))
    assert.has_error(function() dma.READ_REGISTER_BUFFER_ULONG(va, t, -1) end)
  end)

  it("an address that is not a mapped register is an error", function()
    m = machine {}
    local hw = m:device_model {}
    local res = hw.resources.memory
    local msg = "bad argument #1 to 'READ_REGISTER_ULONG' (not a mapped device register "
                .. "(MmMapIoSpace first))"
    assert.has_error(function() dma.READ_REGISTER_ULONG(res.start) end, msg)  -- physical, not mapped
    local b = m:buffer(4096)
    assert.has_error(function() dma.READ_REGISTER_ULONG(b.va) end, msg)  -- RAM
    local va = dma.MmMapIoSpace(res.start + 0x100, 0x10, dma.MmNonCached)
    assert.are.equal(0, dma.READ_REGISTER_ULONG(va + 0xc))
    assert.has_error(function() dma.READ_REGISTER_ULONG(va + 0x10) end, msg)  -- past the mapping
    assert.has_error(function() dma.WRITE_REGISTER_ULONG(va + 0x10, 1) end,
      "bad argument #1 to 'WRITE_REGISTER_ULONG' (not a mapped device register (MmMapIoSpace first))")
    assert.has_error(function() dma.READ_REGISTER_BUFFER_ULONG(va + 8, {}, 3) end)  -- runs off the end
    assert.are.equal(0, #m:trace("device_program"))
  end)

  it("MmMapIoSpace outside a register block is an error", function()
    m = machine { ram = "1G" }
    local hw = m:device_model { registers = 4096 }
    local res = hw.resources.memory
    local msg = "bad argument #1 to 'MmMapIoSpace' (not inside a device's register block)"
    assert.has_error(function() dma.MmMapIoSpace(0, 4096, dma.MmNonCached) end, msg)  -- RAM
    assert.has_error(function() dma.MmMapIoSpace(res.start + 0x800, 4096, dma.MmNonCached) end, msg)
    assert.has_error(function() dma.MmMapIoSpace(res.start + res.length, 4, dma.MmNonCached) end, msg)
    assert.has_error(function() dma.MmMapIoSpace(res.start, 0, dma.MmNonCached) end, msg)
    assert.has_error(function() dma.MmMapIoSpace(res.start - 4096, 4, dma.MmNonCached) end, msg)
  end)

  it("MmUnmapIoSpace ends the mapping", function()
    m = machine {}
    local hw = m:device_model { read = function() return 5 end }
    local res = hw.resources.memory
    local va = dma.MmMapIoSpace(res.start, res.length, dma.MmNonCached)
    local va2 = dma.MmMapIoSpace(res.start, res.length, dma.MmNonCached)  -- a second view
    assert.are_not.equal(va, va2)
    assert.are.equal(5, dma.READ_REGISTER_ULONG(va))
    dma.MmUnmapIoSpace(va, res.length)
    assert.has_error(function() dma.READ_REGISTER_ULONG(va) end)
    assert.are.equal(5, dma.READ_REGISTER_ULONG(va2))
    assert.has_error(function() dma.MmUnmapIoSpace(va, res.length) end,
      "bad argument #1 to 'MmUnmapIoSpace' (not an address MmMapIoSpace returned)")
    local b = m:buffer(4096)
    assert.has_error(function() dma.MmUnmapIoSpace(b.va, 4096) end)  -- not I/O space
    dma.MmUnmapIoSpace(va2, res.length)
  end)

  it("raises an error from a register handler in the register call, with a traceback", function()
    m = machine {}
    local hw = m:device_model {
      read = function(_, offset)
        if offset == 0 then error("register exploded") end
        return offset
      end,
      write = function() error("write exploded") end,
    }
    local va = dma.MmMapIoSpace(hw.resources.memory.start, 4096, dma.MmNonCached)
    local ok, err = pcall(dma.READ_REGISTER_ULONG, va)
    assert.is_false(ok)
    assert.matches("register exploded", err)
    assert.matches("stack traceback:", err)
    ok, err = pcall(dma.WRITE_REGISTER_BUFFER_ULONG, va, { 1, 2 }, 2)
    assert.is_false(ok)
    assert.matches("write exploded", err)
    assert.are.equal(8, dma.READ_REGISTER_ULONG(va + 8))  -- still usable afterwards
  end)
end)

describe("model:dma_read and model:dma_write", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("give nil / false for a logical address nobody mapped, with report 0x26", function()
    m = machine { verifier = "record" }
    local hw = m:device_model { name = "rogue" }
    assert.is_nil(hw:dma_read(0x100000, 64))
    assert.is_false(hw:dma_write(0x200000, "abc"))
    local reports = m:reports()
    assert.are.equal(2, #reports)
    for _, r in ipairs(reports) do
      assert.are.equal(0xE6, r.bugcheck)
      assert.are.equal(0x26, r.p1)
    end
    assert.are.equal(0, m:read_phys(0x200000, 3):find("abc") or 0)  -- nothing written
  end)

  it("raise the report as an error by default", function()
    m = machine {}
    local hw = m:device_model {}
    assert.has_error(function() hw:dma_read(0x100000, 64) end)
    local ok, err = pcall(hw.dma_write, hw, 0x100000, "x")
    assert.is_false(ok)
    assert.matches("DRIVER_VERIFIER_DMA_VIOLATION %(0xE6, P1=0x26%)", err)
  end)

  it("reach memory a driver mapped for the device (a common buffer)", function()
    m = machine {}
    local hw = m:device_model {}
    local a = dma.IoGetDmaAdapter(hw.device, {
      Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, ScatterGather = true,
      Dma64BitAddresses = true, InterfaceType = dma.PCIBus, MaximumLength = 64 * 1024 })
    local va, logical = a:AllocateCommonBuffer(8192, false)
    m:write(va, "from the CPU")
    assert.are.equal("from the CPU", hw:dma_read(logical, 12))
    assert.is_true(hw:dma_write(logical + 4096, "from the device"))
    assert.are.equal("from the device", m:read(va + 4096, 15))
    a:FreeCommonBuffer(8192, logical, va, false)
    a:PutDmaAdapter()
    assert.are.same({}, m:reports())
  end)
end)

-- A Lua device: a DMA engine with five 32-bit registers. Writing GO to CMD
-- starts a transfer of LEN bytes of pattern(seq) to ADDR; it finishes
-- `busy` later: the bytes land, STATUS gets DONE and the line goes up.
-- Writing DONE to STATUS acknowledges (write 1 to clear) and drops the line.
local CMD, STATUS, ADDR_LO, ADDR_HI, LEN = 0x00, 0x04, 0x08, 0x0C, 0x10
local GO, DONE = 1, 1

local function dma_engine(m, busy)
  local regs = { [CMD] = 0, [STATUS] = 0, [ADDR_LO] = 0, [ADDR_HI] = 0, [LEN] = 0 }
  local seq = 0
  local hw
  hw = m:device_model {
    name = "engine", registers = 0x20, vector = 45, irql = 7,
    read = function(_, offset) return regs[offset] or 0xffffffff end,
    write = function(model, offset, _, value)
      if offset == STATUS then
        regs[STATUS] = regs[STATUS] & ~value
        if regs[STATUS] & DONE == 0 then model:clear_interrupt() end
      elseif offset == CMD and value == GO then
        seq = seq + 1
        local n, addr = seq, regs[ADDR_HI] << 32 | regs[ADDR_LO]
        m:after(busy, function()
          assert(hw:dma_write(addr, dma.pattern(regs[LEN], n)))
          regs[STATUS] = regs[STATUS] | DONE
          hw:raise_interrupt()
        end)
      elseif regs[offset] then
        regs[offset] = value
      end
    end,
  }
  return hw
end

describe("a Lua device model driven by a Lua driver", function()
  local m
  after_each(function() m = support.close(m) end)

  it("moves data by DMA and completes through the ISR and the DpcForIsr", function()
    m = machine { seed = 9 }
    local hw = dma_engine(m, "10us")
    -- the driver: start, then per request program, interrupt, DPC
    local ext = { device = hw.device, completed = {} }
    local res = hw.resources
    ext.regs = dma.MmMapIoSpace(res.memory.start, res.memory.length, dma.MmNonCached)
    ext.adapter = dma.IoGetDmaAdapter(ext.device, {
      Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, ScatterGather = true,
      Dma64BitAddresses = true, InterfaceType = dma.PCIBus, MaximumLength = 64 * 1024 })
    ext.len = 3000
    ext.va, ext.logical = ext.adapter:AllocateCommonBuffer(4096, false)

    local function start_io(e, irp)
      e.irp = irp
      dma.WRITE_REGISTER_ULONG(e.regs + ADDR_LO, e.logical & 0xffffffff)
      dma.WRITE_REGISTER_ULONG(e.regs + ADDR_HI, e.logical >> 32)
      dma.WRITE_REGISTER_ULONG(e.regs + LEN, e.len)
      dma.WRITE_REGISTER_ULONG(e.regs + CMD, GO)
    end

    local function isr(_, e)
      if dma.READ_REGISTER_ULONG(e.regs + STATUS) & DONE == 0 then return false end
      dma.WRITE_REGISTER_ULONG(e.regs + STATUS, DONE)  -- acknowledge: the line drops
      dma.IoRequestDpc(e.device, e.irp, e)
      return true
    end

    local function dpc_for_isr(_, device, irp, e)
      assert.are.equal(e.device, device)
      e.completed[#e.completed + 1] = { irp = irp, at = m.now, irql = dma.KeGetCurrentIrql(),
                                        data = m:read(e.va, e.len) }
      if irp < 3 then start_io(e, irp + 1) end  -- the next request, from the DPC
    end

    dma.IoInitializeDpcRequest(ext.device, dpc_for_isr)
    local status, intr = dma.IoConnectInterrupt(isr, ext, nil, res.interrupt.vector,
      res.interrupt.level, res.interrupt.level, dma.LevelSensitive, false, 1, false)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    start_io(ext, 1)
    m:run()

    -- each request: 10 us busy + 1 us interrupt latency + 2 us DPC latency
    assert.are.equal(3, #ext.completed)
    for i, c in ipairs(ext.completed) do
      assert.are.equal(i, c.irp)
      assert.are.equal(13000 * i, c.at)
      assert.are.equal(dma.DISPATCH_LEVEL, c.irql)
      assert.are.equal(dma.pattern(ext.len, i), c.data)
    end
    local s = m:run_stats()
    assert.are.same({ 3, 3, 0, 3 }, { s.interrupts, s.isrs, s.interrupts_unclaimed, s.dpcs })
    assert.are.equal(3 * 5, #m:trace("device_program"))  -- 4 per start, 1 ack
    local first = {}
    for i = 1, 9 do first[i] = m:trace()[i].kind end
    assert.are.same({ "device_program", "device_program", "device_program", "device_program",
                      "interrupt", "device_program", "dpc_queued", "isr", "dpc_run" }, first)
    assert.is_false(hw.interrupt_asserted)
    assert.are.same({}, m:reports())

    dma.IoDisconnectInterrupt(intr)
    dma.MmUnmapIoSpace(ext.regs, res.memory.length)
    ext.adapter:FreeCommonBuffer(4096, ext.logical, ext.va, false)
    ext.adapter:PutDmaAdapter()
  end)
end)
