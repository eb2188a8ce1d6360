-- system_dma.lua: system (slave) DMA, the two drivers of scripts/drivers/:
-- 1. wdm_sysdma (WDM, ISA 8237 channel 1): a 100000-byte write to a UART at
--    115200 baud. The buffer lies above 16 MiB: MapTransfer bounces each
--    piece (at most 16 map registers, 64 KiB, inside one 64 KiB block) below
--    16 MiB and programs the channel; ReadDmaCounter falls as the UART takes
--    bytes (one every 86.8 us), terminal count ends each piece.
-- 2. kmdf_uart (KMDF, SystemDuplex profile on an SoC controller): a write
--    of 70000 bytes at 1 Mbaud and, at the same time, 3000 bytes arriving
--    into a 256-byte looped receive ring, read by a 1 ms poll of
--    ReadDmaCounter; D0Exit cancels the ring (DmaCancelled).
-- 3. wdm_sysdma_v3 (WDM, the version-3 DMA operations): the same 100000
--    bytes on ISA channel 1 through InitializeDmaTransferContext,
--    AllocateAdapterChannelEx and MapTransferEx with a DmaCompletionRoutine
--    (DmaComplete at each terminal count); then on an SoC controller's
--    request line (DeviceAddress + DeviceOffset = the UART's DATA FIFO) a
--    write stopped half-way by IOCTL_SYSDMA_STOP (CancelMappedTransfer:
--    DmaCancelled, the bytes that moved) and a write that completes.
-- Every byte is checked at the device (what the UART put on its wire) and
-- at the driver (what the ring delivered).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local MS = 1000000

-- A machine with a UART "com1" at 115200 baud on ISA 8237 channel 1.
local function isa_uart()
  local m = dma.machine { seed = 1, alloc = "high_first" }
  local uart = m:uart { name = "com1", baud = 115200 }
  uart:connect_dma(m:isa_dma(), { tx = 1 })
  return m, uart
end

-- DriverEntry of the WDM driver module drv for a driver object "\Driver\<name>",
-- then its AddDevice for the UART: the DeviceExtension.
local function start(drv, name, uart)
  local D = dma.driver { name = "\\Driver\\" .. name }
  assert(drv.DriverEntry(D) == STATUS_SUCCESS)
  assert(drv.AddDevice(D, uart.device, uart.resources) == STATUS_SUCCESS)
  return uart.device.DeviceExtension
end

-- A buffer of len bytes on m holding dma.pattern(len, seed): the buffer and the bytes.
local function filled(m, len, seed)
  local data = dma.pattern(len, seed)
  local b = m:buffer(len)
  b:write(0, data)
  return b, data
end

-- Runs m to its end, showing ReadDmaCounter and the bytes the UART sent at 100, 200 and 300 ms.
local function watch(m, ext, uart)
  for t = 1, 3 do
    m:run_until(t * 100 * MS)
    print(("  at %3d ms: ReadDmaCounter = %5d, UART sent %5d bytes"):format(t * 100,
          ext.Adapter:ReadDmaCounter(), #uart:sent()))
  end
  m:run()
end

-- The write IRP succeeded for all of data, and the UART sent exactly data.
local function sent(irp, uart, data)
  assert(irp.done and irp.IoStatus.Status == STATUS_SUCCESS and irp.IoStatus.Information == #data)
  assert(uart:sent() == data, "the UART did not send the buffer")
end

-- 1. WDM on ISA ---------------------------------------------------------------------------
do
  local m, uart = isa_uart()
  local drv = require "drivers.wdm_sysdma"
  local ext = start(drv, "wdm_sysdma", uart)
  local LEN = 100000
  local b, data = filled(m, LEN, 5)
  assert(b:pa(0) >= 16 << 20, "the buffer should lie above 16 MiB")
  local done_at
  local irp = m:irp { major = IRP_MJ_WRITE, buffer = b, completion = function() done_at = m.now end }
  assert(IoCallDriver(uart.device, irp) == STATUS_PENDING)
  print(("wdm_sysdma: ISA channel 1, %d map registers, UART at 115200 baud (%d ns a character)")
        :format(ext.NumberOfMapRegisters, uart:uart_stats().char_ns))
  watch(m, ext, uart)
  sent(irp, uart, data)
  local a = ext.Adapter:stats()
  print(("  %d bytes in %d pieces (counter at each terminal count: %s), %d bytes bounced below 16 MiB")
        :format(LEN, ext.Pieces, table.concat(ext.Counters, ", "), a.bytes_bounced))
  print(("  IRP completed at %.3f ms, last byte on the wire at %.3f ms (%d x %d ns = %.3f ms): "
         .. "every byte checked")
        :format(done_at / MS, uart:uart_stats().last_sent_at / MS, LEN, uart:uart_stats().char_ns,
                LEN * uart:uart_stats().char_ns / MS))
  assert(a.bytes_bounced == LEN)
  drv.RemoveDevice(uart.device, uart.resources)
  b:free()
  assert(#m:check_leaks() == 0)
  m:close()
end

-- 2. KMDF on an SoC controller ------------------------------------------------------------
do
  local m = dma.machine { seed = 2 }
  local soc = m:soc_dma { instance = 0, channels = 4, lines = 16 }
  local uart = m:uart { name = "uart1", baud = 1000000 }
  uart:connect_dma(soc, { tx = 3, rx = 4 })
  local drv = require "drivers.kmdf_uart"
  local _, Driver = drv.DriverEntry(dma.driver { name = "\\Driver\\kmdf_uart" }, nil)
  local Device, st = m:wdf_add_device(Driver, uart)
  assert(Device and st == STATUS_SUCCESS, "the device did not start")
  local ctx = drv.Context(Device)
  local LEN, IN = 70000, dma.pattern(3000, 9)
  local b, data = filled(m, LEN, 3)
  local irp = m:irp { major = IRP_MJ_WRITE, buffer = b }
  assert(IoCallDriver(WdfDeviceWdmGetDeviceObject(Device), irp) == STATUS_PENDING)
  uart:receive(IN)
  m:run_until(m.now + 750 * MS)
  sent(irp, uart, data)
  print("kmdf_uart: SystemDuplex on soc0 (TX request line 3, RX line 4 looped into a 256-byte ring)")
  for i, c in ipairs(ctx.ChannelConfigurations) do
    print(("  TX transfer %d: EvtDmaTransactionConfigureDmaChannel(offset %d, length %d), "
           .. "TransferComplete(status %d) at %.3f ms"):format(i, c.offset, c.length,
           ctx.TxCompletions[i].status, ctx.TxCompletions[i].at / MS))
  end
  local got = table.concat(ctx.Received)
  assert(got == IN, ("the ring delivered %d of %d bytes"):format(#got, #IN))
  local wraps = 0
  for i = 2, #ctx.Counters do if ctx.Counters[i] > ctx.Counters[i - 1] then wraps = wraps + 1 end end
  print(("  RX: %d bytes through the ring, every byte checked; the 1 ms poll saw ReadDmaCounter "
         .. "wrap %d times")
        :format(#got, wraps))
  assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
  print(("  D0Exit: WdfDmaTransactionCancel -> %s, EvtDmaTransactionDmaTransferComplete(DmaCancelled = %d)")
        :format(tostring(ctx.RxCancelled), ctx.RxStatus))
  assert(ctx.RxStatus == DmaCancelled)
  b:free()
  assert(#m:check_leaks() == 0)
  m:close()
end

-- 3. WDM through the version-3 DMA operations ------------------------------------------------
do
  local m, uart = isa_uart()
  local drv = require "drivers.wdm_sysdma_v3"
  local ext = start(drv, "wdm_sysdma_v3", uart)
  local LEN = 100000
  local b, data = filled(m, LEN, 5)
  local done_at
  local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = drv.IOCTL_SYSDMA_WRITE,
                      completion = function() done_at = m.now end }
  assert(IoCallDriver(uart.device, irp) == STATUS_PENDING)
  local info = ext.AdapterInfo
  print(("wdm_sysdma_v3: ISA channel 1 through the ...Ex operations (GetDmaAdapterInfo: "
         .. "ReadDmaCounterAvailable %s, %d-bit addresses, %d element a transfer)")
        :format(tostring(info.ReadDmaCounterAvailable), info.DmaAddressWidth, info.ScatterGatherLimit))
  watch(m, ext, uart)
  sent(irp, uart, data)
  for i, c in ipairs(ext.Completions) do
    assert(c.status == DmaComplete and c.counter == 0)
    print(("  MapTransferEx piece %d: DmaCompletionRoutine(DmaComplete) at %.3f ms"):format(i, c.at / MS))
  end
  print(("  IRP completed at %.3f ms, last byte on the wire at %.3f ms: every byte checked")
        :format(done_at / MS, uart:uart_stats().last_sent_at / MS))
  assert(ext.Adapter:stats().bytes_bounced == LEN)
  drv.RemoveDevice(uart.device, uart.resources)
  b:free()
  assert(#m:check_leaks() == 0)
  m:close()

  m = dma.machine { seed = 3 }
  local soc = m:soc_dma { instance = 0, channels = 2, lines = 8 }
  uart = m:uart { name = "uart2", baud = 1000000 }
  uart:connect_dma(soc, { tx = 2 })
  ext = start(drv, "wdm_sysdma_v3", uart)  -- a driver object of this machine
  LEN = 20000
  b, data = filled(m, LEN, 6)
  local first = m:irp { major = IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = drv.IOCTL_SYSDMA_WRITE }
  assert(IoCallDriver(uart.device, first) == STATUS_PENDING)
  m:run_until(m.now + 10 * MS)
  local stop = m:irp { major = IRP_MJ_DEVICE_CONTROL, buffer = m:buffer(16), ioctl = drv.IOCTL_SYSDMA_STOP }
  assert(IoCallDriver(uart.device, stop) == STATUS_SUCCESS)
  m:run()
  local moved = first.IoStatus.Information
  assert(first.done and first.IoStatus.Status == STATUS_CANCELLED and moved > 0 and moved < LEN)
  assert(ext.Completions[#ext.Completions].status == DmaCancelled)
  assert(uart:sent() == data:sub(1, moved), "the UART's bytes differ")
  print(("  soc0 line 2 (DeviceOffset 0x%x): IOCTL_SYSDMA_STOP at 10 ms -> DmaCancelled, "
         .. "%d of %d bytes moved, the UART sent exactly those"):format(ext.DeviceOffset, moved, LEN))
  local second = m:irp { major = IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = drv.IOCTL_SYSDMA_WRITE }
  assert(IoCallDriver(uart.device, second) == STATUS_PENDING)
  m:run()
  assert(second.IoStatus.Status == STATUS_SUCCESS and second.IoStatus.Information == LEN)
  assert(uart:sent() == data:sub(1, moved) .. data, "the UART's bytes differ")
  print(("  then the whole %d bytes: DmaComplete at %.3f ms, every byte checked")
        :format(LEN, ext.Completions[#ext.Completions].at / MS))
  drv.RemoveDevice(uart.device, uart.resources)
  b:free()
  assert(#m:check_leaks() == 0)
  m:close()
end
