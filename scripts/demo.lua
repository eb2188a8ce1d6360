-- demo.lua: what dmalab is for, in a few seconds. A WDM packet-based driver
-- (scripts/drivers/wdm_packet.lua: AllocateAdapterChannel, MapTransfer per
-- piece, an ISR and a DPC) moves a 256 KiB buffer to a 32-bit bus-master
-- disk and back, on a machine whose RAM is above 4 GiB but for 256 KiB below
-- it, where the HAL keeps its map registers: every byte is bounced. Then
-- the same with 5 map registers: what does the driver do with fewer?
-- Then the system (slave) DMA drivers: wdm_sysdma on an ISA 8237 channel,
-- wdm_sysdma_v3 (the same through the version-3 ...Ex operations and a
-- DmaCompletionRoutine) and kmdf_uart on an SoC controller, each sending to
-- a UART at its baud rate (scripts/scenarios/system_dma.lua runs them in
-- full).
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

-- the sibling driver module, from the source tree or installed (dma.drivers.*)
package.path = ((arg and arg[0] or ""):match("^(.*/)[^/]*$") or "./") .. "?.lua;" .. package.path
-- A driver module of scripts/drivers/, installed or from the source tree.
local function driver(name)
  local ok, mod = pcall(require, "dma.drivers." .. name)
  if ok then return mod end
  return require("drivers." .. name)
end
local drv = driver "wdm_packet"

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

-- The system DMA drivers: 4 KiB to a UART each, every byte checked at the device.
print("system DMA drivers (scripts/drivers/):")
-- A UART "com1" at 115200 baud on ISA channel 1 of a new machine, driven by
-- the WDM driver `name`: the machine, the UART and the driver module.
local function isa_uart(name)
  local m = dma.machine { seed = 1, alloc = "high_first" }
  local uart = m:uart { name = "com1", baud = 115200 }
  uart:connect_dma(m:isa_dma(), { tx = 1 })
  local wdm = driver(name)
  local D = dma.driver { name = name }
  wdm.DriverEntry(D)
  assert(wdm.AddDevice(D, uart.device, uart.resources) == STATUS_SUCCESS)
  return m, uart, wdm
end
do
  local m, uart, wdm = isa_uart "wdm_sysdma"
  local data, b = dma.pattern(4096, 1), m:buffer(4096)
  b:write(0, data)
  local irp = m:irp { major = IRP_MJ_WRITE, buffer = b }
  assert(IoCallDriver(uart.device, irp) == STATUS_PENDING)
  m:run_until(100 * 1000000)
  local left = uart.device.DeviceExtension.Adapter:ReadDmaCounter()
  m:run()
  assert(irp.done and uart:sent() == data, "wdm_sysdma: the UART's bytes differ")
  print(("  wdm_sysdma  WDM, ISA 8237 channel 1 (bounced below 16 MiB): 4096 bytes at 115200 baud "
         .. "in %.1f ms; "
         .. "ReadDmaCounter at 100 ms: %d"):format(uart:uart_stats().last_sent_at / 1e6, left))
  wdm.RemoveDevice(uart.device, uart.resources)
  b:free()
  m:close()
end
do
  local m, uart, v3 = isa_uart "wdm_sysdma_v3"
  local data, b = dma.pattern(4096, 4), m:buffer(4096)
  b:write(0, data)
  local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = v3.IOCTL_SYSDMA_WRITE }
  assert(IoCallDriver(uart.device, irp) == STATUS_PENDING)
  m:run()
  local ext = uart.device.DeviceExtension
  assert(irp.done and uart:sent() == data, "wdm_sysdma_v3: the UART's bytes differ")
  assert(ext.Completions[1].status == DmaComplete)
  print(("  wdm_sysdma_v3  WDM, version-3 operations on ISA channel 1: an IOCTL's 4096 bytes, "
         .. "DmaCompletionRoutine(DmaComplete) at %.1f ms"):format(ext.Completions[1].at / 1e6))
  v3.RemoveDevice(uart.device, uart.resources)
  b:free()
  m:close()
end
do
  local m = dma.machine { seed = 1 }
  local uart = m:uart { name = "uart1", baud = 1000000 }
  uart:connect_dma(m:soc_dma { instance = 0 }, { tx = 3, rx = 4 })
  local kmdf = driver "kmdf_uart"
  local _, Driver = kmdf.DriverEntry(dma.driver { name = "kmdf_uart" }, nil)
  local Device = m:wdf_add_device(Driver, uart)
  local data, b = dma.pattern(4096, 2), m:buffer(4096)
  b:write(0, data)
  local irp = m:irp { major = IRP_MJ_WRITE, buffer = b }
  assert(IoCallDriver(WdfDeviceWdmGetDeviceObject(Device), irp) == STATUS_PENDING)
  uart:receive(dma.pattern(600, 3))
  m:run_until(50 * 1000000)
  local ctx = kmdf.Context(Device)
  assert(irp.done and uart:sent() == data, "kmdf_uart: the UART's bytes differ")
  assert(table.concat(ctx.Received) == dma.pattern(600, 3), "kmdf_uart: the ring's bytes differ")
  print(("  kmdf_uart   KMDF SystemDuplex on an SoC controller: 4096 bytes at 1 Mbaud, "
         .. "TransferComplete at %.1f ms; "
         .. "600 bytes through a looped 256-byte receive ring"):format(ctx.TxCompletions[1].at / 1e6))
  m:wdf_remove_device(Device)
  b:free()
  m:close()
end
