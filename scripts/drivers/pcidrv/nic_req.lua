-- pcidrv/nic_req.lua: HW/nic_req.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/nic_req.c):
-- the METHOD_BUFFERED IOCTLs of the NDISPROT interface that reach the
-- data path: a query of the link (speed, media state) and of the MAC
-- addresses, the packet filter (without one the receive path drops every
-- frame) and the multicast list, both sent to the chip as configure and
-- multicast-setup command blocks; while the link is being detected such a
-- request waits on the manual PendingIoctlQueue (NICLinkDetection finds it
-- again with NICGetIoctlRequest: WdfIoQueueFindRequest,
-- WdfIoQueueRetrieveFoundRequest, WdfObjectDereference).
-- Left out: NICServiceIndicateStatusIrp (IOCTL_NDISPROT_INDICATE_STATUS
-- requests wait on PendingIoctlQueue; no media-state change completes them).
-- Left out (statistics, power and wake): the OID_GEN_XMIT_OK... counters
-- (NICGetStatsCounters), OID_PNP_CAPABILITIES, OID_PNP_QUERY_POWER,
-- OID_PNP_SET_POWER, the wake-up patterns, OID_PNP_ENABLE_WAKE_UP: they
-- complete with STATUS_NOT_SUPPORTED here.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
local CSR = P.CSR

local DATA = P.NDISPROT_QUERY_OID:offset("Data")   -- FIELD_OFFSET(NDISPROT_QUERY_OID, Data)

function P.NICHandleQueryOidRequest(Queue, Request, _)
  local FdoData = P.FdoGetData(WdfIoQueueGetDevice(Queue))
  local status, DataBuffer, BufferLength = WdfRequestRetrieveOutputBuffer(Request, P.NDISPROT_QUERY_OID.size)
  if not NT_SUCCESS(status) then
    WdfRequestComplete(Request, status)
    return
  end
  local m = FdoData.Machine
  local pQuery = P.NDISPROT_QUERY_OID:at(m, DataBuffer)
  local Oid = pQuery.Oid
  local InformationBuffer = DataBuffer + DATA
  local InformationBufferLength = BufferLength - DATA
  local info = string.pack("<I4", 0)            -- ulInfo
  if Oid == P.OID_GEN_LINK_SPEED or Oid == P.OID_GEN_MEDIA_CONNECT_STATUS then
    if InformationBufferLength < 4 then
      status = STATUS_BUFFER_TOO_SMALL
    else
      WdfSpinLockAcquire(FdoData.Lock)
      if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION) then
        status = WdfRequestForwardToIoQueue(Request, FdoData.PendingIoctlQueue)
        WdfSpinLockRelease(FdoData.Lock)
        if NT_SUCCESS(status) then return end
      else
        WdfSpinLockRelease(FdoData.Lock)
        if Oid == P.OID_GEN_LINK_SPEED then
          info = string.pack("<I4", FdoData.usLinkSpeed * 10000)
        else
          info = string.pack("<I4", P.NICIndicateMediaState(FdoData))
        end
      end
    end
  elseif Oid == P.OID_802_3_PERMANENT_ADDRESS or Oid == P.OID_802_3_CURRENT_ADDRESS then
    if InformationBufferLength < P.ETH_LENGTH_OF_ADDRESS then
      status = STATUS_BUFFER_TOO_SMALL
    else
      info = Oid == P.OID_802_3_PERMANENT_ADDRESS and FdoData.PermanentAddress or FdoData.CurrentAddress
    end
  else
    status = STATUS_NOT_SUPPORTED
  end
  local ulInfoLen = #info
  if status == STATUS_SUCCESS then m:write(InformationBuffer, info) end      -- RtlMoveMemory
  WdfRequestCompleteWithInformation(Request, status, ulInfoLen + DATA)
end

