-- The trace and run statistics: records (time, cpu, irql, kind, obj, a, b),
-- m:timeline(), m:trace_hash() (the same run gives the same hash, the ring's
-- size does not matter), the bounded ring, m:run_stats() and its DPC latency
-- figures, and a long run that stays bounded in host memory.
local dma = require "dma"
local support = require "support"

local machine, rss_kib = support.machine, support.rss_kib

local function lines(text)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

local function dpc_id(dpc) return tonumber(tostring(dpc):match("^KDPC#(%d+)")) end

describe("trace records", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("carry time, cpu, irql, kind, obj, a and b", function()
    m = machine {}
    local dpc = dma.KeInitializeDpc(nil, function() m:trace_event(7, 8, 9) end)
    m:after(250, function() dma.KeInsertQueueDpc(dpc) end)
    m:run()
    local t = m:trace()
    assert.are.equal(3, #t)
    local id = dpc_id(dpc)
    local want = {
      { time = 250, cpu = 0, irql = 0, kind = "dpc_queued", obj = id, a = 0, b = 0 },
      { time = 2250, cpu = 0, irql = 2, kind = "dpc_run", obj = id, a = 2000, b = 0 },
      { time = 2250, cpu = 0, irql = 2, kind = "user", obj = 7, a = 8, b = 9 },
    }
    for i, r in ipairs(t) do
      assert.are.equal(i, r.seq)
      r.seq = nil
      assert.are.same(want[i], r)
    end
    local user = m:trace("user")
    assert.are.equal(1, #user)
    user[1].seq = nil
    assert.are.same(want[3], user[1])
    assert.are.same({}, m:trace("isr"))
  end)

  it("read as a timeline, one line per record", function()
    m = machine {}
    for i = 1, 5 do m:after(i * 1000, function() m:trace_event(i, i * 16) end) end
    m:run()
    local all = lines(m:timeline())
    assert.are.equal(#m:trace(), #all)
    assert.are.equal(5, #all)
    for i, line in ipairs(all) do
      assert.matches(("^%%s*%d%%.000 us +cpu0 irql0 +user +obj=%d +a=0x%x b=0x0$"):format(i, i, i * 16),
                     line)
    end
    local last = lines(m:timeline(2))
    assert.are.same({ all[4], all[5] }, last)
    assert.are.equal("", m:timeline(0))
  end)
end)

-- A run whose events depend on the seed: a scattered buffer's PFNs are traced
-- and set the times of timers and DPCs.
local function scenario(seed, trace)
  local m = machine { seed = seed, alloc = "scattered", trace = trace }
  local b = m:buffer(16 * 4096)
  local dpc = dma.KeInitializeDpc(nil, function(_, _, pfn) m:trace_event(pfn, m.now) end)
  for i, pfn in ipairs(b:pfns()) do
    m:trace_event(pfn, i)
    m:after(pfn % 5000 + i, function() dma.KeInsertQueueDpc(dpc, pfn) end)
  end
  m:run()
  local hash, emitted = m:trace_hash()
  b:free()
  m:close()
  return hash, emitted
end

describe("m:trace_hash()", function()
  it("is the same for the same script and seed, and differs for another seed", function()
    local h1, n1 = scenario(11)
    local h2, n2 = scenario(11)
    local h3 = scenario(12)
    assert.matches("^0x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x$", h1)
    assert.are.equal(h1, h2)
    assert.are.equal(n1, n2)
    assert.is_true(n1 > 16)
    assert.are_not.equal(h1, h3)
  end)

  it("covers every record emitted, whatever the ring keeps", function()
    local all, n_all = scenario(5, 0)
    local few, n_few = scenario(5, 4)
    assert.are.equal(all, few)
    assert.are.equal(n_all, n_few)
  end)

  it("changes with every record", function()
    local m = machine {}
    local h0, n0 = m:trace_hash()
    assert.are.equal(0, n0)
    m:trace_event(1)
    local h1, n1 = m:trace_hash()
    assert.are.equal(1, n1)
    assert.are_not.equal(h0, h1)
    m:trace_event(1)
    assert.are_not.equal(h1, (m:trace_hash()))
    m:close()
  end)
end)

describe("the trace ring", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("keeps only the last N records with dma.machine{trace=N}; the hash covers all", function()
    m = machine { trace = 10 }
    for i = 1, 25 do m:trace_event(i) end
    local t = m:trace()
    assert.are.equal(10, #t)
    for i, r in ipairs(t) do
      assert.are.equal(15 + i, r.obj)
      assert.are.equal(15 + i, r.seq)
    end
    assert.are.equal(10, #lines(m:timeline()))
    local _, emitted = m:trace_hash()
    assert.are.equal(25, emitted)
    assert.are.equal(25, m:run_stats().events)
  end)

  it("changes size with m:trace_capacity, keeping the newest", function()
    m = machine { trace = 0 }  -- all of them
    for i = 1, 100 do m:trace_event(i) end
    assert.are.equal(100, #m:trace())
    m:trace_capacity(5)
    local t = m:trace()
    assert.are.equal(5, #t)
    assert.are.equal(96, t[1].obj)
    m:trace_event(101)
    assert.are.equal(97, m:trace()[1].obj)
    m:trace_capacity(0)
    for i = 102, 200 do m:trace_event(i) end
    assert.are.equal(5 + 99, #m:trace())
    assert.has_error(function() m:trace_capacity(-1) end)
  end)
end)

describe("m:run_stats()", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("starts at zero", function()
    m = machine {}
    local s = m:run_stats()
    assert.are.same({ 0, 0, 0, 0, 0, 0, 0 }, { s.dpcs, s.dpc_latency_min, s.dpc_latency_median,
      s.dpc_latency_max, s.interrupts, s.interrupts_unclaimed, s.isrs })
  end)

  it("gives the DPC latency min, median and max of DPCs queued at different times", function()
    m = machine {}
    local function queue_at(t)
      local dpc = dma.KeInitializeDpc(nil, function() end)
      m:after(t, function() dma.KeInsertQueueDpc(dpc) end)
    end
    for _, t in ipairs { 0, 300, 500, 1500, 1900 } do queue_at(t) end  -- one drain at 2000
    m:run()
    local lat = {}
    for i, r in ipairs(m:trace("dpc_run")) do lat[i] = r.a end
    assert.are.same({ 2000, 1700, 1500, 500, 100 }, lat)
    local s = m:run_stats()
    assert.are.equal(5, s.dpcs)
    assert.are.equal(100, s.dpc_latency_min)
    assert.are.equal(2000, s.dpc_latency_max)
    -- the median comes from a histogram of 1/64 relative precision
    assert.is_true(math.abs(s.dpc_latency_median - 1500) <= 1500 / 64, s.dpc_latency_median)
  end)

  it("keeps the median within 1/64 at long latencies too", function()
    m = machine { dpc_latency = "100us" }
    local dpcs = {}
    for i = 1, 3 do dpcs[i] = dma.KeInitializeDpc(nil, function() end) end
    dma.KeInsertQueueDpc(dpcs[1])
    m:after("25us", function() dma.KeInsertQueueDpc(dpcs[2]) end)
    m:after("50us", function() dma.KeInsertQueueDpc(dpcs[3]) end)
    m:run()
    local s = m:run_stats()
    assert.are.same({ 3, 50000, 100000 }, { s.dpcs, s.dpc_latency_min, s.dpc_latency_max })
    assert.is_true(math.abs(s.dpc_latency_median - 75000) <= 75000 / 64, s.dpc_latency_median)
    assert.is_true(s.dpc_latency_median >= s.dpc_latency_min)
  end)

  it("counts interrupts, ISR calls and the unclaimed", function()
    m = machine {}
    local hw = m:device_model { vector = 90, irql = 8 }
    local function not_mine() return false end
    local function mine()
      hw:clear_interrupt()
      return true
    end
    dma.IoConnectInterrupt(not_mine, nil, nil, 90, 8, 8, dma.LevelSensitive, true, 1, false)
    dma.IoConnectInterrupt(mine, nil, nil, 90, 8, 8, dma.LevelSensitive, true, 1, false)
    hw:raise_interrupt()
    m:after("10us", function() hw:raise_interrupt() end)
    local lone = m:device_model { vector = 91, irql = 8 }
    lone:raise_interrupt()
    m:after(1500, function() lone:clear_interrupt() end)
    m:run()
    local s = m:run_stats()
    assert.are.same({ 3, 4, 1 }, { s.interrupts, s.isrs, s.interrupts_unclaimed })
    assert.are.equal(3, #m:trace("interrupt"))
    assert.are.equal(4, #m:trace("isr"))
  end)
end)

describe("a long run", function()
  it("stays bounded: 100000 DPCs and timer events with trace=1000", function()
    collectgarbage()
    local before = rss_kib()
    local m = dma.machine { trace = 1000, seed = 4 }
    local n, N = 0, 100000
    local dpc
    local function requeue() dma.KeInsertQueueDpc(dpc, n) end
    dpc = dma.KeInitializeDpc(nil, function(_, _, i)
      n = n + 1
      assert(i == n - 1)
      if n < N then m:after(100, requeue) end
    end)
    dma.KeInsertQueueDpc(dpc, 0)
    m:run()
    assert.are.equal(N, n)
    assert.are.equal(1000, #m:trace())
    local s = m:run_stats()
    assert.are.equal(N, s.dpcs)
    assert.are.equal(2000, s.dpc_latency_median)
    local _, emitted = m:trace_hash()
    assert.are.equal(2 * N, emitted)  -- dpc_queued and dpc_run for each
    assert.are.equal("dpc_run", m:trace()[1000].kind)
    assert.are.equal(N * 2100 - 100, m.now)
    collectgarbage()
    local grown = rss_kib() - before
    assert.is_true(grown < 32 * 1024, ("RSS grew by %d KiB"):format(grown))
    m:close()
  end)
end)
