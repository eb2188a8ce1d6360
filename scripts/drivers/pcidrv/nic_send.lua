-- pcidrv/nic_send.lua: HW/nic_send.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/nic_send.c):
-- the write path. EvtIoWrite (parallel write queue) creates a
-- WDFDMATRANSACTION per request, initialized from the request (direct
-- I/O: its MDL) and executed; EvtProgramDma (NICEvtProgramDmaFunction),
-- under SendLock, either builds the TCB's TBDs from the scatter/gather
-- list and starts or resumes the CU, or, with no TCB free (or the link
-- not yet detected), ends the transaction (DmaCompletedFinal, delete) and
-- parks the request on the manual PendingWriteQueue; the DPC completes
-- the TCBs the chip is done with (WdfDmaTransactionDmaCompleted, the
-- request completed with the bytes transferred) and restarts the parked
-- writes (NICCheckForQueuedSends).
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
local CSR = P.CSR

-- MP_FREE_SEND_PACKET (SendLock held): the TCB is free again and its request completed.
function P.MP_FREE_SEND_PACKET(FdoData, pMpTcb, Status)
  assert(P.MP_TEST_FLAG(pMpTcb, P.fMP_TCB_IN_USE))
  local dmaTransaction = pMpTcb.DmaTransaction
  pMpTcb.DmaTransaction = nil
  P.MP_CLEAR_FLAGS(pMpTcb)
  FdoData.CurrSendHead = FdoData.CurrSendHead.Next
  FdoData.nBusySend = FdoData.nBusySend - 1
  local request = WdfDmaTransactionGetRequest(dmaTransaction)
  local length = WdfDmaTransactionGetBytesTransferred(dmaTransaction)
  WdfObjectDelete(dmaTransaction)
  if request then
    WdfSpinLockRelease(FdoData.SendLock)
    WdfRequestCompleteWithInformation(request, Status, length)
    FdoData.BytesTransmitted = FdoData.BytesTransmitted + length
    WdfSpinLockAcquire(FdoData.SendLock)
  end
end

-- EvtIoWrite of the write queue.
function P.PciDrvEvtIoWrite(Queue, Request, _)
  local FdoData = P.FdoGetData(WdfIoQueueGetDevice(Queue))
  local status = WdfRequestRetrieveInputWdmMdl(Request)
  if not NT_SUCCESS(status) then
    WdfRequestCompleteWithInformation(Request, status, 0)
  else
    status = P.NICInitiateDmaTransfer(FdoData, Request)
    if not NT_SUCCESS(status) then WdfRequestCompleteWithInformation(Request, status, 0) end
  end
end