function P.NICHandleSetOidRequest(Queue, Request, _)
  local FdoData = P.FdoGetData(WdfIoQueueGetDevice(Queue))
  local status, DataBuffer, BufferLength = WdfRequestRetrieveInputBuffer(Request, P.NDISPROT_SET_OID.size)
  if not NT_SUCCESS(status) then
    WdfRequestComplete(Request, status)
    return
  end
  local m = FdoData.Machine
  repeat
    if BufferLength < P.NDISPROT_SET_OID.size then
      status = STATUS_BUFFER_OVERFLOW
      break
    end
    local Oid = P.NDISPROT_SET_OID:at(m, DataBuffer).Oid
    local InformationBuffer = DataBuffer + DATA
    local InformationBufferLength = BufferLength - DATA
    if Oid == P.OID_802_3_MULTICAST_LIST then
      if InformationBufferLength % P.ETH_LENGTH_OF_ADDRESS ~= 0 then
        status = STATUS_INVALID_BUFFER_SIZE
        break
      end
      FdoData.MCAddressCount = InformationBufferLength // P.ETH_LENGTH_OF_ADDRESS
      FdoData.MCList = m:read(InformationBuffer, InformationBufferLength)
      WdfSpinLockAcquire(FdoData.Lock)
      WdfSpinLockAcquire(FdoData.RcvLock)
      status = P.NICSetMulticastList(FdoData)
      WdfSpinLockRelease(FdoData.RcvLock)
      WdfSpinLockRelease(FdoData.Lock)
    elseif Oid == P.OID_GEN_CURRENT_PACKET_FILTER then
      if InformationBufferLength ~= 4 then
        status = STATUS_INVALID_BUFFER_SIZE
        break
      end
      local PacketFilter = m:read_u32(InformationBuffer)
      if PacketFilter & ~P.NIC_SUPPORTED_FILTERS ~= 0 then
        status = STATUS_NOT_SUPPORTED
        break
      end
      if PacketFilter == FdoData.PacketFilter then break end
      WdfSpinLockAcquire(FdoData.Lock)
      WdfSpinLockAcquire(FdoData.RcvLock)
      if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_LINK_DETECTION) then
        status = WdfRequestForwardToIoQueue(Request, FdoData.PendingIoctlQueue)
        WdfSpinLockRelease(FdoData.RcvLock)
        WdfSpinLockRelease(FdoData.Lock)
        if NT_SUCCESS(status) then return end
        break
      end
      status = P.NICSetPacketFilter(FdoData, PacketFilter)
      WdfSpinLockRelease(FdoData.RcvLock)
      WdfSpinLockRelease(FdoData.Lock)
      if status == STATUS_SUCCESS then FdoData.PacketFilter = PacketFilter end
    else
      status = STATUS_NOT_SUPPORTED
    end
  until true
  WdfRequestCompleteWithInformation(Request, status, 0)
end

-- NICGetIoctlRequest: the first request of IOCTL `FunctionCode` parked on Queue.
function P.NICGetIoctlRequest(Queue, FunctionCode)
  local prevTagRequest
  while true do
    local params = {}                            -- WDF_REQUEST_PARAMETERS_INIT
    local status, tagRequest = WdfIoQueueFindRequest(Queue, prevTagRequest, nil, params)
    if prevTagRequest then WdfObjectDereference(prevTagRequest) end
    if status == STATUS_NO_MORE_ENTRIES then return STATUS_UNSUCCESSFUL end
    if status == STATUS_NOT_FOUND then
      prevTagRequest = nil
    elseif not NT_SUCCESS(status) then
      return STATUS_UNSUCCESSFUL
    elseif FunctionCode == params.Parameters.DeviceIoControl.IoControlCode then
      local request
      status, request = WdfIoQueueRetrieveFoundRequest(Queue, tagRequest)
      WdfObjectDereference(tagRequest)
      if status ~= STATUS_NOT_FOUND then
        if not NT_SUCCESS(status) then return STATUS_UNSUCCESSFUL end
        return STATUS_SUCCESS, request
      end
      prevTagRequest = nil
    else
      prevTagRequest = tagRequest
    end
  end
end

-- NICIndicateMediaState: the PHY's link state, remembered.
function P.NICIndicateMediaState(FdoData)
  WdfSpinLockAcquire(FdoData.Lock)
  local CurrMediaState = P.GetMediaState(FdoData)
  if CurrMediaState ~= FdoData.MediaState then
    FdoData.MediaState = CurrMediaState
    if CurrMediaState == P.Connected then
      P.MP_CLEAR_FLAG(FdoData, P.fMP_ADAPTER_NO_CABLE)
    else
      P.MP_SET_FLAG(FdoData, P.fMP_ADAPTER_NO_CABLE)
    end
  end
  WdfSpinLockRelease(FdoData.Lock)
  return CurrMediaState
