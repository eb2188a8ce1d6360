-- random_io.lua [driver ...]: random reads and writes of 1 byte to 1 MiB at
-- random offsets through the WDM drivers (wdm_packet, wdm_sg) and the KMDF
-- drivers (kmdf_packet, kmdf_sg), all four by default, every byte checked
-- against a shadow copy of the medium, then the run's statistics. KMDF
-- drivers get the IRPs through their framework device's FDO: a default
-- sequential queue presents them to EvtIoRead/EvtIoWrite, which start DMA
-- transactions; the framework splits requests into fragments of (map
-- registers - 1) pages (reference 2.1), so they take more transfers than
-- the WDM drivers (which map a page more) and the faults land elsewhere.
-- Faults are injected on the device: one command in 97 ends in a device
-- error (the driver must fail that request with the device's status and
-- carry on), one in 89 loses its interrupt (the driver's watchdog
-- must finish the transfer anyway: the request succeeds), and one command
-- hangs (the watchdog resets the device and fails the request with
-- STATUS_IO_TIMEOUT).
--
-- Environment: DMALAB_REQUESTS (default 1000), DMALAB_SEED (default 1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local REQUESTS = tonumber(os.getenv("DMALAB_REQUESTS") or "") or 1000
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local CAPACITY = 64 << 20
local MAX_REQUEST = 1 << 20
local QUEUE_DEPTH = 4

-- Brings a driver up on the device: a WDM driver through its DriverEntry and
-- AddDevice, a KMDF one through WdfDriverCreate and the framework's PnP.
-- Returns the device object IRPs go to, the driver's per-device state and
-- how to stop it.
local function start_driver(m, hw, name, drv)
  if name:match("^kmdf_") then
    local status, Driver = drv.DriverEntry(dma.driver { name = name }, nil)  -- WdfDriverCreate
    assert(status == STATUS_SUCCESS, "WdfDriverCreate failed")
    local Device, started = m:wdf_add_device(Driver, hw)                     -- DeviceAdd, start
    assert(Device and started == STATUS_SUCCESS, "the device did not start")
    return { fdo = WdfDeviceWdmGetDeviceObject(Device), ext = drv.Context(Device),
             stop = function() assert(m:wdf_remove_device(Device) == STATUS_SUCCESS) end }
  end
  local DriverObject = dma.driver { name = name }
  drv.DriverEntry(DriverObject)
  assert(drv.AddDevice(DriverObject, hw.device, hw.resources) == STATUS_SUCCESS)
  return { fdo = hw.device, ext = hw.device.DeviceExtension,
           stop = function() drv.RemoveDevice(hw.device, hw.resources) end }
end

-- Builds the machine, the device and the driver; returns what a run needs.
local function setup(name)
  local m = dma.machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = SEED, alloc = "scattered" }
  local hw = m:busmaster { name = "disk0", capacity = CAPACITY, bandwidth = "2G", setup_latency = "5us",
                           max_transfer = "256K", max_sg = 32, address_width = 32 }
  for k = 1, REQUESTS // 50 do
    hw:inject { at_command = k * 97, kind = "error" }
    hw:inject { at_command = k * 89 + 1, kind = "drop_interrupt" }
  end
  if REQUESTS >= 100 then hw:inject { at_command = 555, kind = "hang" } end
  local drv = require("drivers." .. name)
  local started = start_driver(m, hw, name, drv)
  local shadow = m:buffer(CAPACITY, { alloc = "contiguous" })  -- what the medium must hold
  return { m = m, hw = hw, drv = drv, shadow = shadow, name = name, fdo = started.fdo,
           ext = started.ext, stop = started.stop }
end

