-- demo.lua: what dmalab is for, in a few seconds. A WDM packet-based driver
-- (scripts/drivers/wdm_packet.lua: AllocateAdapterChannel, MapTransfer per
-- piece, an ISR and a DPC) moves a 256 KiB buffer to a 32-bit bus-master
-- disk and back, on a machine whose RAM is above 4 GiB but for 256 KiB below
-- it, where the HAL keeps its map registers: every byte is bounced. Then
-- the same with 5 map registers: what does the driver do with fewer?
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

-- the sibling driver module, from the source tree or installed (dma.drivers.*)
package.path = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "?.lua;" .. package.path
local ok, drv = pcall(require, "dma.drivers.wdm_packet")
if not ok then drv = require "drivers.wdm_packet" end

local LENGTH = 256 * 1024

-- One run: write the buffer to the disk, read it back into another, check.
local function run(map_registers)
  local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 1, alloc = "scattered",
                          adapter_map_registers = map_registers }
  local hw = m:busmaster { name = "disk0", address_width = 32, capacity = "1M", bandwidth = "1G" }
  local DriverObject = dma.driver { name = "wdm_packet" }
  drv.DriverEntry(DriverObject)
  assert(drv.AddDevice(DriverObject, hw.device, hw.resources) == STATUS_SUCCESS)
  local out = m:buffer(LENGTH, { offset = 0x234 })
  local back = m:buffer(LENGTH, { offset = 0x10 })
  out:write(0, dma.pattern(LENGTH, 7))
  for _, irp in ipairs { m:irp { major = IRP_MJ_WRITE, buffer = out, device_offset = 0 },
                         m:irp { major = IRP_MJ_READ, buffer = back, device_offset = 0 } } do
    assert(IoCallDriver(hw.device, irp) == STATUS_PENDING)
    m:run()
    assert(irp.done and irp.IoStatus.Status == STATUS_SUCCESS, "the request failed")
  end
  assert(back:compare(0, dma.pattern(LENGTH, 7)), "the bytes read back differ")
  local s, stats = m:run_stats(), m:stats()
  drv.RemoveDevice(hw.device, hw.resources)
  out:free()
  back:free()
  m:close()
  return s, stats
end

local s, stats = run(nil)
print(("machine: RAM above 4 GiB + 256 KiB below it; %d map registers at 0x%x "
  .. "(below the device's 4 GiB ceiling)"):format(stats.map_registers, stats.map_registers_base))
print(("driver wdm_packet, 32-bit bus master: wrote %d KiB and read them back, every byte identical"):format(
  LENGTH // 1024))
print(("  %d transfers, %d bytes moved, %d bytes bounced through map registers (high-water %d)"):format(
  s.transfers, s.bytes_moved, s.bytes_bounced, s.map_registers_high_water))
print(("  %d interrupts, %d DPCs (latency median %d ns); simulated time %.3f ms"):format(
  s.interrupts, s.dpcs, s.dpc_latency_median, s.time / 1e6))
local w = run(5)
print(("what if the adapter had 5 map registers? %d transfers instead of %d, %d interrupts, %.3f ms (%.1fx)")
  :format(w.transfers, s.transfers, w.interrupts, w.time / 1e6, w.time / s.time))
