-- whatif_map_registers.lua: "5 map registers instead of 16: how many
-- transfers, how much bouncing, what latency?" as a sweep over the map
-- registers an adapter may have (adapter_map_registers) x the request size
-- x the driver (wdm_packet: AllocateAdapterChannel + MapTransfer per piece;
-- wdm_sg: GetScatterGatherList). Each point is a fresh machine (RAM below and
-- above 4 GiB, a 32-bit bus master, so pages above 4 GiB bounce through the
-- map registers) serving random reads and writes of one size, four at a
-- time; its row holds the run statistics (m:run_stats()). Then a table of
-- the answer, a plot (gnuplot) and one run's trace for Perfetto.
--
--   bin/dmalab scripts/scenarios/whatif_map_registers.lua       # small: what make test runs
--   DMALAB_WHATIF=full bin/dmalab scripts/scenarios/whatif_map_registers.lua
--   bin/dmalab sweep scripts/scenarios/whatif_map_registers.lua --out whatif.sqlite
--
-- Environment: DMALAB_WHATIF (full: 1..64 registers, three sizes, 200
-- requests a point), DMALAB_REQUESTS (requests a point), DMALAB_OUT (a
-- directory for the results, plot and trace; default: temporary files,
-- removed at the end), DMALAB_JOBS (worker processes), DMALAB_WHATIF_SWEEP_ONLY
-- (no plot and trace: make bench times the sweep).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local FULL = os.getenv("DMALAB_WHATIF") == "full"
local REQUESTS = tonumber(os.getenv("DMALAB_REQUESTS") or "") or (FULL and 200 or 24)
local CAPACITY = 16 << 20
local QUEUE_DEPTH = 4

-- One point: the machine, the device, the driver, REQUESTS requests of p.size.
local function run(p)
  math.randomseed(p.seed)
  local m = dma.machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = p.seed, alloc = "scattered",
                          adapter_map_registers = p.map_registers, trace = p.trace_file and
                          { file = p.trace_file } or nil }
  local hw = m:busmaster { name = "disk0", capacity = CAPACITY, bandwidth = "2G", setup_latency = "2us",
                           max_transfer = "1M", max_sg = 256, address_width = 32 }
  local drv = require("drivers." .. p.driver)
  local DriverObject = dma.driver { name = p.driver }
  drv.DriverEntry(DriverObject)
  assert(drv.AddDevice(DriverObject, hw.device, hw.resources, { MaximumLength = 1024 * 1024 })
         == STATUS_SUCCESS)
  local done = 0
  for first = 1, REQUESTS, QUEUE_DEPTH do
    local buffers = {}
    for i = first, math.min(first + QUEUE_DEPTH - 1, REQUESTS) do
      local b = m:buffer(p.size, { offset = math.random(0, PAGE_SIZE - 1) })
      buffers[#buffers + 1] = b
      local irp = m:irp { major = i % 2 == 0 and IRP_MJ_WRITE or IRP_MJ_READ, buffer = b,
                          device_offset = math.random(0, CAPACITY - p.size),
                          completion = function(irp)
                            assert(NT_SUCCESS(irp.IoStatus.Status), "request failed")
                            done = done + 1
                          end }
      assert(IoCallDriver(hw.device, irp) == STATUS_PENDING)
    end
    m:run()
    for _, b in ipairs(buffers) do b:free() end
  end
  assert(done == REQUESTS, "a request never completed")
  local s = m:run_stats()
  s.transfers_per_request = s.transfers / s.requests
  drv.RemoveDevice(hw.device, hw.resources)
  return s, m
end

local out_dir = os.getenv("DMALAB_OUT")
local function out_file(name)
  if out_dir then return out_dir .. "/" .. name end
  local path = os.tmpname()
  os.remove(path)
  return path .. "-" .. name
end

local own = out_file("whatif.sqlite")
local rows, _, results = dma.sweep {
  params = { map_registers = FULL and { 1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64 } or { 1, 5, 16 },
             size = FULL and { 16384, 65536, 262144 } or { 65536 },
             driver = { "wdm_packet", "wdm_sg" } },
  out = own, quiet = true,  -- `dmalab sweep` gives its own --out
  run = run,
}

-- The answer: one line per point of the biggest size.
print(("%-10s %9s %10s %12s %12s %12s %10s"):format("driver", "registers", "size", "transfers/req",
      "bounced/req", "p99 latency", "mean queue"))
for _, r in ipairs(rows) do
  assert(r.status == "ok", r.error)
  print(("%-10s %9d %10d %12.2f %12.0f %10.1f us %8.1f us"):format(r.driver, r.map_registers, r.size,
        r.transfers_per_request, r.bounced_per_request, r.p99_latency / 1000, r.mean_queue / 1000))
end

-- Fewer registers: more transfers for the packet driver, never fewer.
local by = {}
for _, r in ipairs(rows) do by[r.driver .. r.size .. "/" .. r.map_registers] = r end
for _, r in ipairs(rows) do
  local more = by[r.driver .. r.size .. "/16"]
  if r.map_registers < 16 and more then
    assert(r.transfers_per_request >= more.transfers_per_request, "fewer registers, fewer transfers?")
  end
end

-- The plot, and one run's trace (5 registers, packet driver) for Perfetto
-- (not when timing the sweep alone: make bench).
if os.getenv("DMALAB_WHATIF_SWEEP_ONLY") then
  if not out_dir then os.remove(own) end
  return
end
local have_gnuplot = os.execute("command -v gnuplot >/dev/null 2>&1")
local svg = out_file("whatif_p99.svg")
if have_gnuplot then
  require("dma.lab").plot_results { file = results, x = "map_registers", y = "p99_latency", by = "size",
                                    out = svg, logx = true,
                                    title = "p99 request latency against map registers" }
  print("plot: " .. svg)
end
local trace = out_file("whatif_5_registers.json")
local _, m = run { map_registers = 5, size = 65536, driver = "wdm_packet", seed = 1, trace_file = trace }
m:close()
local f = assert(io.open(trace))
local size = f:seek("end")
f:close()
print(("trace of one run (5 map registers, packet driver): %s, %d bytes"):format(trace, size))

if not out_dir then
  os.remove(own)
  os.remove(svg)
  os.remove(trace)
end
