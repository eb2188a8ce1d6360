-- Limits on runaway scenarios (README "Limits and safety"): Lua instructions
-- per callback and per run (a count hook around every call the engine makes
-- into Lua), and events one m:run()/m:run_until() may run without simulated
-- time advancing. Each stops with a message naming the limit and where it
-- struck, and the machine stays usable.
local dma = require "dma"
local support = require "support"

local machine = support.machine

-- Small limits, so a runaway stops in milliseconds.
local SMALL = { callback_instructions = 100000, run_instructions = 1000000,
                events_without_progress = 1000 }

local still_usable = support.still_usable

local function connect(isr, vector, irql)
  return dma.IoConnectInterrupt(isr, nil, nil, vector, irql, irql, dma.LevelSensitive, false, 1,
                                false)
end

describe("limits = { ... }", function()
  local m
  after_each(function() m = support.close(m) end)

  it("has generous defaults, read back as m.limits", function()
    m = machine {}
    assert.are.same({ callback_instructions = 100000000, run_instructions = 10000000000,
                      events_without_progress = 1000000, run_events = 1000000000,
                      host_memory = 4 << 30, lua_memory = 4 << 30 }, m.limits)
  end)

  it("takes each limit (0: none) and reads them back", function()
    m = machine { limits = { callback_instructions = 5, run_instructions = 0,
                             events_without_progress = 7, run_events = 9 } }
    assert.are.same({ callback_instructions = 5, run_instructions = 0,
                      events_without_progress = 7, run_events = 9, host_memory = 4 << 30,
                      lua_memory = 4 << 30 },
                    m.limits)
    m:close()
    m = machine { limits = { events_without_progress = 0, host_memory = "64M", lua_memory = "32M" } }
    assert.are.same({ callback_instructions = 100000000, run_instructions = 10000000000,
                      events_without_progress = 0, run_events = 1000000000, host_memory = 64 << 20,
                      lua_memory = 32 << 20 },
                    m.limits)
  end)

  it("rejects unknown keys, listing the valid ones, and bad values", function()
    local ok, err = pcall(dma.machine, { limits = { callback_instruction = 1 } })
    assert.is_false(ok)
    assert.matches("unknown field 'callback_instruction'", err)
    assert.matches("callback_instructions, run_instructions, events_without_progress, run_events", err)
    ok, err = pcall(dma.machine, { limits = { run_instructions = -1 } })
    assert.is_false(ok)
    assert.matches("limits.run_instructions must be a non%-negative integer", err)
    ok, err = pcall(dma.machine, { limits = { events_without_progress = "many" } })
    assert.is_false(ok)
    assert.matches("limits.events_without_progress", err)
    ok, err = pcall(dma.machine, { limits = { run_events = 1.5 } })
    assert.is_false(ok)
    assert.matches("limits.run_events must be a non%-negative integer", err)
    ok, err = pcall(dma.machine, { limits = { lua_memory = "lots" } })
    assert.is_false(ok)
    assert.matches("limits.lua_memory must be a size", err)
    ok, err = pcall(dma.machine, { limits = 5 })
    assert.is_false(ok)
    assert.matches("limits must be a table", err)
  end)
end)

