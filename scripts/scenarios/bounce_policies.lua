-- bounce_policies.lua: one random-I/O workload through the same driver
-- (drivers/wdm_sg.lua: GetScatterGatherList per piece) under two bounce
-- policies, each with a small and a large pool:
--   windows  map registers: a request that cannot get its registers waits
--            in the HAL's queue until others are freed (it never fails);
--   swiotlb  a Linux swiotlb pool: a bounce that does not fit fails at once
--            (GetScatterGatherList returns STATUS_INSUFFICIENT_RESOURCES,
--            the trace says "swiotlb buffer is full ...") and the request
--            is retried by its sender after RETRY_DELAY.
-- Six 32-bit bus masters share the pool; most RAM is above 4 GiB, so most
-- pages bounce. Requests of 4 KiB to 256 KiB arrive every ARRIVAL at a
-- random device; every read is checked against a shadow of the medium.
-- The table: completed and failed requests, retries, bytes bounced, p50/p99
-- latency (arrival to completion) and the pool's high-water mark. The
-- pools are the same size under both policies: small 256 KiB (64 map
-- registers / 128 slots), large 4 MiB (1024 registers / 2048 slots).
--
-- Environment: DMALAB_REQUESTS (default 300), DMALAB_SEED (default 1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local REQUESTS = tonumber(os.getenv("DMALAB_REQUESTS") or "") or 300
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local DEVICES = 6
local CAPACITY = 4 << 20
local ARRIVAL = 15000   -- ns between requests
local RETRY_DELAY = 20000
local MAX_RETRIES = 200
local PAGE = 4096

local drv = require "drivers.wdm_sg"

local CONFIGS = {
  { name = "windows/small", policy = "windows", map_registers = 64 },
  { name = "windows/large", policy = "windows", map_registers = 1024 },
  { name = "swiotlb/small", policy = "swiotlb", slots = 128 },
  { name = "swiotlb/large", policy = "swiotlb", slots = 2048 },
}

local function machine_for(c)
  local opts = { ram = { { 0, "512M" }, { "4G", "7G" } }, seed = SEED, alloc = "scattered" }
  if c.policy == "swiotlb" then
    opts.bounce_policy = "swiotlb"
    opts.swiotlb = { slots = c.slots }
  else
    opts.map_registers = c.map_registers
  end
  return dma.machine(opts)
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- Runs the workload under one configuration; returns its row.
local function run(c)
  math.randomseed(SEED)
  local m = machine_for(c)
  local DriverObject = dma.driver { name = "wdm_sg" }
  drv.DriverEntry(DriverObject)
  local devs = {}
  for d = 1, DEVICES do
    local hw = m:busmaster { name = "disk" .. d, vector = 15 + d, capacity = CAPACITY, bandwidth = "2G",
                             setup_latency = "5us", max_transfer = "256K", max_sg = 32,
                             address_width = 32 }
    assert(drv.AddDevice(DriverObject, hw.device, hw.resources) == STATUS_SUCCESS)
    devs[d] = { hw = hw, shadow = m:buffer(CAPACITY, { alloc = "contiguous" }) }
  end
  local row = { name = c.name, completed = 0, failed = 0, retries = 0, latencies = {} }
  local function send(req)
    local dev = devs[req.dev]
    local b = m:buffer(req.length, { offset = req.offset_in_page })
    if req.write then b:write(0, req.data) else b:fill(0xEE) end
    local irp = m:irp { major = req.write and IRP_MJ_WRITE or IRP_MJ_READ, buffer = b,
                        device_offset = req.at, completion = function(done)
      local status = done.IoStatus.Status
      if status == STATUS_INSUFFICIENT_RESOURCES and req.tries < MAX_RETRIES then
        b:free()
        req.tries = req.tries + 1
        row.retries = row.retries + 1
        m:after(RETRY_DELAY, function() send(req) end)
        return
      end
      if NT_SUCCESS(status) then
        if req.write then dev.shadow:write(req.at, req.data)
        else assert(b:compare(0, dev.shadow:read(req.at, req.length)), "read returned wrong bytes") end
        row.completed = row.completed + 1
        row.latencies[#row.latencies + 1] = m.now - req.arrival
      else
        row.failed = row.failed + 1
      end
      b:free()
    end }
    assert(IoCallDriver(dev.hw.device, irp) == STATUS_PENDING)
  end
  for i = 1, REQUESTS do
    local length = math.random(1, 64) * PAGE
    local req = { dev = math.random(DEVICES), length = length, write = math.random(2) == 1,
                  at = math.random(0, (CAPACITY - length) // PAGE) * PAGE,
                  offset_in_page = math.random(0, 1) * math.random(0, PAGE - 1), tries = 0 }
    if req.write then req.data = dma.pattern(length, SEED * 7919 + i) end
    m:after(i * ARRIVAL, function()
      req.arrival = m.now
      send(req)
    end)
  end
  m:run()
  assert(row.completed + row.failed == REQUESTS, "every request ended")
  local s = m:run_stats()
  row.bounced = s.bytes_bounced
  if c.policy == "swiotlb" then
    local p = m:swiotlb_stats()
    row.hiwater = p.io_tlb_used_hiwater * 2048
    row.pool = p.io_tlb_nslabs * 2048
    row.full = #m:trace("swiotlb_full")
    row.message = (m:trace("swiotlb_full")[1] or {}).message
  else
    row.hiwater = s.map_registers_high_water * PAGE
    row.pool = c.map_registers * PAGE
    row.full = 0
  end
  table.sort(row.latencies)
  row.p50, row.p99 = percentile(row.latencies, 0.50), percentile(row.latencies, 0.99)
  row.time = s.time
  for _, dev in ipairs(devs) do
    drv.RemoveDevice(dev.hw.device, dev.hw.resources)
    dev.shadow:free()
  end
  m:close()
  return row
end

local rows = {}
for _, c in ipairs(CONFIGS) do rows[#rows + 1] = run(c) end

print(("%d requests of 4-256 KiB, one every %d us, to %d 32-bit devices (wdm_sg); seed %d")
      :format(REQUESTS, ARRIVAL // 1000, DEVICES, SEED))
print(("| %-13s | %6s | %9s | %6s | %7s | %13s | %8s | %8s | %18s |"):format("policy/pool",
      "pool", "completed", "failed", "retries", "bytes bounced", "p50 us", "p99 us", "pool high-water"))
print("|---------------|--------|-----------|--------|---------|---------------|----------|----------"
      .. "|--------------------|")
for _, r in ipairs(rows) do
  print(("| %-13s | %4d K | %9d | %6d | %7d | %13d | %8.1f | %8.1f | %8d K (%3d%%)    |"):format(r.name,
        r.pool // 1024, r.completed, r.failed, r.retries, r.bounced, r.p50 / 1000, r.p99 / 1000,
        r.hiwater // 1024, r.hiwater * 100 // r.pool))
end
for _, r in ipairs(rows) do
  if r.message then print(("%s: %d mappings failed fast; first: %s"):format(r.name, r.full, r.message)) end
end
-- the Windows policy never fails a request for lack of map registers
assert(rows[1].failed == 0 and rows[1].retries == 0 and rows[2].retries == 0)
