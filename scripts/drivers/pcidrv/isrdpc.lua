-- pcidrv/isrdpc.lua: HW/isrdpc.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/isrdpc.c):
-- the ISR (masks the chip's interrupt, acknowledges its causes, queues the
-- DPC), the DPC (receive under RcvLock, send completions under SendLock,
-- the parked writes, the RU restarted, the interrupt unmasked through
-- WdfInterruptSynchronize), EvtInterruptEnable/Disable, and the watchdog
-- timer (link detection, then the check for a hung send and the reset).
-- Reduced: the PHY's detection and set-up in NICLinkDetection (PhyDetect,
-- ScanAndSetupPhy: MDI details) -- the link is taken as found at once, at
-- 100 Mb/s full duplex, the state of the model's PHY.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")

-- EvtInterruptIsr.
function P.NICEvtInterruptIsr(Interrupt, _)
  local FdoData = P.FdoGetData(WdfInterruptGetDevice(Interrupt))
  if not P.NIC_INTERRUPT_DISABLED(FdoData) and P.NIC_INTERRUPT_ACTIVE(FdoData) then
    P.NICDisableInterrupt(FdoData)
    P.NIC_ACK_INTERRUPT(FdoData)
    WdfInterruptQueueDpcForIsr(Interrupt)
    return TRUE
  end
  return FALSE
end

-- EvtInterruptDpc.
function P.NICEvtInterruptDpc(WdfInterrupt, WdfDevice)
  local fdoData = P.FdoGetData(WdfDevice)
  WdfSpinLockAcquire(fdoData.RcvLock)
  P.NICHandleRecvInterrupt(fdoData)
  WdfSpinLockRelease(fdoData.RcvLock)
  WdfSpinLockAcquire(fdoData.SendLock)
  P.NICHandleSendInterrupt(fdoData)
  WdfSpinLockRelease(fdoData.SendLock)
  P.NICCheckForQueuedSends(fdoData)
  WdfSpinLockAcquire(fdoData.RcvLock)
  P.NICStartRecv(fdoData)
  WdfSpinLockRelease(fdoData.RcvLock)
  WdfInterruptSynchronize(WdfInterrupt, P.NICEnableInterrupt, fdoData)
end

function P.NICEvtInterruptEnable(Interrupt, AssociatedDevice)
  P.NICEnableInterrupt(Interrupt, P.FdoGetData(AssociatedDevice))
  return STATUS_SUCCESS
end

function P.NICEvtInterruptDisable(_, AssociatedDevice)
  P.NICDisableInterrupt(P.FdoGetData(AssociatedDevice))
  return STATUS_SUCCESS
end

function P.NICEvtDeviceD0EntryPostInterruptsEnabled(_, _) return STATUS_SUCCESS end
function P.NICEvtDeviceD0ExitPreInterruptsDisabled(_, _) return STATUS_SUCCESS end

-- NICStartWatchDogTimer: first the link detection, then the hang checks.
function P.NICStartWatchDogTimer(FdoData)
  local dueTime
  if not FdoData.CheckForHang then
    P.MP_SET_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION)
    FdoData.CheckForHang, FdoData.bLinkDetectionWait, FdoData.bLookForLink = false, false, false
    dueTime = P.NIC_LINK_DETECTION_DELAY
  else
    dueTime = P.NIC_CHECK_FOR_HANG_DELAY
  end
  WdfTimerStart(FdoData.WatchDogTimer, dueTime)
end

-- EvtTimerFunc of the watchdog.
function P.NICWatchDogEvtTimerFunc(Timer)
  local FdoData = P.FdoGetData(WdfTimerGetParentObject(Timer))
  local DueTime = P.NIC_CHECK_FOR_HANG_DELAY
  if not FdoData.CheckForHang then
    local status = P.NICLinkDetection(FdoData)
    if status == STATUS_PENDING then
      FdoData.bLinkDetectionWait = true
      DueTime = P.NIC_LINK_DETECTION_DELAY
    else
      FdoData.CheckForHang = true
    end
  elseif P.NICCheckForHang(FdoData) then
    if not NT_SUCCESS(P.NICReset(FdoData)) then return end
  end
  WdfTimerStart(FdoData.WatchDogTimer, DueTime)
end

function P.NICCheckForHang(FdoData)
  if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION) then return false end
  if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_NON_RECOVER_ERROR | P.fMP_ADAPTER_HARDWARE_ERROR) then
    return true
  end
  WdfSpinLockAcquire(FdoData.SendLock)
  if FdoData.nBusySend > 0 then
    local pMpTcb = FdoData.CurrSendHead
    pMpTcb.Count = pMpTcb.Count + 1
    if pMpTcb.Count > P.NIC_SEND_HANG_THRESHOLD then
      WdfSpinLockRelease(FdoData.SendLock)
      return true
    end
  end
  WdfSpinLockRelease(FdoData.SendLock)
  WdfSpinLockAcquire(FdoData.RcvLock)
  if FdoData.CurrNumRfd > FdoData.NumRfd then FdoData.RfdShrinkCount = FdoData.RfdShrinkCount + 1 end
  WdfSpinLockRelease(FdoData.RcvLock)
  P.NICIndicateMediaState(FdoData)
  return false
end

