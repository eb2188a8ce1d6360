-- kmdf_packet.lua: a KMDF driver for the built-in bus-master device
-- (m:busmaster) using the framework's Packet profile, written as the C
-- driver would be:
--   EvtDriverDeviceAdd        WdfDeviceCreate, a default sequential queue
--                             (EvtIoRead / EvtIoWrite), the WDFINTERRUPT
--   EvtDevicePrepareHardware  maps the registers; the first time, the DMA
--                             enabler (WdfDmaProfilePacket, or Packet64) and
--                             the one transaction every request reuses
--   EvtIoRead / EvtIoWrite    WdfDmaTransactionInitializeUsingRequest +
--                             WdfDmaTransactionExecute (the framework splits
--                             the request into transfers that fit its map
--                             registers and calls EvtProgramDma for each)
--   EvtProgramDma             programs one single-mode transfer (address,
--                             length, medium offset) under the interrupt lock
--   EvtInterruptIsr           ours? saves STATUS / BYTES_DONE, acknowledges,
--                             WdfInterruptQueueDpcForIsr
--   EvtInterruptDpc           WdfDmaTransactionDmaCompletedWithLength: FALSE
--                             means the framework already programmed the next
--                             transfer; TRUE ends the request
-- A device error ends the transaction with WdfDmaTransactionDmaCompletedFinal
-- and fails the request with STATUS_IO_DEVICE_ERROR; a short transfer is
-- completed with its length (the framework maps the rest again). A watchdog
-- (a kernel timer: the lab has no WDFTIMER) copes with a lost interrupt
-- (finished as the DPC would) and a hung device (reset, STATUS_IO_TIMEOUT),
-- as in wdm_packet.lua. What it shares with kmdf_sg (registers, the ISR and
-- DPCs, the watchdog, the PnP/power callbacks, EvtDriverDeviceAdd,
-- DriverEntry) is in busmaster_hw.lua (hw.kmdf).
--
-- Usage:
--   local drv = require "drivers.kmdf_packet"
--   local status, Driver = drv.DriverEntry(nil, nil [, options])   -- WdfDriverCreate
--   local Device, st = m:wdf_add_device(Driver, hw)                  -- DeviceAdd + start
--   IoCallDriver(WdfDeviceWdmGetDeviceObject(Device), irp)
--   drv.Context(Device)          the DEVICE_CONTEXT (counters: Transfers, Errors,
--                                LostInterrupts, Timeouts; Adapter, DmaEnabler)
-- options: Dma64BitAddresses (Packet64 profile), MaximumLength (64 KiB).
local dma = require "dma"
dma.export()

-- registers, ISR acknowledge, watchdog: a sibling module, loaded as drivers.X
-- (scripts/ on the path) or dma.drivers.X (installed)
local hw = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "busmaster_hw")

local R = dma.busmaster_registers

local DeviceContext = hw.kmdf.Context

-- EvtProgramDma (DISPATCH_LEVEL): one transfer, one element.
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = DeviceContext(Device)
  local element = SgList.Elements[0]
  local offset = ctx.DeviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.TransferLength = element.Length
  return hw.kmdf.program_locked(ctx, hw.control(R.MODE_SINGLE, Direction == WdfDmaDirectionWriteToDevice),
                                hw.set_single, element.Address, element.Length, offset)
end

-- The transaction is over: release it (kept for the next request) and
-- complete the request with the bytes transferred.
local function CompleteRequest(ctx, status)
  local request = ctx.Request
  local transferred = WdfDmaTransactionGetBytesTransferred(ctx.Transaction)
  ctx.Request = nil
  WdfDmaTransactionRelease(ctx.Transaction)
  WdfRequestCompleteWithInformation(request, status, transferred)
end

-- Ends the transfer the device finished (or gave up on); `failure` is the
-- status to fail the request with, if any.
local function FinishTransfer(ctx, failure)
  failure = hw.transfer_failure(ctx, failure)
  if failure then
    WdfDmaTransactionDmaCompletedFinal(ctx.Transaction, ctx.BytesDone)
    CompleteRequest(ctx, failure)
    return
  end
  ctx.Transfers = ctx.Transfers + 1
  -- may run EvtProgramDma for the next transfer before it returns FALSE
  local done, status = WdfDmaTransactionDmaCompletedWithLength(ctx.Transaction, ctx.BytesDone)
  if done then CompleteRequest(ctx, status) end
end

-- The request handler (EvtIoRead / EvtIoWrite, in hw.kmdf). The queue is
-- sequential, so the one transaction is free whenever a request is presented.
local function StartRequest(Queue, Request, Direction)
  local ctx = DeviceContext(WdfIoQueueGetDevice(Queue))
  local params = WdfRequestGetParameters(Request)
  ctx.DeviceOffset = params.Parameters.Read.DeviceOffset  -- Read and Write share the union
  ctx.Request = Request
  local status = WdfDmaTransactionInitializeUsingRequest(ctx.Transaction, Request, EvtProgramDma, Direction)
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(ctx.Transaction, nil) end
  if not NT_SUCCESS(status) then
    ctx.Request = nil
    WdfDmaTransactionRelease(ctx.Transaction)
    WdfRequestComplete(Request, status)
  end
end

-- EvtDevicePrepareHardware's first time (hw.kmdf maps the registers): the
-- DMA enabler (its MaximumLength within the device's limit) and the one
-- transaction every request reuses.
local function CreateDma(Device, ctx)
  local status = hw.kmdf.create_enabler(Device, ctx, WdfDmaProfilePacket, WdfDmaProfilePacket64, 64 * 1024)
  if not NT_SUCCESS(status) then return status end
  ctx.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionReadFromDevice)
  status, ctx.Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

-- DriverEntry and its EvtDriverDeviceAdd (the device, its queue, its
-- interrupt, its watchdog), Context and options, from hw.kmdf.
return hw.kmdf.driver { CreateDma = CreateDma, StartRequest = StartRequest, Finish = FinishTransfer }
