-- A long run through a WDM driver: 100 000 requests of 512 bytes through
-- scripts/drivers/wdm_packet.lua on one reused buffer, with the trace ring
-- keeping the last 1000 records. Nothing may grow with the number of
-- requests: the IRPs, their MDLs and handles, the trace and the engine's
-- queues are all released as the run goes.
local dma = require "dma"

package.path = "scripts/?.lua;" .. package.path

local N, BATCH, LENGTH = 100000, 8, 512
local SECTORS = 256  -- the offsets vary over 128 KiB: the medium itself stays small

-- The process's resident size in KiB.
local function rss_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmRSS:%s+(%d+)")
    if kib then return tonumber(kib) end
  end
  error("no VmRSS in /proc/self/status")
end

-- The RSS growth allowed: 64 MiB, plus, under AddressSanitizer, its
-- quarantine of freed memory (quarantine_size_mb, 256 MiB by default), which
-- holds on to what the run frees and returns it only once full.
local function budget_kib()
  local f = assert(io.open("/proc/self/maps"))
  local asan = f:read("a"):find("libasan", 1, true)
  f:close()
  if not asan then return 64 * 1024 end
  local mb = tonumber((os.getenv("ASAN_OPTIONS") or ""):match("quarantine_size_mb=(%-?%d+)") or -1)
  if mb < 0 then mb = 256 end
  return (64 + mb) * 1024
end

local function collect()
  collectgarbage("collect")
  collectgarbage("collect")
end

describe("a long run through wdm_packet", function()
  it("completes 100000 requests of 512 bytes with bounded memory and trace", function()
    collect()
    local before = rss_kib()
    local m = dma.machine { trace = 1000, seed = 5 }
    local hw = m:busmaster { name = "disk0", capacity = "64M" }
    local drv = require "drivers.wdm_packet"
    local DriverObject = dma.driver { name = "\\Driver\\wdm_packet" }
    assert.are.equal(dma.STATUS_SUCCESS, drv.DriverEntry(DriverObject))
    assert.are.equal(dma.STATUS_SUCCESS, drv.AddDevice(DriverObject, hw.device, hw.resources))
    local b = m:buffer(LENGTH, { offset = 0x100 })
    local data = dma.pattern(LENGTH, 9)
    b:write(0, data)
    local device = hw.device

    -- Request i: odd ones write the buffer to a sector, even ones read it
    -- back from the sector the one before wrote. Once a write is complete
    -- the buffer is cleared, so the read that follows it must bring every
    -- byte back (the next write needs them).
    local completed, succeeded, bytes, wrong = 0, 0, 0, 0
    local function done(irp)
      completed = completed + 1
      if irp.IoStatus.Status == dma.STATUS_SUCCESS then succeeded = succeeded + 1 end
      bytes = bytes + irp.IoStatus.Information
    end
    local function written(irp)
      done(irp)
      b:fill(0)
    end
    local function read(irp)
      done(irp)
      if not b:compare(0, data) then wrong = wrong + 1 end
    end
    local WRITE, READ = dma.IRP_MJ_WRITE, dma.IRP_MJ_READ
    local sent = 0
    while sent < N do
      for i = sent + 1, sent + BATCH do
        local sector = (i - 1) // 2 * 7919 % SECTORS
        local write = i % 2 == 1
        local irp = m:irp { major = write and WRITE or READ, buffer = b, device_offset = sector * LENGTH,
                            completion = write and written or read }
        if dma.IoCallDriver(device, irp) ~= dma.STATUS_PENDING then wrong = wrong + 1 end
      end
      sent = sent + BATCH
      m:run()
      if completed ~= sent then break end
    end

    assert.are.equal(0, wrong)
    assert.are.equal(N, completed)
    assert.are.equal(N, succeeded)
    assert.are.equal(N * LENGTH, bytes)
    assert.are.equal(N, hw:device_stats().commands)
    assert.are.equal(N * LENGTH, hw:device_stats().bytes)
    assert.are.equal(N, device.DeviceExtension.Transfers)
    assert.is_true(b:compare(0, data))
    for sector = 0, SECTORS - 1 do
      assert.is_true(hw:medium_read(sector * LENGTH, LENGTH) == data, "sector " .. sector)
    end
    assert.are.equal(1000, #m:trace())
    local _, emitted = m:trace_hash()
    assert.is_true(emitted > N, ("%d records emitted"):format(emitted))
    local s = m:run_stats()
    assert.are.equal(N, s.requests)
    assert.are.equal(0, s.requests_failed)
    assert.are.equal(0, s.map_registers_in_use)

    collect()
    local grown = rss_kib() - before
    local budget = budget_kib()
    assert.is_true(grown < budget, ("RSS grew by %d KiB (budget %d KiB)"):format(grown, budget))
    b:free()
    drv.RemoveDevice(device, hw.resources)
    m:close()
  end)
end)
