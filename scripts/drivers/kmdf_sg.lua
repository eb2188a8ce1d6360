-- kmdf_sg.lua: a KMDF driver for the built-in bus-master device
-- (m:busmaster) using the framework's ScatterGather profile and the
-- device's scatter/gather mode:
--   EvtDriverDeviceAdd        WdfDeviceCreate, a default sequential queue,
--                             the WDFINTERRUPT
--   EvtDevicePrepareHardware  maps the registers; the first time, the DMA
--                             enabler (WdfDmaProfileScatterGather, or
--                             ScatterGather64; at most MAX_SG elements a
--                             transfer) and the device's descriptor table
--                             in a common buffer (WdfCommonBufferCreate)
--   EvtIoRead / EvtIoWrite    creates a transaction for the request
--                             (WdfDmaTransactionCreate), initializes it with
--                             the request and executes it
--   EvtProgramDma             writes the SCATTER_GATHER_LIST into the
--                             descriptor table (u64 address, u32 length,
--                             u32 reserved) and starts the device in S/G mode
--   EvtInterruptIsr           ours? saves STATUS / BYTES_DONE, acknowledges,
--                             WdfInterruptQueueDpcForIsr
--   EvtInterruptDpc           WdfDmaTransactionDmaCompletedWithLength; TRUE
--                             completes the request and deletes the
--                             transaction (WdfObjectDelete)
-- Errors, short transfers, lost interrupts and hangs as in kmdf_packet.lua;
-- what the two share is in busmaster_hw.lua (hw.kmdf).
--
-- Usage as kmdf_packet.lua; options: Dma64BitAddresses (ScatterGather64),
-- MaximumLength (1 MiB, capped by the device's MAX_TRANSFER).
local dma = require "dma"
dma.export()

-- registers, ISR acknowledge, watchdog: a sibling module, loaded as drivers.X
-- (scripts/ on the path) or dma.drivers.X (installed)
local hw = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "busmaster_hw")

local R = dma.busmaster_registers

local DeviceContext = hw.kmdf.Context
local function TransactionContext(Transaction)
  return WdfObjectGetTypedContext(Transaction, "TRANSACTION_CONTEXT")
end

-- EvtProgramDma (DISPATCH_LEVEL): the list into the descriptor table, then start.
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = DeviceContext(Device)
  local offset = TransactionContext(Transaction).DeviceOffset
    + WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Machine:write(ctx.TableVa, hw.table_bytes(SgList))  -- the CPU's stores into the common buffer
  ctx.Current = Transaction
  ctx.Elements = ctx.Elements + SgList.NumberOfElements
  return hw.kmdf.program_locked(ctx, hw.control(R.MODE_SG, Direction == WdfDmaDirectionWriteToDevice),
                                hw.set_table, ctx.TableLogical, SgList.NumberOfElements, offset)
end

-- The transaction is over: complete its request, delete it.
local function CompleteRequest(ctx, Transaction, status)
  local request = WdfDmaTransactionGetRequest(Transaction)
  local transferred = WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Current = nil
  WdfObjectDelete(Transaction)
  WdfRequestCompleteWithInformation(request, status, transferred)
end

-- Ends the transfer; `failure` is the status to fail the request with, if any.
local function FinishTransfer(ctx, failure)
  local Transaction = ctx.Current
  failure = hw.transfer_failure(ctx, failure)
  if failure then
    WdfDmaTransactionDmaCompletedFinal(Transaction, ctx.BytesDone)
    return CompleteRequest(ctx, Transaction, failure)
  end
  ctx.Transfers = ctx.Transfers + 1
  local done, status = WdfDmaTransactionDmaCompletedWithLength(Transaction, ctx.BytesDone)
  if done then CompleteRequest(ctx, Transaction, status) end
end

-- The request handler (EvtIoRead / EvtIoWrite, in hw.kmdf): a new transaction
-- for each request.
local function StartRequest(Queue, Request, Direction)
  local ctx = DeviceContext(WdfIoQueueGetDevice(Queue))
  local status, Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler,
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("TRANSACTION_CONTEXT"))
  if not NT_SUCCESS(status) then return WdfRequestComplete(Request, status) end
  local params = WdfRequestGetParameters(Request)
  TransactionContext(Transaction).DeviceOffset = params.Parameters.Read.DeviceOffset
  status = WdfDmaTransactionInitializeUsingRequest(Transaction, Request, EvtProgramDma, Direction)
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(Transaction, nil) end
  if not NT_SUCCESS(status) then
    WdfObjectDelete(Transaction)
    WdfRequestComplete(Request, status)
  end
end

-- EvtDevicePrepareHardware's first time (hw.kmdf maps the registers): the
-- enabler (at most MAX_SG elements a transfer) and the descriptor table.
local function CreateDma(Device, ctx)
  ctx.MaxSg = hw.read(ctx, R.MAX_SG)
  local status = hw.kmdf.create_enabler(Device, ctx, WdfDmaProfileScatterGather, WdfDmaProfileScatterGather64,
                                        1024 * 1024)
  if not NT_SUCCESS(status) then return status end
  WdfDmaEnablerSetMaximumScatterGatherElements(ctx.DmaEnabler, ctx.MaxSg)
  ctx.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionReadFromDevice)
  ctx.TableBytes = ctx.MaxSg * hw.DESCRIPTOR
  status, ctx.Table = WdfCommonBufferCreate(ctx.DmaEnabler, ctx.TableBytes, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.TableVa = WdfCommonBufferGetAlignedVirtualAddress(ctx.Table)
  ctx.TableLogical = WdfCommonBufferGetAlignedLogicalAddress(ctx.Table)
  return STATUS_SUCCESS
end

-- EvtDriverDeviceAdd's own part, before the queue: the machine (for the
-- CPU's stores into the table), the element count, the table's alignment.
local function Setup(Device, ctx)
  ctx.Machine = WdfDeviceWdmGetDeviceObject(Device).machine
  ctx.Elements = 0
  -- the device reads its table at 16-byte alignment
  WdfDeviceSetAlignmentRequirement(Device, FILE_OCTA_ALIGNMENT)
end

-- DriverEntry (see kmdf_packet.lua), Context and options, from hw.kmdf.
return hw.kmdf.driver { CreateDma = CreateDma, StartRequest = StartRequest, Finish = FinishTransfer,
                        setup = Setup }
