-- export_spec.lua: m:export_trace (Chrome trace-event JSON), the streamed
-- trace (dma.machine{ trace = { file = } }), m:export_vcd, m:run_stats()
-- on a real run, and m:plot. The JSON is parsed back with lua-cjson and
-- checked against the trace-event rules: known phases, integer pid/tid,
-- timestamps that never go back on a track, non-negative X durations,
-- every flow id starting with "s", stepping with "t" and ending with "f"
-- in time order. The VCD is read back by GTKWave's vcd2fst.
local dma = require "dma"
dma.export()
package.path = "scripts/?.lua;" .. package.path

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

-- 8 requests of 100000 bytes, 4 at a time, through the WDM packet driver.
local function run(opts)
  collectgarbage()
  local m = dma.machine(opts)
  local hw = m:busmaster { name = "disk0", capacity = 1 << 24, bandwidth = "1G", setup_latency = "2us",
                           address_width = 32 }
  local drv = require "drivers.wdm_packet"
  local D = dma.driver { name = "wdm_packet" }
  drv.DriverEntry(D)
  assert(drv.AddDevice(D, hw.device, hw.resources) == STATUS_SUCCESS)
  for round = 1, 2 do
    local bufs = {}
    for i = 1, 4 do
      bufs[i] = m:buffer(100000, { offset = 0x10 * i })
      IoCallDriver(hw.device, m:irp { major = (i + round) % 2 == 0 and IRP_MJ_READ or IRP_MJ_WRITE,
                                      buffer = bufs[i], device_offset = i * 200000 })
    end
    m:run()
    for _, b in ipairs(bufs) do b:free() end
  end
  drv.RemoveDevice(hw.device, hw.resources)
  return m
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("run statistics of a real run", function()
  it("split each request's latency into parts that add up", function()
    local m = run { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 3 }
    local s = m:run_stats()
    assert.are.equal(8, s.requests)
    assert.are.equal(8, s.latency.count)
    local parts = s.queue.mean + s.channel_wait.mean + s.transfer.mean + s.completion.mean
    assert.is_true(math.abs(parts - s.latency.mean) < 1e-6)
    assert.are.equal(0, s.queue.min)             -- the first of each round starts at once
    assert.is_true(s.p99_latency <= s.max_latency and s.p50_latency <= s.p90_latency)
    -- each piece costs an interrupt latency (1 us) and a DPC latency (2 us)
    assert.are.equal(3000 * s.transfers // s.requests, s.completion.p50)
    assert.are.equal(s.transfers / s.requests, s.interrupts_per_request)
    assert.is_true(s.map_registers_max <= 16 and s.map_registers_mean > 0)
    assert.are.equal(s.map_registers_high_water, s.map_registers_max)
    assert.is_true(math.abs(s.map_registers_mean - s.map_registers_mean) < 1e-9)
    assert.are.equal(1, s.dpc_queue_max)
    assert.are.equal(4, s.requests_in_flight_max)
    local hist = 0
    for _, b in ipairs(s.latency.histogram) do hist = hist + b.count end
    assert.are.equal(8, hist)
    local text = tostring(s)
    assert.truthy(text:find("request latency"))
    assert.truthy(text:find("throughput"))
    local series = m:stats_series()
    assert.are.equal(#series.t, #series.map_registers)
    assert.is_true(#series.t > 10 and series.width >= 1000)
    m:close()
  end)
end)

describe("Chrome trace-event JSON", function()
  local cjson = require "cjson"

  local function check_trace(doc)
    local phases = { X = true, M = true, C = true, i = true, s = true, t = true, f = true }
    local last_ts, flows, counts = {}, {}, {}
    for _, e in ipairs(doc.traceEvents) do
      assert.truthy(phases[e.ph], "unknown phase " .. tostring(e.ph))
      counts[e.ph] = (counts[e.ph] or 0) + 1
      assert.is_true(math.type(math.tointeger(e.pid)) == "integer" and math.tointeger(e.tid) ~= nil)
      if e.ph ~= "M" then
        assert.is_number(e.ts)
        local track = e.pid .. "/" .. e.tid .. "/" .. e.ph
        if e.ph == "X" or e.ph == "C" or e.ph == "i" then
          assert.is_true(e.ts >= (last_ts[track] or 0), "time goes back on " .. track)
          last_ts[track] = e.ts
        end
      end
      if e.ph == "X" then assert.is_true(e.dur >= 0) end
      if e.ph == "s" or e.ph == "t" or e.ph == "f" then
        flows[e.id] = flows[e.id] or {}
        table.insert(flows[e.id], e)
      end
    end
    local nflows = 0
    for id, list in pairs(flows) do
      nflows = nflows + 1
      table.sort(list, function(a, b) return a.ts < b.ts or (a.ts == b.ts and a.ph == "s") end)
      assert.are.equal("s", list[1].ph, "flow " .. id .. " starts with s")
      assert.are.equal("f", list[#list].ph, "flow " .. id .. " ends with f")
      assert.is_true(#list >= 5, "request -> transfer -> interrupt -> DPC -> completion")
      for k = 2, #list - 1 do assert.are.equal("t", list[k].ph) end
    end
    return counts, nflows
  end

  it("m:export_trace writes a valid trace with tracks, counters and flows", function()
    local m = run { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 3, trace = 0 }
    local path = dir .. "/run.json"
    assert.are.equal(path, m:export_trace(path))
    local doc = cjson.decode(slurp(path))
    local counts, nflows = check_trace(doc)
    assert.are.equal(8, nflows)
    assert.is_true(counts.X > 0 and counts.C > 0 and counts.M > 0)
    local names = {}
    for _, e in ipairs(doc.traceEvents) do
      if e.ph == "M" and e.name == "thread_name" then names[e.args.name] = true end
      if e.ph == "C" then names[e.name] = true end
    end
    assert.truthy(names["CPU 0 ISR"] and names["CPU 0 DPC"] and names["lane 1"])
    assert.truthy(names["map registers in use"] and names["DPC queue depth"])
    m:close()
  end)

  it("a streamed trace is the same file, and the hash does not change", function()
    local a = run { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 3, trace = 0 }
    a:export_trace(dir .. "/a.json")
    local hash = a:trace_hash()
    a:close()
    local b = run { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 3,
                    trace = { file = dir .. "/b.json", keep = 16 } }
    assert.are.equal(hash, (b:trace_hash()))
    assert.are.equal(16, #b:trace())
    b:close()  -- completes the file
    assert.are.equal(slurp(dir .. "/a.json"), slurp(dir .. "/b.json"))
  end)
end)

describe("VCD", function()
  it("m:export_vcd is read back by GTKWave's vcd2fst", function()
    local m = run { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 3, trace = 0 }
    local path = dir .. "/run.vcd"
    m:export_vcd(path)
    m:close()
    local text = slurp(path)
    assert.truthy(text:find("$timescale 1ns $end", 1, true))
    assert.truthy(text:find("device_busy_", 1, true) and text:find("map_registers", 1, true))
    if not os.execute("command -v vcd2fst >/dev/null 2>&1") then
      pending("gtkwave is not installed")
      return
    end
    assert.is_true(os.execute(("vcd2fst %s %s/run.fst >/dev/null 2>&1"):format(path, dir)) == true)
    assert.is_true(#slurp(dir .. "/run.fst") > 0)
  end)
end)

describe("m:plot", function()
  it("draws the run's gauges over time", function()
    if not os.execute("command -v gnuplot >/dev/null 2>&1") then
      pending("gnuplot is not installed")
      return
    end
    local m = run { seed = 3 }
    local path = m:plot { file = dir .. "/run.svg" }
    m:close()
    local svg = slurp(path)
    assert.truthy(svg:find("<svg"))
    assert.truthy(svg:find("map registers in use %(registers%)") or svg:find("map registers"))
    assert.truthy(svg:find("simulated time"))
  end)
end)

teardown(function() os.execute("rm -rf " .. dir) end)