end

-- The CU must not be active before a non-transmit command block replaces
-- the transmits: wait for it, then it is idle for the driver (the part of
-- NICSetPacketFilter and NICSetMulticastList the C writes out in both).
local function StopTransmitUnit(FdoData, abortReceive)
  local csr = CSR(FdoData)
  local function cu_not_active() return csr.ScbStatus & P.SCB_CUS_MASK ~= P.SCB_CUS_ACTIVE end
  if not P.MP_STALL_AND_WAIT(cu_not_active, 5000) then
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return STATUS_DEVICE_DATA_ERROR
  end
  if abortReceive and csr.ScbStatus & P.SCB_RUS_MASK ~= P.SCB_RUS_IDLE then
    local status = P.D100IssueScbCommand(FdoData, P.SCB_RUC_ABORT, true)
    if status ~= STATUS_SUCCESS then return status end
  end
  if abortReceive and not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  FdoData.TransmitIdle, FdoData.ResumeWait = true, true
  return STATUS_SUCCESS
end

-- NICSetPacketFilter: a configure command with the filter's parameter byte.
function P.NICSetPacketFilter(FdoData, PacketFilter)
  local NewParameterField = P.CFIG_DEFAULT[15]
  if PacketFilter & P.NDIS_PACKET_TYPE_BROADCAST ~= 0 then
    NewParameterField = NewParameterField & ~P.CB_CFIG_BROADCAST_DIS
  else
    NewParameterField = NewParameterField | P.CB_CFIG_BROADCAST_DIS
  end
  if PacketFilter & P.NDIS_PACKET_TYPE_PROMISCUOUS ~= 0 then
    NewParameterField = NewParameterField | P.CB_CFIG_PROMISCUOUS
  else
    NewParameterField = NewParameterField & ~P.CB_CFIG_PROMISCUOUS
  end
  local allMulticast = PacketFilter & P.NDIS_PACKET_TYPE_ALL_MULTICAST ~= 0
  if FdoData.OldParameterField == NewParameterField and not allMulticast then return STATUS_SUCCESS end
  FdoData.OldParameterField = NewParameterField
  local cb = P.CONFIG_CB_STRUC:at(FdoData.Machine, FdoData.NonTxCmdBlock)
  cb.ConfigCBHeader.CbCommand = P.CB_CONFIGURE
  cb.ConfigCBHeader.CbStatus = 0
  cb.ConfigCBHeader.CbLinkPointer = P.DRIVER_NULL
  P.FillConfigBytes(FdoData, cb, NewParameterField, allMulticast)
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  if not FdoData.TransmitIdle then
    local status = StopTransmitUnit(FdoData, true)
    if status ~= STATUS_SUCCESS then return status end
  end
  CSR(FdoData).ScbGeneralPointer = FdoData.NonTxCmdBlockPhys
  local status = P.D100SubmitCommandBlockAndWait(FdoData)
  if status ~= STATUS_SUCCESS then status = STATUS_DEVICE_NOT_READY end
  return status
end

-- NICSetMulticastList: a multicast-setup command with MCList.
function P.NICSetMulticastList(FdoData)
  local cb = P.MULTICAST_CB_STRUC:at(FdoData.Machine, FdoData.NonTxCmdBlock)
  local list = FdoData.MCList or ""
  for i = 0, FdoData.MCAddressCount * P.ETH_LENGTH_OF_ADDRESS - 1 do cb.McAddress[i] = list:byte(i + 1) end
  cb.McCount = FdoData.MCAddressCount * P.ETH_LENGTH_OF_ADDRESS
  cb.McCBHeader.CbStatus = 0
  cb.McCBHeader.CbCommand = P.CB_MULTICAST
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  if not FdoData.TransmitIdle then StopTransmitUnit(FdoData, false) end
  CSR(FdoData).ScbGeneralPointer = FdoData.NonTxCmdBlockPhys
  local status = P.D100SubmitCommandBlockAndWait(FdoData)
  if status ~= STATUS_SUCCESS then status = STATUS_DEVICE_NOT_READY end
  return status
end

return P
