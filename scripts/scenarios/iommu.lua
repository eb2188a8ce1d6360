-- iommu.lua: DMA remapping what-ifs on a machine whose RAM is almost all
-- above 4 GiB.
-- 1. The same driver (drivers/wdm_sg.lua) on a 32-bit device, with random
--    reads and writes (every read checked): without the IOMMU every page
--    above 4 GiB bounces through map registers below 16 MiB; with it the
--    HAL maps the pages themselves into the device's domain at IOVAs below
--    4 GiB (nothing bounces) and the cost moves to IOTLB misses. Run with
--    strict and with deferred (batched) invalidation.
-- 2. A buggy driver that lets its device write a buffer after
--    PutScatterGatherList unmapped it: with strict invalidation the IOMMU
--    blocks the write and records a translation fault (Driver Verifier
--    0xE6 P1 0x26); with deferred invalidation a stale IOTLB entry can let
--    it through until the batch is flushed (the window deferred mode buys
--    its speed with); without the IOMMU the write lands in memory the
--    driver no longer owns... unless the verifier's map check sees it.
--
-- Environment: DMALAB_REQUESTS (default 200), DMALAB_SEED (default 1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local REQUESTS = tonumber(os.getenv("DMALAB_REQUESTS") or "") or 200
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local CAPACITY = 8 << 20
local drv = require "drivers.wdm_sg"

local function machine(iommu)
  return dma.machine { ram = { { 0, "64M" }, { "4G", "4G" } }, seed = SEED, alloc = "scattered",
                       iommu = iommu, verifier = "record" }
end

local function start(m)
  local DriverObject = dma.driver { name = "wdm_sg" }
  drv.DriverEntry(DriverObject)
  local hw = m:busmaster { name = "disk0", capacity = CAPACITY, bandwidth = "2G", setup_latency = "5us",
                           max_transfer = "256K", max_sg = 32, address_width = 32 }
  assert(drv.AddDevice(DriverObject, hw.device, hw.resources) == STATUS_SUCCESS)
  return hw
end

-- Random I/O through the driver; returns the row of the table.
local function workload(name, iommu)
  math.randomseed(SEED)
  local m = machine(iommu)
  local hw = start(m)
  local shadow = m:buffer(CAPACITY, { alloc = "contiguous" })
  for i = 1, REQUESTS do
    local length = math.random(1, 256 * 1024)
    local at = math.random(0, CAPACITY - length)
    local write = math.random(2) == 1
    local b = m:buffer(length, { offset = math.random(0, PAGE_SIZE - 1) })
    local data = write and dma.pattern(length, SEED * 31 + i)
    if write then b:write(0, data) else b:fill(0xEE) end
    local irp = m:irp { major = write and IRP_MJ_WRITE or IRP_MJ_READ, buffer = b, device_offset = at }
    assert(IoCallDriver(hw.device, irp) == STATUS_PENDING)
    m:run()
    assert(irp.done and NT_SUCCESS(irp.IoStatus.Status), "request failed")
    if write then shadow:write(at, data)
    else assert(b:compare(0, shadow:read(at, length)), "read returned wrong bytes") end
    b:free()
  end
  local s, io = m:run_stats(), m:iommu_stats() or {}
  local row = { name = name, bounced = s.bytes_bounced, moved = s.bytes_moved,
                mappings = io.mappings or 0, hits = io.iotlb_hits or 0, misses = io.iotlb_misses or 0,
                invalidations = io.invalidations or 0, stall = io.stall_ns or 0, faults = io.faults or 0,
                time = s.time, reports = #m:reports() }
  drv.RemoveDevice(hw.device, hw.resources)
  shadow:free()
  m:close()
  return row
end

local rows = {
  workload("no IOMMU", false),
  workload("IOMMU strict", { mode = "strict" }),
  workload("IOMMU deferred", { mode = "deferred", flush_batch = 32 }),
}
print(("%d random requests of 1 B to 256 KiB through wdm_sg on a 32-bit device; RAM 64 MiB + 4 GiB at 4 GiB")
      :format(REQUESTS))
print("| platform       | bytes moved | bytes bounced | IOVA maps | IOTLB hits | IOTLB misses | "
      .. "invalidations | miss stall us | sim time ms |")
print("|----------------|-------------|---------------|-----------|------------|--------------|"
      .. "---------------|---------------|-------------|")
for _, r in ipairs(rows) do
  print(("| %-14s | %11d | %13d | %9d | %10d | %12d | %13d | %13.1f | %11.3f |"):format(r.name, r.moved,
        r.bounced, r.mappings, r.hits, r.misses, r.invalidations, r.stall / 1000, r.time / 1e6))
  assert(r.faults == 0 and r.reports == 0, "a correct driver never faults")
end
assert(rows[1].bounced > 0 and rows[2].bounced == 0 and rows[3].bounced == 0)
assert(rows[3].invalidations < rows[2].invalidations)

-- The buggy driver: it maps a buffer for its device, puts the list (the
-- HAL unmaps it), then lets the device write the old address anyway.
local function use_after_unmap(name, iommu)
  local m = machine(iommu)
  local hw = start(m)
  local ext = hw.device.DeviceExtension
  local b = m:buffer(3 * PAGE_SIZE)
  b:fill(0x11)
  local mdl = IoAllocateMdl(b.va, b.length)
  MmBuildMdlForNonPagedPool(mdl)
  local address
  KeRaiseIrql(DISPATCH_LEVEL)
  local status = ext.Adapter:GetScatterGatherList(hw.device, mdl, b.va, b.length, function(_, _, sg)
    address = sg.Elements[0].Address
    assert(m:device_write(address, "ok", "disk0"), "the mapped buffer is writable")
    ext.Adapter:PutScatterGatherList(sg, FALSE)  -- unmapped here...
  end, nil, FALSE)
  KeLowerIrql(PASSIVE_LEVEL)
  assert(status == STATUS_SUCCESS)
  local landed = m:device_write(address, "late DMA", "disk0")  -- ...and written after
  local faults = m:iommu_faults()
  print(("%s: the device writes IOVA/logical 0x%x after PutScatterGatherList: %s"):format(name, address,
        landed and "the write LANDED" or "blocked"))
  for _, f in ipairs(faults) do
    print(("  fault record: device %d, IOVA 0x%x, %s, t=%d ns, domain %d: %s"):format(f.device, f.iova,
          f.access, f.time, f.domain, f.reason))
  end
  for _, r in ipairs(m:reports()) do
    print(("  verifier: bug check 0x%X P1=0x%02X: %s"):format(r.bugcheck, r.p1, r.message))
  end
  local out = { landed = landed, faults = #faults, reports = m:reports() }
  IoFreeMdl(mdl)
  b:free()
  drv.RemoveDevice(hw.device, hw.resources)
  m:close()
  return out
end

local strict = use_after_unmap("IOMMU strict", { mode = "strict" })
assert(not strict.landed and strict.faults == 1 and strict.reports[1].p1 == 0x26)
local deferred = use_after_unmap("IOMMU deferred", { mode = "deferred" })
assert(deferred.landed and deferred.faults == 0)  -- the stale IOTLB entry still translates
local none = use_after_unmap("no IOMMU", false)
assert(not none.landed and none.reports[1].p1 == 0x26)  -- the verifier's map check (no fault record)