describe("Lua instructions per callback", function()
  local m
  after_each(function() m = support.close(m) end)

  it("stop `while true do end` in an m:after callback", function()
    m = machine { limits = SMALL }
    m:after(5, function() while true do end end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in an m:after callback%)",
                   err)
    assert.matches("traceback", err)
    still_usable(m)
  end)

  it("stop a runaway DPC routine, naming its KDPC", function()
    m = machine { limits = SMALL }
    local dpc = dma.KeInitializeDpc(nil, function() while true do end end, nil)
    local id = tostring(dpc):match("^KDPC#(%d+)")
    dma.KeInsertQueueDpc(dpc, nil, nil)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in the DPC routine of KDPC#"
                   .. id .. "%)", err)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    still_usable(m)
  end)

  it("stop a runaway ISR, naming its KINTERRUPT", function()
    m = machine { limits = SMALL }
    local hw = m:device_model { vector = 30, irql = 7 }
    local _, intr = connect(function() while true do end end, 30, 7)
    local id = tostring(intr):match("^KINTERRUPT#(%d+)")
    hw:raise_interrupt()
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in the ISR of KINTERRUPT#"
                   .. id .. "%)", err)
    hw:clear_interrupt()
    dma.IoDisconnectInterrupt(intr)
    still_usable(m)
  end)

  it("stop a runaway AdapterControl routine, called from the top level", function()
    m = machine { limits = SMALL }
    local a, nmr, dev = support.packet(m, "disk0")
    local id = tostring(dev):match("^DEVICE_OBJECT#(%d+)")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.DmaOperations.AllocateAdapterChannel, a, dev, nmr,
                          function() while true do end end, nil)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in the AdapterControl "
                   .. "routine of DEVICE_OBJECT#" .. id .. "%)", err)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    still_usable(m)
  end)

  it("stop a runaway EvtProgramDma, naming its transaction", function()
    m = machine { limits = SMALL }
    local hw = m:device_model { name = "dmadev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local device = support.wdf_device(m, hw, "dmadev")
    local _, e = dma.WdfDmaEnablerCreate(device,
      dma.WDF_DMA_ENABLER_CONFIG_INIT(dma.WdfDmaProfileScatterGather64, 65536),
      dma.WDF_NO_OBJECT_ATTRIBUTES)
    local _, t = dma.WdfDmaTransactionCreate(e, dma.WDF_NO_OBJECT_ATTRIBUTES)
    local id = tostring(t):match("^WDFDMATRANSACTION#(%d+)")
    local b, mdl = support.built(m, 8192)
    assert.are.equal(dma.STATUS_SUCCESS, dma.WdfDmaTransactionInitialize(t,
      function() while true do end end, dma.WdfDmaDirectionReadFromDevice, mdl, b.va, b.length))
    local ok, err = pcall(dma.WdfDmaTransactionExecute, t, nil)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in EvtProgramDma of "
                   .. "WDFDMATRANSACTION#" .. id .. "%)", err)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    still_usable(m)
  end)

  it("cannot be escaped by a pcall inside the runaway callback", function()
    m = machine { limits = SMALL }
    local caught = 0
    m:after(5, function()
      while true do
        if not pcall(function() while true do end end) then caught = caught + 1 end
      end
    end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded", err)
    assert.are.equal(0, caught)  -- raised again at the next instruction after the pcall
    still_usable(m)
  end)

  it("counts each callback on its own: many short ones pass", function()
    m = machine { limits = { callback_instructions = 100000, run_instructions = 0 } }
    local n = 0
    for i = 1, 50 do
      m:after(i, function() for _ = 1, 10000 do n = n + 1 end end)
    end
    m:run()
    assert.are.equal(500000, n)
  end)

  it("blames the nested callback that runs away, not the one it runs in", function()
    m = machine { limits = SMALL }
    local a, nmr, dev = support.packet(m, "disk0")
    m:after(5, function()
      for _ = 1, 1000 do end
      dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
      a.DmaOperations.AllocateAdapterChannel(a, dev, nmr, function() while true do end end, nil)
    end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("in the AdapterControl routine", err)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    still_usable(m)
  end)

  it("leaves top-level code alone (no hook outside callbacks)", function()
    m = machine { limits = { callback_instructions = 1000 } }
    local n = 0
    for _ = 1, 100000 do n = n + 1 end
    assert.are.equal(100000, n)
    assert.is_nil(debug.gethook())
  end)

  it("keeps a count hook that was there (dmalab test's) counting across callbacks", function()
    m = machine {}
    local fired = 0
    debug.sethook(function() fired = fired + 1 end, "", 100)
    local function tick() if m.now < 2000 then m:after(1, tick) end end
    m:after(1, tick)
    m:run()
    debug.sethook()
    assert.is_true(fired >= 50, "the hook fired " .. fired .. " times")
  end)

  it("is off with 0", function()
    m = machine { limits = { callback_instructions = 0, run_instructions = 0 } }
    local n = 0
    m:after(1, function() for _ = 1, 200000 do n = n + 1 end end)
    m:run()
    assert.are.equal(200000, n)
  end)
end)

describe("Lua instructions per run", function()
  local m
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("stop a run whose callbacks together run away", function()
    m = machine { limits = { callback_instructions = 0, run_instructions = 1000000 } }
    local function tick()
      for _ = 1, 5000 do end
      m:after(1, tick)
    end
    m:after(1, tick)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: run exceeded 1000000 Lua instructions %(in an m:after callback%)", err)
    assert.is_true(m.now > 10)  -- time did advance: only the instruction limit applies
  end)

  it("starts counting again at each run", function()
    m = machine { limits = { callback_instructions = 0, run_instructions = 100000 } }
    for _ = 1, 5 do
      m:after(1, function() for _ = 1, 10000 do end end)
      m:run()
    end
  end)
end)

describe("Lua memory while a callback runs", function()
  local m
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("stop a callback that keeps what it allocates, naming it; garbage does not count", function()
    collectgarbage()
    local limit = math.floor(collectgarbage("count") * 1024) + (8 << 20)  -- the whole state's heap counts
    m = machine { limits = { lua_memory = limit } }
    local churn = 0
    m:after(1, function()  -- 32 MiB allocated, all of it garbage: within the limit
      for _ = 1, 32 do churn = churn + #string.rep("x", 1 << 20) end
    end)
    m:run()
    assert.are.equal(32 << 20, churn)
    local kept = {}
    local dpc = dma.KeInitializeDpc(nil, function()
      while true do kept[#kept + 1] = string.rep("y", 1024) .. #kept end
    end, nil)
    local id = tostring(dpc):match("^KDPC#(%d+)")
    dma.KeInsertQueueDpc(dpc, nil, nil)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: lua_memory exceeded " .. limit .. " bytes of Lua heap %(in the DPC routine of "
                   .. "KDPC#" .. id .. "%)", err)
    kept = nil
    collectgarbage()
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    still_usable(m)
  end)
end)

describe("events without time advancing", function()
  local m
  after_each(function() m = support.close(m) end)

  it("stop an m:after(0, f) that re-arms itself", function()
    m = machine { limits = SMALL }
    local stop = false
    local function again() if not stop then m:after(0, again) end end
    m:after(100, again)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: 1000 events at t=100ns without time advancing %(events_without_progress, "
                   .. "in m:run", err)
    assert.are.equal(100, m.now)
    stop = true
    m:run()  -- the pending one runs and stops re-arming
    still_usable(m)
  end)

  it("stop m:run_until too, without moving time to its end", function()
    m = machine { limits = SMALL }
    local function again() m:after(0, again) end
    local id = m:after(0, again)
    assert.is_truthy(id)
    local ok, err = pcall(m.run_until, m, 5000)
    assert.is_false(ok)
    assert.matches("limit: 1000 events at t=0ns without time advancing .*in m:run_until", err)
    assert.are.equal(0, m.now)
  end)

  it("stop a DPC that re-queues itself forever", function()
    m = machine { limits = SMALL, dpc_latency = 0 }
    local stop, dpc = false, nil
    dpc = dma.KeInitializeDpc(nil, function()
      if not stop then dma.KeInsertQueueDpc(dpc, nil, nil) end
    end, nil)
    dma.KeInsertQueueDpc(dpc, nil, nil)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: 1000 events at t=%d+ns without time advancing", err)
    stop = true
    m:run()
    still_usable(m)
  end)

  it("stop an interrupt storm that never lets time move", function()
    m = machine { limits = SMALL, interrupt_latency = 0 }
    local hw = m:device_model { vector = 31, irql = 7 }
    local storm = true
    local _, intr = connect(function()
      if not storm then hw:clear_interrupt() end
      return true  -- claimed, but the line stays up
    end, 31, 7)
    hw:raise_interrupt()
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: 1000 events at t=%d+ns without time advancing", err)
    storm = false
    m:run()
    dma.IoDisconnectInterrupt(intr)
    still_usable(m)
  end)

  it("lets a long run whose time advances go on", function()
    m = machine { limits = SMALL }
    local n = 0
    local function tick()
      n = n + 1
      if n < 5000 then m:after(1, tick) end
    end
    m:after(1, tick)
    m:run()
    assert.are.equal(5000, n)
  end)
end)

describe("events per run", function()
  local m
  after_each(function() m = support.close(m) end)

  it("stop a periodic timer without a DPC, whose run would never end though time advances",
     function()
    m = machine { limits = { run_events = 1000 } }
    local t = dma.KeInitializeTimer(nil)
    dma.KeSetTimerEx(t, -10, 1, nil)  -- due in 1 us, then every 1 ms: no Lua runs at all
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: run_events: m:run ran 1000 events and the next is still pending "
                   .. "%(t=999001000ns%)", err)
    assert.are.equal(999001000, m.now)  -- 1000 expirations: 1 us, then 999 periods
    assert.is_true(dma.KeCancelTimer(t))
    still_usable(m)
  end)

  it("stop m:run_until, short of its end", function()
    m = machine { limits = { run_events = 10 } }
    local n = 0
    local function tick() n = n + 1; m:after(100, tick) end
    m:after(100, tick)
    local ok, err = pcall(m.run_until, m, 10 ^ 9 // 1)
    assert.is_false(ok)
    assert.matches("limit: run_events: m:run_until ran 10 events", err)
    assert.are.equal(10, n)
    assert.are.equal(1000, m.now)  -- the run did not move time to its end
  end)

  it("count each run afresh, and 0 turns the limit off", function()
    m = machine { limits = { run_events = 3 } }
    for _ = 1, 5 do
      for i = 1, 3 do m:after(i, function() end) end
      assert.are.equal(3, m:run())
    end
    m:close()
    m = machine { limits = { run_events = 0 } }
    for i = 1, 5000 do m:after(i, function() end) end
    assert.are.equal(5000, m:run())
  end)

  it("bound a wait with a timeout and a stall that a periodic timer keeps busy", function()
    m = machine { limits = { run_events = 100 } }
    local t = dma.KeInitializeTimer(nil)
    dma.KeSetTimerEx(t, -10, 1, nil)
    local e = dma.KeInitializeEvent(nil, dma.NotificationEvent, false)
    local ok, err = pcall(dma.KeWaitForSingleObject, e, dma.Executive, dma.KernelMode, false,
                          -10 ^ 9 // 1)  -- 100 s: 100 000 expirations
    assert.is_false(ok)
    assert.matches("KeWaitForSingleObject: .* still not signalled after 100 clock events "
                   .. "%(limits.run_events%)", err)
    ok, err = pcall(dma.KeStallExecutionProcessor, 4000000)
    assert.is_false(ok)
    assert.matches("KeStallExecutionProcessor: limit: run_events: the stall ran 100 clock events", err)
    assert.are.equal(dma.STATUS_TIMEOUT,
                     dma.KeWaitForSingleObject(e, dma.Executive, dma.KernelMode, false, -5000))
    assert.is_true(dma.KeCancelTimer(t))
    still_usable(m)
  end)
end)
