-- The WDM bus-master drivers (scripts/drivers/wdm_packet.lua and wdm_sg.lua)
-- driven as the I/O manager would: m:irp and IoCallDriver on the built-in
-- bus-master device. A megabyte both ways through 32-bit DMA on scattered
-- RAM (which pages each driver bounces), what each injected device fault
-- does to a request, and the random_io scenario's determinism under dmalab.
local dma = require "dma"

package.path = "scripts/?.lua;" .. package.path

local KiB, MiB = 1024, 1 << 20
local MS = 1000000
local WATCHDOG = 10 * MS  -- the drivers' KeSetTimer(-100000)
local DRIVERS = { "wdm_packet", "wdm_sg" }

-- A new machine (collecting first: see adapter_spec.lua).
local function machine(opts)
  collectgarbage()
  return dma.machine(opts)
end

-- A machine with RAM below and above 4 GiB, a 32-bit bus-master device and
-- the driver `name` entered and added; `faults` are hw:inject tables.
local function setup(name, faults)
  local m = machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 11, alloc = "scattered" }
  local hw = m:busmaster { name = "disk0", address_width = 32, max_transfer = "256K", max_sg = 32 }
  for _, f in ipairs(faults or {}) do hw:inject(f) end
  local drv = require("drivers." .. name)
  local DriverObject = dma.driver { name = "\\Driver\\" .. name }
  assert.are.equal(dma.STATUS_SUCCESS, drv.DriverEntry(DriverObject))
  assert.are.equal(dma.STATUS_SUCCESS, drv.AddDevice(DriverObject, hw.device, hw.resources))
  return { m = m, hw = hw, drv = drv, ext = hw.device.DeviceExtension }
end

-- Removes the device and closes the machine.
local function teardown(run)
  run.drv.RemoveDevice(run.hw.device, run.hw.resources)
  run.m:close()
end

-- Sends a read or write of buffer b at device offset `offset`; the driver
-- must pend it. Returns the IRP and a record its completion routine fills.
local function send(run, write, b, offset)
  local seen = {}
  local irp = run.m:irp { major = write and dma.IRP_MJ_WRITE or dma.IRP_MJ_READ, buffer = b,
                          device_offset = offset, completion = function(done)
    seen.calls = (seen.calls or 0) + 1
    seen.status = done.IoStatus.Status
    seen.information = done.IoStatus.Information
    seen.at = run.m.now
  end }
  assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(run.hw.device, irp))
  return irp, seen
end

-- Sends one request and runs the machine until nothing is left to do;
-- returns the completion record, with `took` the ns from send to completion.
local function io(run, write, b, offset)
  local sent = run.m.now
  local irp, seen = send(run, write, b, offset)
  run.m:run()
  assert.is_true(irp.done, "the request never completed")
  assert.are.equal(1, seen.calls)
  seen.took = seen.at - sent
  return seen
end

-- The number of trace records of a kind.
local function count(m, kind)
  return #m:trace(kind)
end

describe("WDM drivers", function()
  for _, name in ipairs(DRIVERS) do
    describe(name, function()
      it("writes and reads 1 MiB at offset 4096 through 32-bit DMA on scattered RAM", function()
        local run = setup(name)
        local m, len = run.m, 1 * MiB
        local data = dma.pattern(len, 42)
        local src = m:buffer(len)
        src:write(0, data)
        local dst = m:buffer(len)
        dst:fill(0)
        local above = 0  -- bytes of the buffers in pages above 4 GiB
        for _, b in ipairs { src, dst } do
          for _, pfn in ipairs(b:pfns()) do
            if pfn * dma.PAGE_SIZE >= 4 << 30 then above = above + dma.PAGE_SIZE end
          end
        end
        assert.is_true(above > 0 and above < 2 * len, "the buffers must straddle 4 GiB")

        local w = io(run, true, src, 4096)
        assert.are.equal(dma.STATUS_SUCCESS, w.status)
        assert.are.equal(len, w.information)
        assert.is_true(run.hw:medium_read(4096, len) == data, "the medium does not hold the pattern")
        assert.is_true(run.hw:medium_read(0, 4096) == ("\0"):rep(4096), "bytes before the offset changed")
        local r = io(run, false, dst, 4096)
        assert.are.equal(dma.STATUS_SUCCESS, r.status)
        assert.are.equal(len, r.information)
        assert.is_true(dst:compare(0, data))

        local a = run.ext.Adapter:stats()
        assert.are.equal(2 * len, a.bytes_mapped)
        if name == "wdm_packet" then
          -- not S/G: every piece goes through map registers into bounce pages
          assert.are.equal(a.bytes_mapped, a.bytes_bounced)
        else
          -- S/G with 32-bit addresses: only the pages above 4 GiB bounce
          assert.is_true(a.bytes_bounced > 0)
          assert.is_true(a.bytes_bounced < a.bytes_mapped)
          assert.are.equal(above, a.bytes_bounced)
        end
        assert.are.equal(0, run.ext.Errors + run.ext.LostInterrupts + run.ext.Timeouts)
        src:free()
        dst:free()
        teardown(run)
      end)
    end)
  end
end)