function P.NICInitiateDmaTransfer(FdoData, Request)
  local status, dmaTransaction = WdfDmaTransactionCreate(FdoData.WdfDmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  status = WdfDmaTransactionInitializeUsingRequest(dmaTransaction, Request, P.NICEvtProgramDmaFunction,
                                                   WdfDmaDirectionWriteToDevice)
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(dmaTransaction, dmaTransaction) end
  if not NT_SUCCESS(status) then WdfObjectDelete(dmaTransaction) end
  return status
end

-- EvtProgramDma.
function P.NICEvtProgramDmaFunction(Transaction, Device, _, _, ScatterGather)
  local fdoData = P.FdoGetData(Device)
  local request = WdfDmaTransactionGetRequest(Transaction)
  local status
  WdfSpinLockAcquire(fdoData.SendLock)
  if not P.MP_TCB_RESOURCES_AVAIABLE(fdoData) or P.MP_TEST_FLAG(fdoData, P.fMP_ADAPTER_LINK_DETECTION) then
    -- no TCB (or no link yet): the transaction ends here, the request waits
    local _
    _, status = WdfDmaTransactionDmaCompletedFinal(Transaction, 0)
    assert(NT_SUCCESS(status))
    WdfObjectDelete(Transaction)
    status = WdfRequestForwardToIoQueue(request, fdoData.PendingWriteQueue)
    if not NT_SUCCESS(status) then
      WdfSpinLockRelease(fdoData.SendLock)
      WdfRequestCompleteWithInformation(request, STATUS_UNSUCCESSFUL, 0)
      return FALSE
    end
    fdoData.nWaitSend = fdoData.nWaitSend + 1
  else
    status = P.NICWritePacket(fdoData, Transaction, ScatterGather)
    if not NT_SUCCESS(status) then
      WdfDmaTransactionDmaCompletedFinal(Transaction, 0)
      WdfObjectDelete(Transaction)
      WdfSpinLockRelease(fdoData.SendLock)
      WdfRequestCompleteWithInformation(request, STATUS_UNSUCCESSFUL, 0)
      return FALSE
    end
  end
  WdfSpinLockRelease(fdoData.SendLock)
  return TRUE
end

function P.NICWritePacket(FdoData, DmaTransaction, SGList)
  local pMpTcb = FdoData.CurrSendTail
  assert(not P.MP_TEST_FLAG(pMpTcb, P.fMP_TCB_IN_USE))
  pMpTcb.DmaTransaction = DmaTransaction
  P.MP_SET_FLAG(pMpTcb, P.fMP_TCB_IN_USE)
  local status = P.NICSendPacket(FdoData, pMpTcb, SGList)
  if not NT_SUCCESS(status) then
    P.MP_CLEAR_FLAG(pMpTcb, P.fMP_TCB_IN_USE)
    return status
  end
  FdoData.nBusySend = FdoData.nBusySend + 1
  assert(FdoData.nBusySend <= FdoData.NumTcb)
  FdoData.CurrSendTail = FdoData.CurrSendTail.Next
  return status
end

-- NICSendPacket: a TBD per scatter/gather element, then the TCB.
function P.NICSendPacket(FdoData, pMpTcb, ScatterGather)
  local pHwTcb, TbdCount = pMpTcb.HwTcb, 0
  for index = 0, ScatterGather.NumberOfElements - 1 do
    local element = ScatterGather.Elements[index]
    if element.Length ~= 0 then
      local pHwTbd = pMpTcb.HwTbd[TbdCount]
      pHwTbd.TbdBufferAddress = element.Address & 0xFFFFFFFF     -- Address.LowPart
      P.TBD_SET_COUNT(pHwTbd, element.Length)
      TbdCount = TbdCount + 1
    end
  end
  pHwTcb.TxCbHeader.CbStatus = 0
  pHwTcb.TxCbHeader.CbCommand = P.CB_S_BIT | P.CB_TRANSMIT | P.CB_TX_SF_BIT
  pHwTcb.TxCbTbdPointer = pMpTcb.HwTbdPhys
  pHwTcb.TxCbTbdNumber = TbdCount
  pHwTcb.TxCbCount = 0
  pHwTcb.TxCbThreshold = FdoData.AiThreshold
  return P.NICStartSend(FdoData, pMpTcb)
end

-- NICStartSend: CU start at the TCB if the CU is idle, else clear the
-- previous TCB's suspend bit and resume.
function P.NICStartSend(FdoData, pMpTcb)
  local status
  if FdoData.TransmitIdle then
    if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
    if CSR(FdoData).ScbStatus & P.SCB_CUS_MASK ~= P.SCB_CUS_IDLE then
      P.MP_SET_HARDWARE_ERROR(FdoData)
      KeStallExecutionProcessor(25)
    end
    CSR(FdoData).ScbGeneralPointer = pMpTcb.HwTcbPhys
    status = P.D100IssueScbCommand(FdoData, P.SCB_CUC_START, false)
    FdoData.TransmitIdle = false
    FdoData.ResumeWait = true
  else
    local header = pMpTcb.PrevHwTcb.TxCbHeader
    header.CbCommand = header.CbCommand & ~P.CB_S_BIT
    status = P.D100IssueScbCommand(FdoData, P.SCB_CUC_RESUME, FdoData.ResumeWait)
  end
  return status
end

-- NICHandleSendInterrupt (SendLock held): the TCBs the chip completed, in order.
function P.NICHandleSendInterrupt(FdoData)
  local status = STATUS_SUCCESS
  if FdoData.nBusySend == 0 then
    assert(FdoData.CurrSendHead == FdoData.CurrSendTail)
    return status
  end
  while FdoData.nBusySend > 0 do
    local pMpTcb = FdoData.CurrSendHead
    local header = pMpTcb.HwTcb.TxCbHeader
    if header.CbStatus & P.CB_STATUS_COMPLETE == 0 then break end
    if header.CbCommand & P.CB_CMD_MASK ~= P.CB_MULTICAST then
      local transactionComplete
      transactionComplete, status = WdfDmaTransactionDmaCompleted(pMpTcb.DmaTransaction)
      if transactionComplete then
        assert(status == STATUS_SUCCESS)
        P.MP_FREE_SEND_PACKET(FdoData, pMpTcb, status)
      else
        error("STATUS_MORE_PROCESSING_REQUIRED: a write needed more than one DMA transfer")
      end
    end
  end
  return status
end

-- NICCheckForQueuedSends: the parked writes, while TCBs are free.
function P.NICCheckForQueuedSends(FdoData)
  while P.MP_TCB_RESOURCES_AVAIABLE(FdoData) do
    local status, request = WdfIoQueueRetrieveNextRequest(FdoData.PendingWriteQueue)
    if not NT_SUCCESS(status) then break end
    status = P.NICInitiateDmaTransfer(FdoData, request)
    if not NT_SUCCESS(status) then WdfRequestCompleteWithInformation(request, status, 0) end
    FdoData.nWaitSend = FdoData.nWaitSend - 1
  end
end

-- NICFreeBusySendPackets (SendLock held).
function P.NICFreeBusySendPackets(FdoData)
  while FdoData.nBusySend > 0 do
    local pMpTcb = FdoData.CurrSendHead
    if pMpTcb.HwTcb.TxCbHeader.CbCommand & P.CB_CMD_MASK == P.CB_MULTICAST then break end
    P.MP_FREE_SEND_PACKET(FdoData, pMpTcb, STATUS_SUCCESS)
  end
end

-- NICFreeQueuedSendPackets (SendLock held): the parked writes fail.
function P.NICFreeQueuedSendPackets(FdoData)
  local status = P.MP_GET_STATUS_FROM_FLAGS(FdoData)
  while true do
    local st, request = WdfIoQueueRetrieveNextRequest(FdoData.PendingWriteQueue)
    if not NT_SUCCESS(st) then break end
    FdoData.nWaitSend = FdoData.nWaitSend - 1
    WdfSpinLockRelease(FdoData.SendLock)
    WdfRequestCompleteWithInformation(request, status, 0)
    WdfSpinLockAcquire(FdoData.SendLock)
  end
end

return P
