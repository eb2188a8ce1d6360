-- bench.lua: make bench's one table, from one run. Host time is measured
-- here and only here: results of scenarios never depend on it. Every rate
-- is the median of ROUNDS rounds; every ratio is taken round by round (the
-- two sides measured back to back) and then its median, so the machine's
-- noise between runs (see the shared cost anchors) cancels out.
--
-- Rows: the shipped drivers (4 KiB requests, one transfer each, real bytes,
-- writes and reads alternating over 1024 medium offsets), the bus master's
-- C ring path (tests/bench/ring.c, no Lua per transfer), the Python heapq
-- model of the packet-driver scenario (tests/bench/packet_model.py: its
-- simulated end time and bytes must equal wdm_packet's), 1 MiB requests
-- with every page bounced against memcpy, Lua allocations per request and
-- the heap after 100 K requests, RSS of the C path after 1 M and 10 M.
--
-- Usage: dmalab tests/bench/bench.lua RING_BINARY [ROUNDS]
local dma = require "dma"
dma.export()
package.path = "scripts/?.lua;" .. package.path

local RING = arg[1] or "build/bench/ring"
local ROUNDS = tonumber(arg[2]) or 5
local REQUESTS = 20000
local DRIVERS = { "wdm_packet", "wdm_sg", "kmdf_packet", "kmdf_sg" }
local KiB, MiB = 1024, 1 << 20

local function median(t)
  local s = { table.unpack(t) }
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- A machine with the bus master and driver `name` started; returns the
-- run: m, hw, the device to send IRPs to, and stop().
local function start(name, opts)
  opts = opts or {}
  collectgarbage()
  local m = dma.machine { ram = opts.ram or "4G", trace = 1024, seed = 1, alloc = opts.alloc }
  local hw = m:busmaster { capacity = opts.capacity or "16M" }
  local drv = require("drivers." .. name)
  local run = { m = m, hw = hw }
  if name:match("^wdm") then
    local DriverObject = dma.driver { name = name }
    drv.DriverEntry(DriverObject)
    drv.AddDevice(DriverObject, hw.device, hw.resources, opts.driver)
    run.device = hw.device
    function run.stop() drv.RemoveDevice(hw.device, hw.resources) end
  else
    local _, Driver = drv.DriverEntry(dma.driver { name = name }, nil, opts.driver)
    local Device = m:wdf_add_device(Driver, hw)
    run.device = WdfDeviceWdmGetDeviceObject(Device)
    function run.stop() m:wdf_remove_device(Device) end
  end
  return run
end

-- Sends n requests of buffer b, one at a time, each run to completion.
local function requests(run, b, n, size)
  local m, device = run.m, run.device
  local req = { buffer = b }  -- one table refilled: the rows count the runtime's garbage only
  for i = 1, n do
    req.major = (i % 2 == 0) and IRP_MJ_READ or IRP_MJ_WRITE
    req.device_offset = (i % 1024) * size
    IoCallDriver(device, m:irp(req))
    m:run()
  end
end

-- One round of driver `name`: requests per second, simulated end, bytes.
local function driver_round(name)
  local run = start(name)
  local b = run.m:buffer(4 * KiB)
  b:write(0, dma.pattern(4 * KiB, 7))
  local t0 = os.clock()
  requests(run, b, REQUESTS, 4 * KiB)
  local dt = os.clock() - t0
  local st = run.m:run_stats()
  local stats = run.hw:device_stats()
  local result = { rate = REQUESTS / dt, now = run.m.now, bytes = stats.bytes, events = st.events }
  b:free()
  run.stop()
  run.m:close()
  return result
end

-- The Python model's round: requests per second, its end time and bytes.
local function python_round()
  local p = io.popen("python3 tests/bench/packet_model.py " .. REQUESTS)
  local out = p and p:read("a") or ""
  if p then p:close() end
  local s, now, bytes = out:match("seconds=([%d.]+) end_ns=(%d+) bytes=(%d+)")
  if not s then return nil end
  return { rate = REQUESTS / tonumber(s), now = math.tointeger(tonumber(now)),
           bytes = math.tointeger(tonumber(bytes)) }
end

-- 1 MiB requests through wdm_packet with the buffer's pages above 4 GiB
-- (every page bounced by the 32-bit packet adapter; the map registers' bounce
-- pages come from the 256 MiB below), bytes per second; and memcpy's.
local function bounced_round()
  local n = 64
  local run = start("wdm_packet", { ram = { { 0, "256M" }, { "4G", "4G" } }, alloc = "high_first",
                                    capacity = "128M" })
  local b = run.m:buffer(MiB)
  b:write(0, dma.pattern(MiB, 3))
  requests(run, b, 2, MiB)  -- warm: bounce pages and medium touched once
  local t0 = os.clock()
  requests(run, b, n, MiB)
  local engine = n * MiB / (os.clock() - t0)
  local bounced = run.m:run_stats().bytes_bounced
  b:free()
  run.stop()
  run.m:close()
  local copies = 256
  local src, last = ("x"):rep(MiB), nil
  t0 = os.clock()
  if dma.memcpy_bench then
    dma.memcpy_bench(MiB, copies)
  else  -- an older dmalab (before/after tables): a string copy stands in
    for _ = 1, copies do last = src:sub(1, -2) end
  end
  assert(last == nil or #last == MiB - 1)
  local memcpy = copies * MiB / (os.clock() - t0)
  return engine, memcpy, bounced
end

-- Lua blocks allocated per request (the state's allocator counted), and the
-- Lua heap after 100 K requests against before (both after a full collection).
local function garbage(name)
  if not dma.allocations then return 0 / 0, 0 / 0 end  -- an older dmalab (before/after tables)
  local run = start(name)
  local b = run.m:buffer(4 * KiB)
  requests(run, b, 2000, 4 * KiB)  -- warm: pools and caches filled
  local n = 20000
  dma.allocations()
  local a0 = dma.allocations()
  requests(run, b, n, 4 * KiB)
  local per_request = (dma.allocations() - a0) / n
  collectgarbage()
  collectgarbage()
  local k0 = collectgarbage("count")
  requests(run, b, 100000, 4 * KiB)
  collectgarbage()
  collectgarbage()
  local heap = collectgarbage("count") - k0
  b:free()
  run.stop()
  run.m:close()
  return per_request, heap
end

-- The C ring path: ROUNDS rounds of 2 M transfers, then 10 M for RSS.
local function ring(transfers, rounds)
  local p = io.popen(("%s %d %d"):format(RING, transfers, rounds))
  local out = p and p:read("a") or ""
  if p then p:close() end
  local rows = {}
  for n, s, r1, rend, bytes, now in out:gmatch(
      "transfers=(%d+) seconds=([%d.]+) rss1m_kib=(%-?%d+) rssend_kib=(%d+) bytes=(%d+) end_ns=(%d+)") do
    rows[#rows + 1] = { rate = tonumber(n) / tonumber(s), rss1m = tonumber(r1), rssend = tonumber(rend),
                        bytes = tonumber(bytes), now = tonumber(now) }
  end
  return rows
end

-- ---- the rounds ------------------------------------------------------------------

local rates = {}
for _, name in ipairs(DRIVERS) do rates[name] = {} end
local python, vs_python, checks = {}, {}, {}
local bounced, memcpy, vs_memcpy = {}, {}, {}
for r = 1, ROUNDS do
  for _, name in ipairs(DRIVERS) do
    local res = driver_round(name)
    rates[name][r] = res.rate
    if name == "wdm_packet" then checks.dmalab = res end
  end
  local py = python_round()
  if py then
    python[r] = py.rate
    vs_python[r] = rates.wdm_packet[r] / py.rate
    checks.python = py
  end
  local e, c, b = bounced_round()
  bounced[r], memcpy[r], vs_memcpy[r] = e, c, e / c
  checks.bounced = b
  io.stderr:write(("round %d/%d done\n"):format(r, ROUNDS))
end
local ring_rows = ring(2000000, ROUNDS)
local ring_rates = {}
for i, row in ipairs(ring_rows) do ring_rates[i] = row.rate end
local long = ring(10000000, 1)[1]
local allocs, heaps = {}, {}
for _, name in ipairs(DRIVERS) do allocs[name], heaps[name] = garbage(name) end

-- ---- the table -------------------------------------------------------------------

local function row(what, value, target)
  print(("| %-56s | %18s | %-12s |"):format(what, value, target or ""))
end
local function k(v) return ("%.0f K/s"):format(v / 1000) end

print(("\ndmalab bench: %d rounds, medians; ratios pair by pair (round by round)\n"):format(ROUNDS))
print(("| %-56s | %18s | %-12s |"):format("measure", "value", "target"))
print(("|%s|%s|%s|"):format(("-"):rep(58), ("-"):rep(20), ("-"):rep(14)))
local targets = { wdm_packet = ">= 400 K/s", kmdf_sg = ">= 300 K/s" }
for _, name in ipairs(DRIVERS) do
  row(("%s: 4 KiB transfers/s"):format(name), k(median(rates[name])), targets[name])
end
row("C ring path (busmaster ring mode, no Lua): transfers/s",
    ring_rates[1] and ("%.2f M/s"):format(median(ring_rates) / 1e6) or "n/a", ">= 5 M/s")
row("Python heapq model of the packet scenario: requests/s", python[1] and k(median(python)) or "n/a")
row("dmalab wdm_packet / Python (pair by pair)",
    vs_python[1] and ("%.2fx"):format(median(vs_python)) or "n/a", ">= 3x")
row("1 MiB requests, every page bounced (wdm_packet)", ("%.2f GB/s"):format(median(bounced) / 1e9))
row("memcpy 1 MiB, same process", ("%.2f GB/s"):format(median(memcpy) / 1e9))
row("bounced whole-driver / memcpy (pair by pair)", ("%.0f %%"):format(100 * median(vs_memcpy)), ">= 40 %")
for _, name in ipairs(DRIVERS) do
  row(("%s: Lua blocks allocated per request"):format(name), ("%.1f"):format(allocs[name]))
end
for _, name in ipairs(DRIVERS) do
  row(("%s: Lua heap after 100 K requests - before"):format(name), ("%.1f KiB"):format(heaps[name]))
end
if long then
  row("C path RSS after 1 M / 10 M transfers",
      ("%.1f / %.1f MiB"):format(long.rss1m / 1024, long.rssend / 1024), "flat")
end

-- The Python model stands for the same scenario: same end time, same bytes.
local d, p = checks.dmalab, checks.python
print(("\nsame scenario: dmalab wdm_packet ends at %d ns having moved %d bytes (%d events);"):format(
  d.now, d.bytes, d.events))
if p then
  print(("               the Python model ends at %d ns having moved %d bytes: %s"):format(p.now, p.bytes,
    (p.now == d.now and p.bytes == d.bytes) and "the same" or "DIFFERENT"))
end
print(("1 MiB rounds bounced %d bytes of the last round's %d requests"):format(checks.bounced, 66))
