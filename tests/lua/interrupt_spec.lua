-- Interrupts (reference section 3): IoConnectInterrupt, ISRs at DIRQL an
-- interrupt latency after a device raises its line, shared lines, level and
-- latched modes, unclaimed interrupts and storms, IoRequestDpc and the
-- DpcForIsr, KeSynchronizeExecution, IoDisconnectInterrupt.
local dma = require "dma"
local support = require "support"

local STATUS_SHARING_VIOLATION = 0xC0000043

local machine, kinds = support.machine, support.kinds

-- IoConnectInterrupt with the usual arguments: no spin lock, SynchronizeIrql
-- = Irql unless given, CPU 0, no floating-point state.
local function connect(isr, ctx, vector, irql, o)
  o = o or {}
  return dma.IoConnectInterrupt(isr, ctx, nil, vector, irql, o.sync or irql,
                                o.mode or dma.LevelSensitive, o.share or false, o.mask or 1, false)
end

describe("IoConnectInterrupt", function()
  local m
  after_each(function() m = support.close(m) end)

  it("returns STATUS_SUCCESS and a KINTERRUPT", function()
    m = machine {}
    local status, intr = connect(function() return true end, nil, 17, 7)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    assert.are.equal(0, status)
    assert.matches("^KINTERRUPT#%d+ vector=17 irql=7 level claimed=0$", tostring(intr))
    local _, latched = connect(function() return true end, nil, 18, 8,
                               { mode = dma.Latched, share = true })
    assert.matches("^KINTERRUPT#%d+ vector=18 irql=8 latched shared claimed=0$", tostring(latched))
  end)

  it("runs ServiceRoutine(Interrupt, ServiceContext) at its Irql, interrupt_latency after the "
     .. "device raises its line", function()
    m = machine { interrupt_latency = "3us" }
    local hw = m:device_model { name = "dev", vector = 17, irql = 7 }
    local ctx = { "extension" }
    local calls = {}
    local _, intr
    _, intr = connect(function(Interrupt, ServiceContext)
      calls[#calls + 1] = { intr = rawequal(Interrupt, intr), ctx = ServiceContext,
                            irql = dma.KeGetCurrentIrql(), now = m.now }
      hw:clear_interrupt()
      return true
    end, ctx, 17, 7)
    m:after(500, function() hw:raise_interrupt() end)
    m:run()
    assert.are.same({ { intr = true, ctx = ctx, irql = 7, now = 3500 } }, calls)
    assert.are.equal(ctx, calls[1].ctx)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    local s = m:run_stats()
    assert.are.same({ 1, 1, 0 }, { s.interrupts, s.isrs, s.interrupts_unclaimed })
    local rec = m:trace("interrupt")[1]
    assert.are.same({ 3500, 17, hw.id }, { rec.time, rec.obj, rec.a })
    local isr = m:trace("isr")[1]
    assert.are.same({ 3500, 0, 7, 17, 1 }, { isr.time, isr.cpu, isr.irql, isr.obj, isr.a })
    assert.matches("claimed=1$", tostring(intr))
  end)

  it("waits 1000 ns by default, and not at all for a line withdrawn in time", function()
    m = machine {}
    local hw = m:device_model { vector = 20, irql = 5 }
    local at = {}
    connect(function()
      at[#at + 1] = m.now
      hw:clear_interrupt()
      return true
    end, nil, 20, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.same({ 1000 }, at)
    hw:raise_interrupt()
    m:after(400, function() hw:clear_interrupt() end)  -- a level line gone before delivery
    m:run()
    assert.are.same({ 1000 }, at)
  end)

  it("runs the ISRs of a shared line in connection order until one returns TRUE", function()
    m = machine {}
    local a = m:device_model { name = "a", vector = 18, irql = 6 }
    local b = m:device_model { name = "b", vector = 18, irql = 6 }
    local pending = {}
    local log = {}
    local function isr(_, name)
      log[#log + 1] = name
      if not pending[name] then return false end  -- not mine
      pending[name] = nil
      if name == "a" then a:clear_interrupt() else b:clear_interrupt() end
      return true
    end
    assert.are.equal(0, (connect(isr, "a", 18, 6, { share = true })))
    assert.are.equal(0, (connect(isr, "b", 18, 6, { share = true })))
    pending.b = true
    b:raise_interrupt()
    m:run()
    assert.are.same({ "a", "b" }, log)
    pending.a = true
    a:raise_interrupt()
    m:run()
    assert.are.same({ "a", "b", "a" }, log)  -- b is not asked once a claimed it
    local claimed = {}
    for _, r in ipairs(m:trace("isr")) do claimed[#claimed + 1] = r.a end
    assert.are.same({ 0, 1, 1 }, claimed)
    local s = m:run_stats()
    assert.are.same({ 2, 3, 0 }, { s.interrupts, s.isrs, s.interrupts_unclaimed })
  end)

  it("keeps a shared level line asserted while any device on it still asserts it", function()
    m = machine {}
    local a = m:device_model { name = "a", vector = 18, irql = 6 }
    local b = m:device_model { name = "b", vector = 18, irql = 6 }
    local pending = { a = true, b = true }
    local log = {}
    local function isr(_, name)
      if not pending[name] then return false end
      pending[name] = nil
      log[#log + 1] = name .. "@" .. m.now
      if name == "a" then a:clear_interrupt() else b:clear_interrupt() end
      return true
    end
    connect(isr, "a", 18, 6, { share = true })
    connect(isr, "b", 18, 6, { share = true })
    a:raise_interrupt()
    b:raise_interrupt()
    m:run()
    -- a claims the first delivery; b still holds the line, so it is delivered again
    assert.are.same({ "a@1000", "b@2000" }, log)
    assert.is_false(a.interrupt_asserted)
    assert.are.equal(0, m:run_stats().interrupts_unclaimed)
  end)

  it("refuses a second ISR on a line unless both share it: STATUS_SHARING_VIOLATION", function()
    m = machine {}
    local function isr() return true end
    assert.are.equal(0, (connect(isr, nil, 30, 5)))
    local status, intr = connect(isr, nil, 30, 5)
    assert.are.equal(STATUS_SHARING_VIOLATION, status)
    assert.is_nil(intr)
    assert.are.equal(STATUS_SHARING_VIOLATION, (connect(isr, nil, 30, 5, { share = true })))
    assert.are.equal(0, (connect(isr, nil, 31, 5, { share = true })))
    assert.are.equal(STATUS_SHARING_VIOLATION, (connect(isr, nil, 31, 5)))
    assert.are.equal(0, (connect(isr, nil, 31, 5, { share = true })))
  end)

  it("delivers a level-sensitive line again while it stays asserted after the ISR", function()
    m = machine {}
    local hw = m:device_model { vector = 19, irql = 5 }
    local at = {}
    connect(function()
      at[#at + 1] = m.now
      if #at == 3 then hw:clear_interrupt() end  -- the device is serviced on the third
      return true
    end, nil, 19, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.same({ 1000, 2000, 3000 }, at)
    assert.are.equal(3, m:run_stats().interrupts)
  end)

  it("delivers a Latched line once per rising edge", function()
    m = machine {}
    local hw = m:device_model { vector = 21, irql = 9 }
    local at = {}
    connect(function()
      at[#at + 1] = m.now
      return true  -- and leaves the line asserted
    end, nil, 21, 9, { mode = dma.Latched })
    hw:raise_interrupt()
    m:run()
    assert.are.same({ 1000 }, at)
    hw:raise_interrupt()  -- still high: no new edge
    m:run()
    assert.are.same({ 1000 }, at)
    hw:clear_interrupt()
    hw:raise_interrupt()
    m:run()
    assert.are.same({ 1000, 2000 }, at)
  end)

  it("counts a line no ISR claims and masks it after 1000 unclaimed deliveries", function()
    m = machine {}
    local hw = m:device_model { vector = 22, irql = 5 }
    local asked = 0
    connect(function()
      asked = asked + 1
      return false
    end, nil, 22, 5)
    hw:raise_interrupt()
    m:run()  -- ends: the masked line is not delivered any more
    local s = m:run_stats()
    assert.are.same({ 1000, 1000, 1000 }, { s.interrupts, s.interrupts_unclaimed, s.isrs })
    assert.are.equal(1000, asked)
    assert.are.equal(1000 * 1000, m.now)
    local faults = m:trace("fault")
    assert.are.equal(1, #faults)
    -- obj = the device, a = the fault kind (0xFFFF: interrupt storm), b = the vector
    assert.are.same({ 1000 * 1000, hw.id, 0xFFFF, 22 },
                    { faults[1].time, faults[1].obj, faults[1].a, faults[1].b })
    hw:clear_interrupt()
    hw:raise_interrupt()
    m:run()
    assert.are.equal(1000, asked)  -- masked for good
  end)

  it("reads the ISR's BOOLEAN as C does: FALSE, nil and 0 are not mine", function()
    m = machine {}
    local hw = m:device_model { vector = 25, irql = 5 }
    local results = { dma.FALSE, nil, 0, 1 }
    local n = 0
    connect(function()
      n = n + 1
      if n == 4 then hw:clear_interrupt() end
      return results[n]
    end, nil, 25, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.equal(4, n)
    assert.are.equal(3, m:run_stats().interrupts_unclaimed)
  end)

  it("stops m:run() on an error in the ISR and raises it with a traceback", function()
    m = machine {}
    local hw = m:device_model { vector = 26, irql = 5 }
    local later = false
    local function broken_isr()
      hw:clear_interrupt()
      error("the ISR failed")
    end
    connect(function()
      local mine = broken_isr()  -- not a tail call: the traceback names it
      return mine
    end, nil, 26, 5)
    hw:raise_interrupt()
    m:after(5000, function() later = true end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("the ISR failed", err)
    assert.matches("stack traceback:", err)
    assert.matches("'broken_isr'", err)
    assert.are.equal(1000, m.now)
    assert.is_false(later)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    m:run()
    assert.is_true(later)
  end)

  it("counts an interrupt on a line with no ISR as unclaimed", function()
    m = machine {}
    local hw = m:device_model { vector = 23, irql = 5 }
    hw:raise_interrupt()
    m:after(2500, function() hw:clear_interrupt() end)
    m:run()
    local s = m:run_stats()
    assert.are.same({ 2, 2, 0 }, { s.interrupts, s.interrupts_unclaimed, s.isrs })
    assert.are.equal(0, #m:trace("fault"))
  end)

  it("unmasks a line masked while no ISR served it when an ISR connects", function()
    m = machine {}
    local hw = m:device_model { vector = 27, irql = 5 }
    hw:raise_interrupt()
    m:run()  -- nobody serves it: masked as a storm
    assert.are.equal(1, #m:trace("fault"))
    local served = 0
    connect(function()
      served = served + 1
      hw:clear_interrupt()
      return true
    end, nil, 27, 5)
    m:run()
    assert.are.equal(1, served)
  end)

  it("masks only after 1000 unclaimed deliveries in a row", function()
    m = machine {}
    local hw = m:device_model { vector = 24, irql = 5 }
    local asked = 0
    connect(function()
      asked = asked + 1
      if asked < 1000 then return false end
      hw:clear_interrupt()
      return true  -- the 1000th is claimed: no storm
    end, nil, 24, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.equal(999, m:run_stats().interrupts_unclaimed)
    assert.are.equal(0, #m:trace("fault"))
    hw:raise_interrupt()
    m:run()
    assert.are.equal(1001, asked)  -- not masked
  end)
end)

describe("IoRequestDpc", function()
  local m
  after_each(function() m = support.close(m) end)

  it("queues the DpcForIsr: DpcRoutine(Dpc, DeviceObject, Irp, Context) at DISPATCH_LEVEL", function()
    m = machine {}
    local hw = m:device_model { vector = 40, irql = 6 }
    local irp, ctx = { "irp" }, { "context" }
    local calls = {}
    dma.IoInitializeDpcRequest(hw.device, function(Dpc, DeviceObject, Irp, Context)
      calls[#calls + 1] = { kdpc = tostring(Dpc):match("^KDPC") ~= nil,
                            dev = rawequal(DeviceObject, hw.device), irp = Irp, ctx = Context,
                            irql = dma.KeGetCurrentIrql(), now = m.now }
    end)
    connect(function()
      hw:clear_interrupt()
      dma.IoRequestDpc(hw.device, irp, ctx)
      return true
    end, nil, 40, 6)
    hw:raise_interrupt()
    m:run()
    assert.are.same({ { kdpc = true, dev = true, irp = irp, ctx = ctx, irql = dma.DISPATCH_LEVEL,
                        now = 1000 + 2000 } }, calls)
    assert.are.same({ "interrupt", "dpc_queued", "isr", "dpc_run" }, kinds(m:trace()))
    local queued = m:trace("dpc_queued")[1]
    assert.are.equal(6, queued.irql)  -- queued from the ISR, at DIRQL
  end)

  it("is one DPC for interrupts that come before it runs: the later arguments are lost", function()
    m = machine {}
    local hw = m:device_model { vector = 41, irql = 6, }
    local got = {}
    dma.IoInitializeDpcRequest(hw.device, function(_, _, Irp, Context)
      got[#got + 1] = { Irp, Context, m.now }
    end)
    local n = 0
    connect(function()
      n = n + 1
      hw:clear_interrupt()
      dma.IoRequestDpc(hw.device, "irp" .. n, "ctx" .. n)
      return true
    end, nil, 41, 6, { mode = dma.Latched })
    hw:raise_interrupt()                                  -- ISR at 1000, DPC queued
    m:after(1200, function() hw:raise_interrupt() end)    -- ISR at 2200, DPC still queued
    m:after(3500, function() hw:raise_interrupt() end)    -- ISR at 4500, DPC queued again
    m:run()
    assert.are.equal(3, n)
    assert.are.same({ { "irp1", "ctx1", 3000 }, { "irp3", "ctx3", 6500 } }, got)
  end)

  it("lets the DpcForIsr replace itself with IoInitializeDpcRequest, even when it then fails",
     function()
    m = machine {}
    local hw = m:device_model { vector = 46, irql = 6 }
    local log = {}
    dma.IoInitializeDpcRequest(hw.device, function(_, device)
      log[#log + 1] = "first"
      dma.IoInitializeDpcRequest(device, function() log[#log + 1] = "second" end)
      error("first DPC failed")
    end)
    connect(function()
      hw:clear_interrupt()
      dma.IoRequestDpc(hw.device, nil, nil)
      return true
    end, nil, 46, 6, { mode = dma.Latched })
    hw:raise_interrupt()
    assert.has_error(function() m:run() end)
    hw:raise_interrupt()
    m:run()
    assert.are.same({ "first", "second" }, log)
  end)

  it("is an error outside an ISR", function()
    m = machine {}
    local hw = m:device_model { vector = 42, irql = 6 }
    dma.IoInitializeDpcRequest(hw.device, function() end)
    assert.has_error(function() dma.IoRequestDpc(hw.device, nil, nil) end,
      "IoRequestDpc: legal only at DIRQL from an ISR (IRQL is 0)")
    dma.KeRaiseIrql(6)  -- DIRQL is not enough: it belongs to the ISR
    assert.has_error(function() dma.IoRequestDpc(hw.device, nil, nil) end)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    local dpc = dma.KeInitializeDpc(nil, function() dma.IoRequestDpc(hw.device, nil, nil) end)
    dma.KeInsertQueueDpc(dpc)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("legal only at DIRQL from an ISR %(IRQL is 2%)", err)
  end)

  it("needs IoInitializeDpcRequest first", function()
    m = machine {}
    local hw = m:device_model { vector = 43, irql = 6 }
    connect(function()
      hw:clear_interrupt()
      dma.IoRequestDpc(hw.device, nil, nil)
      return true
    end, nil, 43, 6)
    hw:raise_interrupt()
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("IoInitializeDpcRequest first", err)
    assert.matches("stack traceback:", err)
  end)

  it("queues the DPC on the CPU the ISR runs on (ProcessorEnableMask)", function()
    m = machine { cpus = 2 }
    local hw = m:device_model { vector = 44, irql = 6 }
    dma.IoInitializeDpcRequest(hw.device, function() end)
    connect(function()
      hw:clear_interrupt()
      dma.IoRequestDpc(hw.device, nil, nil)
      return true
    end, nil, 44, 6, { mask = 2 })
    hw:raise_interrupt()
    m:run()
    assert.are.equal(1, m:trace("isr")[1].cpu)
    assert.are.equal(1, m:trace("dpc_run")[1].cpu)
  end)
end)

describe("KeSynchronizeExecution", function()
  local m
  after_each(function() m = support.close(m) end)

  it("runs SynchronizeRoutine(SynchronizeContext) at the SynchronizeIrql and returns its result",
     function()
    m = machine {}
    local _, intr = connect(function() return true end, nil, 50, 5, { sync = 8 })
    local ctx = { "ctx" }
    local seen
    local r = dma.KeSynchronizeExecution(intr, function(c)
      seen = { c, dma.KeGetCurrentIrql() }
      return true
    end, ctx)
    assert.is_true(r)
    assert.are.equal(ctx, seen[1])
    assert.are.equal(8, seen[2])
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    assert.is_false(dma.KeSynchronizeExecution(intr, function() return false end, nil))
    assert.is_false(dma.KeSynchronizeExecution(intr, function() return 0 end, nil))
    assert.is_false(dma.KeSynchronizeExecution(intr, function() end, nil))
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    dma.KeSynchronizeExecution(intr, function() seen = dma.KeGetCurrentIrql() end, nil)
    assert.are.equal(8, seen)
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
  end)

  it("restores the IRQL when the routine raises an error", function()
    m = machine {}
    local _, intr = connect(function() return true end, nil, 51, 5, { sync = 9 })
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(dma.KeSynchronizeExecution, intr, function() error("sync failed") end, nil)
    assert.is_false(ok)
    assert.matches("sync failed", err)
    assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
  end)

  it("serialises with the ISR: SynchronizeIrql above the ISR's Irql", function()
    m = machine {}
    local hw = m:device_model { vector = 52, irql = 5 }
    local isr_irql
    local _, intr = connect(function()
      isr_irql = dma.KeGetCurrentIrql()
      hw:clear_interrupt()
      return true
    end, nil, 52, 5, { sync = 7 })
    hw:raise_interrupt()
    m:run()
    assert.are.equal(5, isr_irql)
    local sync_irql
    assert.is_true(dma.KeSynchronizeExecution(intr, function()
      sync_irql = dma.KeGetCurrentIrql()
      return 1  -- any true value is TRUE
    end))
    assert.are.equal(7, sync_irql)
  end)
end)

describe("IoDisconnectInterrupt", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("stops delivery to the ISR", function()
    m = machine {}
    local hw = m:device_model { vector = 60, irql = 5 }
    local n = 0
    local _, intr = connect(function()
      n = n + 1
      hw:clear_interrupt()
      return true
    end, nil, 60, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.equal(1, n)
    dma.IoDisconnectInterrupt(intr)
    assert.are.equal("KINTERRUPT (disconnected)", tostring(intr))
    hw:raise_interrupt()
    m:after(1500, function() hw:clear_interrupt() end)
    m:run()
    assert.are.equal(1, n)
    assert.are.equal(1, m:run_stats().interrupts_unclaimed)
    assert.has_error(function() dma.KeSynchronizeExecution(intr, function() end) end)
    assert.has_error(function() dma.IoDisconnectInterrupt(intr) end)
    -- the line is free again for a non-shared ISR
    assert.are.equal(0, (connect(function() return true end, nil, 60, 5)))
  end)

  it("from the ISR itself is a DIRQL call (0xC4, IrqlIoPassive4) and still takes effect after the chain",
     function()
    m = machine { verifier = "record" }
    local hw = m:device_model { vector = 61, irql = 5 }
    local log = {}
    local function isr(i, name)
      log[#log + 1] = name
      if name == "a" then
        dma.IoDisconnectInterrupt(i)
        return false
      end
      hw:clear_interrupt()
      return true
    end
    connect(isr, "a", 61, 5, { share = true })
    connect(isr, "b", 61, 5, { share = true })
    hw:raise_interrupt()
    m:run()
    assert.are.same({ "a", "b" }, log)
    hw:raise_interrupt()
    m:run()
    assert.are.same({ "a", "b", "b" }, log)
    local isrs = m:trace("isr")
    assert.are.equal(3, #isrs)
    assert.are.same({ 0, 1, 1 }, { isrs[1].a, isrs[2].a, isrs[3].a })
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.equal(0xC4, r[1].bugcheck)
    assert.are.equal(0x2000D, r[1].p1)
    assert.matches("IoDisconnectInterrupt: called at IRQL 5", r[1].message)
  end)

  it("and IoConnectInterrupt are PASSIVE_LEVEL calls (0xC4, IrqlIoPassive2 and 4)", function()
    m = machine { verifier = "record" }
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local status, intr = connect(function() return true end, nil, 62, 5)
    assert.are.equal(0, status)  -- made all the same
    dma.IoDisconnectInterrupt(intr)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.equal("KINTERRUPT (disconnected)", tostring(intr))
    local r = m:reports()
    assert.are.same({ 0x2000B, 0x2000D }, { r[1].p1, r[2].p1 })
    m:close()
    m = machine {}  -- the default verifier raises the report
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(connect, function() return true end, nil, 63, 5)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.is_false(ok)
    assert.matches("IoConnectInterrupt: called at IRQL 2; it must be called at IRQL 0", err)
    local hw = m:device_model { vector = 63, irql = 5 }  -- connected all the same, its ISR in place
    hw:raise_interrupt()
    m:after(1500, function() hw:clear_interrupt() end)
    m:run()
    assert.are.equal(0, m:run_stats().interrupts_unclaimed)
  end)
end)

describe("KINTERRUPT handles", function()
  it("are new for a new interrupt, never a kept handle of a closed machine's", function()
    local kept = {}
    for i = 1, 64 do
      local m = dma.machine {}  -- no collection between machines: old handles stay alive
      local status, intr = connect(function() return true end, nil, 40, 5)
      assert.are.equal(0, status)
      for _, old in ipairs(kept) do assert.are_not.equal(old, intr, i) end
      assert.is_false(dma.KeSynchronizeExecution(intr, function() return false end), i)
      kept[#kept + 1] = intr
      m:close()
    end
  end)
end)

describe("IoConnectInterrupt arguments", function()
  local m
  before_each(function() m = machine {} end)
  after_each(function()
    m:close()
    m = nil
  end)

  local function isr() return true end

  it("rejects a bad vector, naming the argument", function()
    assert.has_error(function() connect(isr, nil, 256, 5) end,
      "bad argument #4 to 'IoConnectInterrupt' (vector must be 0..255)")
    assert.has_error(function() connect(isr, nil, -1, 5) end,
      "bad argument #4 to 'IoConnectInterrupt' (vector must be 0..255)")
    assert.has_error(function() connect(isr, nil, "x", 5) end)
  end)

  it("rejects a bad Irql or SynchronizeIrql, naming the argument", function()
    for _, irql in ipairs { 0, 2, 16 } do
      assert.has_error(function() connect(isr, nil, 70, irql, { sync = 15 }) end,
        "bad argument #5 to 'IoConnectInterrupt' (a device IRQL (DIRQL, 3 to 15) expected)")
    end
    assert.has_error(function() connect(isr, nil, 70, 5, { sync = 16 }) end,
      "bad argument #6 to 'IoConnectInterrupt' (a device IRQL (DIRQL, 3 to 15) expected)")
    assert.has_error(function() connect(isr, nil, 70, 6, { sync = 5 }) end,
      "bad argument #6 to 'IoConnectInterrupt' (SynchronizeIrql must be >= Irql)")
  end)

  it("fails with STATUS_INVALID_PARAMETER for a ProcessorEnableMask without the machine's CPUs",
     function()
    m:close()
    m = machine { cpus = 2 }
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, (connect(isr, nil, 70, 5, { mask = 4 })))
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, (connect(isr, nil, 70, 5, { mask = 0 })))
    local status, intr = connect(isr, nil, 70, 5, { mask = 6 })  -- CPU 1 (and a CPU it lacks)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    assert.is_not_nil(intr)
  end)

  it("masks a level line an ISR claims 100000 times but never quiets, so the run ends", function()
    m:close()
    m = machine { trace = 16 }
    local hw = m:device_model { vector = 47, irql = 5 }
    local calls = 0
    connect(function()
      calls = calls + 1
      return true  -- "mine", but the device is never acknowledged
    end, nil, 47, 5)
    hw:raise_interrupt()
    m:run()
    assert.are.equal(100000, calls)
    local faults = m:trace("fault")
    assert.are.equal(1, #faults)
    assert.are.equal(47, faults[1].b)
  end)

  it("rejects a bad InterruptMode and a ServiceRoutine that is not a function", function()
    assert.has_error(function() connect(isr, nil, 70, 5, { mode = 2 }) end,
      "bad argument #7 to 'IoConnectInterrupt' (LevelSensitive or Latched expected)")
    assert.has_error(function() connect("isr", nil, 70, 5) end)
  end)
end)