-- Makes one random request (not yet sent).
local function random_request(run, i, outcome)
  local m = run.m
  local length = math.random(1, MAX_REQUEST)
  local offset = math.random(0, CAPACITY - length)
  local b = m:buffer(length, { offset = math.random(0, PAGE_SIZE - 1) })
  local write = math.random(2) == 1
  local data
  if write then
    data = dma.pattern(length, SEED * 1000003 + i)
    b:write(0, data)
  else
    b:fill(0xEE)
  end
  local irp = m:irp { major = write and IRP_MJ_WRITE or IRP_MJ_READ, buffer = b,
                      device_offset = offset, completion = function(done)
    local ok = NT_SUCCESS(done.IoStatus.Status)
    if write and ok then
      run.shadow:write(offset, data)
    elseif write then  -- a failed write left the medium in whatever state the device left it
      run.shadow:write(offset, run.hw:medium_read(offset, length))
    elseif ok then
      assert(b:compare(0, run.shadow:read(offset, length)), "read returned wrong bytes")
    end
    if ok then
      assert(done.IoStatus.Information == length, "short completion")
    end
    outcome[ok and "ok" or "failed"] = outcome[ok and "ok" or "failed"] + 1
    if done.IoStatus.Status == STATUS_IO_TIMEOUT then outcome.timeouts = outcome.timeouts + 1 end
    outcome.bytes = outcome.bytes + (ok and length or 0)
    outcome[write and "writes" or "reads"] = outcome[write and "writes" or "reads"] + 1
    b:free()
  end }
  return irp
end

-- Sends the requests QUEUE_DEPTH at a time and runs the machine until done.
local function run_requests(run)
  local outcome = { ok = 0, failed = 0, bytes = 0, writes = 0, reads = 0, timeouts = 0 }
  local device = run.fdo
  for first = 1, REQUESTS, QUEUE_DEPTH do
    local irps = {}
    for i = first, math.min(first + QUEUE_DEPTH - 1, REQUESTS) do
      irps[#irps + 1] = random_request(run, i, outcome)
    end
    for _, irp in ipairs(irps) do assert(IoCallDriver(device, irp) == STATUS_PENDING) end
    run.m:run()
    for _, irp in ipairs(irps) do assert(irp.done, "a request never completed") end
  end
  return outcome
end

local function report(run, outcome)
  local s = run.m:run_stats()
  local ext = run.ext
  print(("%s: %d requests (%d writes, %d reads), %d completed, %d failed (%d device errors, "
        .. "%d timeouts); every byte verified"):format(run.name, REQUESTS, outcome.writes,
        outcome.reads, outcome.ok, outcome.failed, ext.Errors - outcome.timeouts, outcome.timeouts))
  print(("  lost interrupts recovered by the watchdog %d; faults injected %d"):format(
    ext.LostInterrupts, run.hw:device_stats().faults))
  print(("  transfers %d, bytes moved %d, bytes bounced %d, interrupts %d, DPCs %d"):format(
    s.transfers, s.bytes_moved, s.bytes_bounced, s.interrupts, s.dpcs))
  print(("  DPC latency min/median/max %d/%d/%d ns; map registers high-water %d, mean %.2f; "
        .. "channel waits %d (%d ns)"):format(s.dpc_latency_min, s.dpc_latency_median,
        s.dpc_latency_max, s.map_registers_high_water, s.map_registers_mean, s.channel_waits,
        s.channel_wait_ns))
  print(("  simulated time %.3f ms; trace hash %s"):format(s.time / 1e6, run.m:trace_hash()))
end

local drivers = (arg and #arg > 0) and { table.unpack(arg) }
                or { "wdm_packet", "wdm_sg", "kmdf_packet", "kmdf_sg" }
for _, name in ipairs(drivers) do
  math.randomseed(SEED)
  local run = setup(name)
  local outcome = run_requests(run)
  assert(outcome.ok + outcome.failed == REQUESTS)
  -- each injected error or hang fails its own request; lost interrupts do not
  local ext = run.ext
  assert(outcome.failed == ext.Errors, "every device error or hang fails one request")
  assert(ext.LostInterrupts + ext.Errors == run.hw:device_stats().faults, "every fault was seen")
  report(run, outcome)
  run.shadow:free()
  run.stop()
  run.m:close()
end
