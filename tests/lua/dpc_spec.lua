-- DPCs (reference section 3): KeInitializeDpc, KeInsertQueueDpc's queue-once
-- semantics, the routine at DISPATCH_LEVEL a dispatch latency after the
-- insert, FIFO order and HighImportance, a DPC re-queueing itself,
-- KeRemoveQueueDpc, target processors, and errors raised by a routine.
local dma = require "dma"
local support = require "support"

local machine = support.machine

-- A DPC whose routine appends its name to `log`.
local function named(log, name)
  return dma.KeInitializeDpc(nil, function() log[#log + 1] = name end, nil)
end

describe("KeInitializeDpc and KeInsertQueueDpc", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("makes a KDPC of medium importance, not queued", function()
    m = machine {}
    local dpc = dma.KeInitializeDpc(nil, function() end, nil)
    assert.matches("^KDPC#%d+ medium importance$", tostring(dpc))
    assert.is_true(dma.KeInsertQueueDpc(dpc, 1, 2))
    assert.matches("^KDPC#%d+ medium importance queued$", tostring(dpc))
    assert.has_error(function() dma.KeInitializeDpc(nil, "routine") end)
    assert.has_error(function() dma.KeInsertQueueDpc({}, 1, 2) end)
  end)

  it("calls DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2) "
     .. "at DISPATCH_LEVEL, dpc_latency (2000 ns by default) after the insert", function()
    m = machine {}
    local ctx = { "the context" }
    local calls = {}
    local dpc
    dpc = dma.KeInitializeDpc(nil, function(Dpc, DeferredContext, Arg1, Arg2)
      calls[#calls + 1] = { dpc = rawequal(Dpc, dpc), ctx = DeferredContext, a1 = Arg1, a2 = Arg2,
                            irql = dma.KeGetCurrentIrql(), now = m.now }
    end, ctx)
    m:after(300, function() assert.is_true(dma.KeInsertQueueDpc(dpc, "one", 2)) end)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    m:run()
    assert.are.same({ { dpc = true, ctx = ctx, a1 = "one", a2 = 2, irql = dma.DISPATCH_LEVEL,
                        now = 2300 } }, calls)
    assert.are.equal(ctx, calls[1].ctx)  -- the very table, not a copy
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())  -- restored after the drain
  end)

  it("waits the machine's dpc_latency", function()
    m = machine { dpc_latency = "7us" }
    local at
    local dpc = dma.KeInitializeDpc(nil, function() at = m.now end)
    dma.KeInsertQueueDpc(dpc)
    m:run_until(6999)
    assert.is_nil(at)
    m:run()
    assert.are.equal(7000, at)
  end)

  it("queues once: TRUE, then FALSE while queued, and the second call's arguments are lost", function()
    m = machine {}
    local got = {}
    local dpc = dma.KeInitializeDpc(nil, function(_, _, a1, a2) got[#got + 1] = { a1, a2 } end)
    assert.is_true(dma.KeInsertQueueDpc(dpc, "first1", "first2"))
    assert.is_false(dma.KeInsertQueueDpc(dpc, "second1", "second2"))
    m:after(1000, function() assert.is_false(dma.KeInsertQueueDpc(dpc, "third1", "third2")) end)
    m:run()
    assert.are.same({ { "first1", "first2" } }, got)
    -- once it ran it can be queued again, with new arguments
    assert.is_true(dma.KeInsertQueueDpc(dpc, "again"))
    m:run()
    assert.are.same({ { "first1", "first2" }, { "again", nil } }, got)
  end)

  it("runs the queue in FIFO order", function()
    m = machine {}
    local log = {}
    local dpcs = {}
    for i = 1, 5 do dpcs[i] = named(log, i) end
    for _, i in ipairs { 3, 1, 5, 2, 4 } do dma.KeInsertQueueDpc(dpcs[i]) end
    m:run()
    assert.are.same({ 3, 1, 5, 2, 4 }, log)
  end)

  it("puts a HighImportance DPC at the head of the queue", function()
    m = machine {}
    local log = {}
    local a, b, c, d, e = named(log, "a"), named(log, "b"), named(log, "c"), named(log, "d"),
                          named(log, "e")
    dma.KeSetImportanceDpc(c, dma.HighImportance)
    dma.KeSetImportanceDpc(d, dma.HighImportance)
    dma.KeSetImportanceDpc(e, dma.LowImportance)
    assert.matches("high importance", tostring(c))
    dma.KeInsertQueueDpc(a)
    dma.KeInsertQueueDpc(b)
    dma.KeInsertQueueDpc(c)  -- c, a, b
    dma.KeInsertQueueDpc(e)  -- c, a, b, e: low importance goes to the tail
    dma.KeInsertQueueDpc(d)  -- d, c, a, b, e
    m:run()
    assert.are.same({ "d", "c", "a", "b", "e" }, log)
    assert.has_error(function() dma.KeSetImportanceDpc(a, 7) end,
      "bad argument #2 to 'KeSetImportanceDpc' (LowImportance, MediumImportance, HighImportance "
      .. "or MediumHighImportance expected)")
  end)

  it("lets a routine queue its own DPC again: the queued mark is cleared before it runs", function()
    m = machine {}
    local got = {}
    local dpc
    dpc = dma.KeInitializeDpc(nil, function(Dpc, _, a1)
      got[#got + 1] = a1
      assert.is_false(dma.KeRemoveQueueDpc(Dpc))  -- not queued any more while it runs
      if a1 == "first" then
        got[#got + 1] = dma.KeInsertQueueDpc(Dpc, "second")
        got[#got + 1] = dma.KeInsertQueueDpc(Dpc, "lost")
      end
    end)
    dma.KeInsertQueueDpc(dpc, "first")
    m:run()
    assert.are.same({ "first", true, false, "second" }, got)
    assert.are.equal(2, m:run_stats().dpcs)
  end)

  it("KeRemoveQueueDpc: TRUE for a queued DPC, which then never runs; FALSE otherwise", function()
    m = machine {}
    local log = {}
    local a, b = named(log, "a"), named(log, "b")
    assert.is_false(dma.KeRemoveQueueDpc(a))  -- never queued
    dma.KeInsertQueueDpc(a)
    dma.KeInsertQueueDpc(b)
    assert.is_true(dma.KeRemoveQueueDpc(a))
    assert.is_false(dma.KeRemoveQueueDpc(a))  -- removed already
    m:run()
    assert.are.same({ "b" }, log)
    assert.is_false(dma.KeRemoveQueueDpc(b))  -- ran already
    assert.is_true(dma.KeInsertQueueDpc(a))   -- and it can be queued again
    m:run()
    assert.are.same({ "b", "a" }, log)
  end)

  it("waits a whole dpc_latency again when KeRemoveQueueDpc emptied the queue", function()
    m = machine {}
    local at = {}
    local dpc = dma.KeInitializeDpc(nil, function() at[#at + 1] = m.now end)
    dma.KeInsertQueueDpc(dpc)                                           -- due at 2000
    m:after(100, function() assert.is_true(dma.KeRemoveQueueDpc(dpc)) end)
    m:after(1500, function() assert.is_true(dma.KeInsertQueueDpc(dpc)) end)  -- due at 3500
    m:run()
    assert.are.same({ 3500 }, at)
    assert.are.equal(2000, m:run_stats().dpc_latency_min)
  end)

  it("re-initialises a KDPC with a new routine and context", function()
    m = machine {}
    local got
    local dpc = dma.KeInitializeDpc(nil, function() got = "old" end, "old")
    assert.are.equal(dpc, dma.KeInitializeDpc(dpc, function(_, ctx) got = ctx end, "new"))
    dma.KeInsertQueueDpc(dpc)
    m:run()
    assert.are.equal("new", got)
  end)
end)

describe("KDPC handles", function()
  it("are new for a new DPC, never a kept handle of a closed machine's DPC", function()
    local kept = {}
    for i = 1, 64 do
      local m = dma.machine {}  -- no collection between machines: old handles stay alive
      local dpc = dma.KeInitializeDpc(nil, function() end)
      for _, old in ipairs(kept) do assert.are_not.equal(old, dpc, i) end
      assert.is_true(dma.KeInsertQueueDpc(dpc), i)
      kept[#kept + 1] = dpc
      m:close()
    end
  end)
end)

describe("DPCs on several CPUs", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("KeSetTargetProcessorDpc runs the DPC on that CPU, at DISPATCH_LEVEL", function()
    m = machine { cpus = 2 }
    local seen = {}
    local function routine(_, name) seen[name] = dma.KeGetCurrentIrql() end
    local d0 = dma.KeInitializeDpc(nil, routine, "d0")
    local d1 = dma.KeInitializeDpc(nil, routine, "d1")
    dma.KeSetTargetProcessorDpc(d1, 1)
    dma.KeInsertQueueDpc(d0)
    dma.KeInsertQueueDpc(d1)
    m:run()
    assert.are.same({ d0 = dma.DISPATCH_LEVEL, d1 = dma.DISPATCH_LEVEL }, seen)
    local runs = m:trace("dpc_run")
    assert.are.equal(2, #runs)
    local cpu = {}
    for _, r in ipairs(runs) do
      cpu[r.obj] = r.cpu
      assert.are.equal(dma.DISPATCH_LEVEL, r.irql)
    end
    local id0 = tonumber(tostring(d0):match("KDPC#(%d+)"))
    local id1 = tonumber(tostring(d1):match("KDPC#(%d+)"))
    assert.are.same({ [id0] = 0, [id1] = 1 }, cpu)
    local queued = {}
    for _, r in ipairs(m:trace("dpc_queued")) do queued[r.obj] = r.a end
    assert.are.same({ [id0] = 0, [id1] = 1 }, queued)  -- the target CPU
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
  end)

  it("gives each CPU its own queue, drained a dpc_latency after it became non-empty", function()
    m = machine { cpus = 2 }
    local at = {}
    local function routine(_, name) at[name] = m.now end
    local a = dma.KeInitializeDpc(nil, routine, "a")
    local b = dma.KeInitializeDpc(nil, routine, "b")
    local high = dma.KeInitializeDpc(nil, routine, "high")
    dma.KeSetTargetProcessorDpc(b, 1)
    dma.KeSetTargetProcessorDpc(high, 1)
    dma.KeSetImportanceDpc(high, dma.HighImportance)
    dma.KeInsertQueueDpc(a)                                   -- CPU 0 drains at 2000
    m:after(1000, function() dma.KeInsertQueueDpc(b) end)     -- CPU 1 drains at 3000
    m:after(1500, function() dma.KeInsertQueueDpc(high) end)  -- head of CPU 1's queue
    m:run()
    assert.are.same({ a = 2000, b = 3000, high = 3000 }, at)
    local order = {}
    for _, r in ipairs(m:trace("dpc_run")) do order[#order + 1] = r.cpu .. ":" .. r.a end
    assert.are.same({ "0:2000", "1:1500", "1:2000" }, order)  -- cpu:latency
  end)

  it("rejects a target CPU the machine lacks", function()
    m = machine { cpus = 2 }
    local dpc = dma.KeInitializeDpc(nil, function() end)
    dma.KeSetTargetProcessorDpc(dpc, 1)
    assert.has_error(function() dma.KeSetTargetProcessorDpc(dpc, 2) end,
      "bad argument #2 to 'KeSetTargetProcessorDpc' (no such processor)")
    m:close()
    m = machine {}
    dpc = dma.KeInitializeDpc(nil, function() end)
    assert.has_error(function() dma.KeSetTargetProcessorDpc(dpc, 1) end,
      "bad argument #2 to 'KeSetTargetProcessorDpc' (no such processor)")
  end)
end)

describe("an error inside a DPC routine", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("stops m:run() and is raised by it with a traceback", function()
    m = machine {}
    local later = false
    local function broken() error("the DPC failed") end
    local dpc = dma.KeInitializeDpc(nil, function() broken() end)
    dma.KeInsertQueueDpc(dpc)
    m:after(10000, function() later = true end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("the DPC failed", err)
    assert.matches("stack traceback:", err)
    assert.matches("'broken'", err)
    assert.are.equal(2000, m.now)
    assert.is_false(later)
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    -- the machine goes on: the next run runs what is left, and the DPC can queue again
    assert.is_true(dma.KeInsertQueueDpc(dpc))
    assert.has_error(function() m:run() end)
    m:run()
    assert.is_true(later)
  end)
end)
