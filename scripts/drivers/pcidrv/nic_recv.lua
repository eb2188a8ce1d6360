-- pcidrv/nic_recv.lua: HW/nic_recv.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/nic_recv.c):
-- the receive path. The RFDs live each in a common buffer of its own,
-- chained by their link pointers in the order of RecvList; the DPC takes
-- the completed RFDs off the list (RcvLock), copies each frame into the
-- next read request parked on the manual PendingReadQueue (the frame is
-- dropped when no read waits, as in the sample), completes the request
-- and gives the RFD back to the end of the chain (NICReturnRFD), then
-- restarts the RU at the head of the list if it stopped (NICStartRecv).
-- Left out: NICServiceIndicateStatusIrp's media-state indication.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
local CSR = P.CSR

-- NICHandleRecvInterrupt (RcvLock held).
function P.NICHandleRecvInterrupt(FdoData)
  local LoopIndex, LoopCount = 0, P.NIC_MAX_RFDS // P.NIC_DEF_RFDS + 1
  local bContinue, bAllocNewRfd = true, false
  assert(FdoData.nReadyRecv >= P.NIC_MIN_RFDS)
  while LoopIndex < LoopCount and bContinue do
    LoopIndex = LoopIndex + 1
    local PacketArray, PacketFreeArray = {}, {}
    while #PacketArray < P.NIC_DEF_RFDS do
      if P.IsListEmpty(FdoData.RecvList) then
        bContinue = false
        break
      end
      local pMpRfd = P.GetListHeadEntry(FdoData.RecvList)
      local pHwRfd = pMpRfd.HwRfd
      local PacketStatus = P.NIC_RFD_GET_STATUS(pHwRfd)
      if not P.NIC_RFD_STATUS_COMPLETED(PacketStatus) or not P.NIC_RFD_VALID_ACTUALCOUNT(pHwRfd) then
        bContinue = false
        break
      end
      P.RemoveEntryList(FdoData.RecvList, pMpRfd)
      FdoData.nReadyRecv = FdoData.nReadyRecv - 1
      assert(P.MP_TEST_FLAG(pMpRfd, P.fMP_RFD_RECV_READY))
      P.MP_CLEAR_FLAG(pMpRfd, P.fMP_RFD_RECV_READY)
      if not P.NIC_RFD_STATUS_SUCCESS(PacketStatus) or FdoData.PacketFilter == 0
         or FdoData.DevicePowerState ~= PowerDeviceD0 then
        P.NICReturnRFD(FdoData, pMpRfd)       -- a bad frame, no filter, or not in D0: dropped
      else
        pMpRfd.PacketSize = P.NIC_RFD_GET_PACKET_SIZE(pHwRfd)
        KeFlushIoBuffers(pMpRfd.Mdl, TRUE, TRUE)
        if FdoData.nReadyRecv >= P.MIN_NUM_RFD then
          P.MP_SET_FLAG(pMpRfd, P.fMP_RFD_RECV_PEND)
        else
          P.MP_SET_FLAG(pMpRfd, P.fMP_RFD_RESOURCES)
          PacketFreeArray[#PacketFreeArray + 1] = pMpRfd
          FdoData.RfdShrinkCount = 0
          bAllocNewRfd = true
        end
        PacketArray[#PacketArray + 1] = pMpRfd
      end
    end
    if #PacketArray == 0 then break end
    WdfSpinLockRelease(FdoData.RcvLock)
    WdfSpinLockAcquire(FdoData.Lock)
    if FdoData.MediaState == P.Disconnected then
      P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_NO_CABLE)
      FdoData.MediaState = P.Connected
    end
    WdfSpinLockRelease(FdoData.Lock)
    P.NICServiceReadIrps(FdoData, PacketArray, #PacketArray)
    WdfSpinLockAcquire(FdoData.RcvLock)
    for _, pMpRfd in ipairs(PacketFreeArray) do
      assert(P.MP_TEST_FLAG(pMpRfd, P.fMP_RFD_RESOURCES))
      P.MP_CLEAR_FLAG(pMpRfd, P.fMP_RFD_RESOURCES)
      P.NICReturnRFD(FdoData, pMpRfd)
    end
  end
  if bAllocNewRfd and FdoData.CurrNumRfd < FdoData.MaxNumRfd and not FdoData.AllocNewRfd then
    FdoData.AllocNewRfd = true
    local status = P.PciDrvQueuePassiveLevelCallback(FdoData, P.NICAllocRfdWorkItem, nil, nil)
    if not NT_SUCCESS(status) then FdoData.AllocNewRfd = false end
  end
end

-- NICReturnRFD: the RFD, cleared, goes to the end of the chain (EL moves to it).
function P.NICReturnRFD(FdoData, pMpRfd)
  assert(pMpRfd.Flags == 0)
  P.MP_SET_FLAG(pMpRfd, P.fMP_RFD_RECV_READY)
  local pHwRfd = pMpRfd.HwRfd
  pHwRfd.RfdCbHeader.CbStatus = 0
  pHwRfd.RfdActualCount = 0
  pHwRfd.RfdCbHeader.CbCommand = P.RFD_EL_BIT
  pHwRfd.RfdCbHeader.CbLinkPointer = P.DRIVER_NULL
  if not P.IsListEmpty(FdoData.RecvList) then
    local pLastMpRfd = P.GetListTailEntry(FdoData.RecvList)
    pHwRfd = pLastMpRfd.HwRfd
    pHwRfd.RfdCbHeader.CbLinkPointer = pMpRfd.HwRfdPhys
    pHwRfd.RfdCbHeader.CbCommand = 0
  end
  P.InsertTailList(FdoData.RecvList, pMpRfd)
  FdoData.nReadyRecv = FdoData.nReadyRecv + 1
  assert(FdoData.nReadyRecv <= FdoData.CurrNumRfd)
end

-- NICStartRecv (RcvLock held): the RU started at the head of the list unless it is ready.
function P.NICStartRecv(FdoData)
  if P.NIC_IS_RECV_READY(FdoData) then return STATUS_SUCCESS end
  assert(not P.IsListEmpty(FdoData.RecvList))
  local pMpRfd = P.GetListHeadEntry(FdoData.RecvList)
  if P.NIC_RFD_GET_STATUS(pMpRfd.HwRfd) ~= 0 then
    P.NICHandleRecvInterrupt(FdoData)
    pMpRfd = P.GetListHeadEntry(FdoData.RecvList)
  end
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  if FdoData.DevicePowerState > PowerDeviceD0 then return STATUS_DEVICE_DATA_ERROR end
  CSR(FdoData).ScbGeneralPointer = pMpRfd.HwRfdPhys
  local status = P.D100IssueScbCommand(FdoData, P.SCB_RUC_START, false)
  if status == STATUS_SUCCESS and not P.WaitScb(FdoData) then status = STATUS_DEVICE_DATA_ERROR end
  return status
end

-- NICResetRecv: the status of every ready RFD cleared.
function P.NICResetRecv(FdoData)
  for i = 1, FdoData.nReadyRecv do FdoData.RecvList[i].HwRfd.RfdCbHeader.CbStatus = 0 end
end

-- NICServiceReadIrps: each frame into the next parked read.
function P.NICServiceReadIrps(FdoData, PacketArray, PacketArrayCount)
  for index = 1, PacketArrayCount do
    local pMpRfd = PacketArray[index]
    local status, request = WdfIoQueueRetrieveNextRequest(FdoData.PendingReadQueue)
    if NT_SUCCESS(status) then
      local length = 0
      local params = WdfRequestGetParameters(request)
      local bufLength = params.Parameters.Read.Length
      local buffer
      status, buffer, bufLength = WdfRequestRetrieveOutputBuffer(request, bufLength)
      if NT_SUCCESS(status) then
        length = math.min(bufLength, pMpRfd.PacketSize)
        RtlCopyMemory(buffer, pMpRfd.Buffer, length)
        FdoData.BytesReceived = FdoData.BytesReceived + length
      end
      WdfRequestCompleteWithInformation(request, status, length)
    else
      assert(status == STATUS_NO_MORE_ENTRIES or status == STATUS_WDF_PAUSED)
      FdoData.DroppedReceives = FdoData.DroppedReceives + 1
    end
    WdfSpinLockAcquire(FdoData.RcvLock)
    assert(P.MP_TEST_FLAG(pMpRfd, P.fMP_RFD_RECV_PEND) or P.MP_TEST_FLAG(pMpRfd, P.fMP_RFD_RESOURCES))
    P.MP_CLEAR_FLAG(pMpRfd, P.fMP_RFD_RECV_PEND)
    if pMpRfd.Flags & P.fMP_RFD_RESOURCES == 0 then
      if FdoData.RfdShrinkCount < P.NIC_RFD_SHRINK_THRESHOLD then
        P.NICReturnRFD(FdoData, pMpRfd)
      else
        status = P.PciDrvQueuePassiveLevelCallback(FdoData, P.NICFreeRfdWorkItem, pMpRfd, nil)
        if NT_SUCCESS(status) then
          FdoData.RfdShrinkCount = 0
          FdoData.CurrNumRfd = FdoData.CurrNumRfd - 1
        else
          P.NICReturnRFD(FdoData, pMpRfd)
        end
      end
    end
    WdfSpinLockRelease(FdoData.RcvLock)
  end
end

return P