-- NICReset: the sends given up, the send ring and the RU started again.
function P.NICReset(FdoData)
  local status
  WdfSpinLockAcquire(FdoData.Lock)
  WdfSpinLockAcquire(FdoData.SendLock)
  WdfSpinLockAcquire(FdoData.RcvLock)
  repeat
    if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_RESET_IN_PROGRESS) then
      status = STATUS_SUCCESS
      goto exit
    end
    P.MP_SET_FLAG(FdoData, P.fMP_ADAPTER_RESET_IN_PROGRESS)
    if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION) then
      status = STATUS_SUCCESS
      goto exit                                 -- (the sample leaves RESET_IN_PROGRESS set here)
    end
    if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_NON_RECOVER_ERROR) then
      P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_RESET_IN_PROGRESS)
      WdfSpinLockRelease(FdoData.RcvLock)
      WdfSpinLockRelease(FdoData.SendLock)
      WdfSpinLockRelease(FdoData.Lock)
      dma.WdfDeviceSetFailed(FdoData.WdfDevice, dma.WdfDeviceFailedAttemptRestart)  -- not modelled: raises
      return STATUS_DEVICE_DATA_ERROR
    end
    P.NICDisableInterrupt(FdoData)
    P.NICIssueSelectiveReset(FdoData)
    WdfSpinLockRelease(FdoData.RcvLock)
    WdfSpinLockRelease(FdoData.SendLock)
    WdfSpinLockRelease(FdoData.Lock)
    WdfSpinLockAcquire(FdoData.SendLock)
    P.NICFreeQueuedSendPackets(FdoData)
    P.NICFreeBusySendPackets(FdoData)
    RtlZeroMemory(FdoData.MpTcbMem, FdoData.MpTcbMemSize)
    P.NICInitSendBuffers(FdoData)
    WdfSpinLockRelease(FdoData.SendLock)
    WdfSpinLockAcquire(FdoData.Lock)
    WdfSpinLockAcquire(FdoData.SendLock)
    WdfSpinLockAcquire(FdoData.RcvLock)
    P.NICResetRecv(FdoData)
    status = P.NICStartRecv(FdoData)
    if status ~= STATUS_SUCCESS then
      FdoData.HwErrCount = FdoData.HwErrCount + 1    -- (the sample fails the device after 5)
      break
    end
    FdoData.HwErrCount = 0
    P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_HARDWARE_ERROR)
    P.NICEnableInterrupt(FdoData.WdfInterrupt, FdoData)
  until true
  P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_RESET_IN_PROGRESS)
  ::exit::
  WdfSpinLockRelease(FdoData.RcvLock)
  WdfSpinLockRelease(FdoData.SendLock)
  WdfSpinLockRelease(FdoData.Lock)
  return status
end

-- NICLinkDetection: the PHY's link (reduced, see the header), then the
-- IOCTLs parked meanwhile, the RU and the parked writes.
function P.NICLinkDetection(FdoData)
  FdoData.PhyAddress, FdoData.usLinkSpeed, FdoData.usDuplexMode = 1, 100, 2
  FdoData.bLinkDetectionWait = false
  WdfSpinLockAcquire(FdoData.Lock)
  P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION)
  WdfSpinLockRelease(FdoData.Lock)
  local m = FdoData.Machine
  local status, request = P.NICGetIoctlRequest(FdoData.PendingIoctlQueue, P.IOCTL_NDISPROT_QUERY_OID_VALUE)
  if NT_SUCCESS(status) then
    local DataBuffer
    status, DataBuffer = WdfRequestRetrieveOutputBuffer(request, P.NDISPROT_QUERY_OID.size)
    if NT_SUCCESS(status) then
      local Oid = P.NDISPROT_QUERY_OID:at(m, DataBuffer).Oid
      local InformationBuffer = DataBuffer + P.NDISPROT_QUERY_OID:offset("Data")
      if Oid == P.OID_GEN_LINK_SPEED then
        m:write_u32(InformationBuffer, FdoData.usLinkSpeed * 10000)
      else
        m:write_u32(InformationBuffer, P.NICIndicateMediaState(FdoData))
      end
      WdfRequestCompleteWithInformation(request, status, 4)
    end
  end
  status, request = P.NICGetIoctlRequest(FdoData.PendingIoctlQueue, P.IOCTL_NDISPROT_SET_OID_VALUE)
  if NT_SUCCESS(status) then
    local DataBuffer
    status, DataBuffer = WdfRequestRetrieveOutputBuffer(request, P.NDISPROT_SET_OID.size)
    if NT_SUCCESS(status) and P.NDISPROT_SET_OID:at(m, DataBuffer).Oid == P.OID_GEN_CURRENT_PACKET_FILTER then
      local PacketFilter = m:read_u32(DataBuffer + P.NDISPROT_SET_OID:offset("Data"))
      WdfSpinLockAcquire(FdoData.Lock)
      status = P.NICSetPacketFilter(FdoData, PacketFilter)
      WdfSpinLockRelease(FdoData.Lock)
      if status == STATUS_SUCCESS then FdoData.PacketFilter = PacketFilter end
      WdfRequestCompleteWithInformation(request, status, 0)
    end
  end
  WdfSpinLockAcquire(FdoData.RcvLock)
  status = P.NICStartRecv(FdoData)
  if status ~= STATUS_SUCCESS then P.MP_SET_HARDWARE_ERROR(FdoData) end
  WdfSpinLockRelease(FdoData.RcvLock)
  P.NICCheckForQueuedSends(FdoData)
  return status
end

return P
