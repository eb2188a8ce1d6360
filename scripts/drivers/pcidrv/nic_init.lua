-- pcidrv/nic_init.lua: HW/nic_init.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/nic_init.c):
-- the software resources (spin locks, the five queues, the WDFINTERRUPT,
-- the DMA enabler, the send and misc common buffers, the RFDs, each in a
-- common buffer of its own with its MP_RFD from the driver's lookaside
-- list), the hardware resources (the CSR BAR, the I/O-port BAR, the
-- interrupt), the self-test and the adapter's initialization (CU and RU
-- base, configure, individual address, counters).
--
-- Reduced (no part of the DMA and I/O paths), and why:
--   * NICGetDeviceInformation reads the PCI configuration space through
--     WdfFdoQueryForInterface(GUID_BUS_INTERFACE_STANDARD) and GetBusData,
--     which dmalab does not model: the revision ID comes from the
--     driver's options (RevisionID, default 8: an 82559, so D0 entry
--     initializes the adapter as the sample does for those).
--   * NICReadAdapterInfo reads the MAC address from the EEPROM by
--     bit-banging the EEPROM control register (eeprom.c): the address
--     comes from the options (PermanentAddress); its checks are kept.
--   * NICGetDeviceInfSettings reads the registry through
--     WdfDeviceOpenRegistryKey/WdfRegistryQueryULong (not modelled):
--     PciDrvReadRegistryValue answers from the options (NumRfd, NumTcb, ...).
--   * The wake-up patterns (NICRemoveAllWakeUpPatterns) are left out.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
local CSR = P.CSR

local function MP_ALIGNMEM(p, align) return (p + align - 1) & ~(align - 1) end
local function DATA_ALIGN(va) return (va + P.ETH_DATA_ALIGN - 1) & ~(P.ETH_DATA_ALIGN - 1) end
local function LowPart(la) return la & 0xFFFFFFFF end

-- PciDrvReadRegistryValue (PCIDRV.C): the value, or nil (see the header).
function P.PciDrvReadRegistryValue(FdoData, Name)
  return FdoData.Options[Name]
end

function P.NICAllocateSoftwareResources(FdoData)
  local status, attributes, ioQueueConfig
  local device, NO_ATTRIBUTES = FdoData.WdfDevice, WDF_NO_OBJECT_ATTRIBUTES
  FdoData.RecvList = P.InitializeListHead()
  attributes = WDF_OBJECT_ATTRIBUTES_INIT()
  attributes.ParentObject = device
  status, FdoData.Lock = WdfSpinLockCreate(attributes)
  if not NT_SUCCESS(status) then return status end
  status = P.NICGetDeviceInformation(FdoData)
  if not NT_SUCCESS(status) then return status end
  P.NICGetDeviceInfSettings(FdoData)

  ioQueueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel)
  ioQueueConfig.EvtIoWrite = P.PciDrvEvtIoWrite
  status, FdoData.WriteQueue = WdfIoQueueCreate(device, ioQueueConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  status = WdfDeviceConfigureRequestDispatching(device, FdoData.WriteQueue, WdfRequestTypeWrite)
  if not NT_SUCCESS(status) then return status end
  ioQueueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchManual)
  status, FdoData.PendingWriteQueue = WdfIoQueueCreate(device, ioQueueConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ioQueueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchManual)
  status, FdoData.PendingReadQueue = WdfIoQueueCreate(device, ioQueueConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  status = WdfDeviceConfigureRequestDispatching(device, FdoData.PendingReadQueue, WdfRequestTypeRead)
  if not NT_SUCCESS(status) then return status end
  ioQueueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel)
  ioQueueConfig.EvtIoDeviceControl = P.PciDrvEvtIoDeviceControl
  status, FdoData.IoctlQueue = WdfIoQueueCreate(device, ioQueueConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  status = WdfDeviceConfigureRequestDispatching(device, FdoData.IoctlQueue,
                                                WdfRequestTypeDeviceControl)
  if not NT_SUCCESS(status) then return status end
  ioQueueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchManual)
  status, FdoData.PendingIoctlQueue = WdfIoQueueCreate(device, ioQueueConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end

  local interruptConfig = WDF_INTERRUPT_CONFIG_INIT(P.NICEvtInterruptIsr, P.NICEvtInterruptDpc)
  interruptConfig.EvtInterruptEnable = P.NICEvtInterruptEnable
  interruptConfig.EvtInterruptDisable = P.NICEvtInterruptDisable
  status, FdoData.WdfInterrupt = WdfInterruptCreate(device, interruptConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end

  WdfDeviceSetAlignmentRequirement(device, FILE_OCTA_ALIGNMENT)
  local miniMapRegisters = BYTES_TO_PAGES(P.NIC_MAX_PACKET_SIZE) + 1
  local maxMapRegistersRequired = FdoData.NumTcb * P.NIC_MAX_PHYS_BUF_COUNT
  local maximumLength = (maxMapRegistersRequired - 1) << PAGE_SHIFT
  local dmaConfig = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather, maximumLength)
  status, FdoData.WdfDmaEnabler = WdfDmaEnablerCreate(device, dmaConfig, NO_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local maxLengthSupported = WdfDmaEnablerGetFragmentLength(FdoData.WdfDmaEnabler,
                                                            WdfDmaDirectionReadFromDevice)
  local mapRegistersAllocated = BYTES_TO_PAGES(maxLengthSupported) + 1
  if mapRegistersAllocated < miniMapRegisters then return STATUS_INSUFFICIENT_RESOURCES end
  FdoData.NumTcb = math.min(mapRegistersAllocated // miniMapRegisters, P.NIC_MAX_TCBS)
  WdfDmaEnablerSetMaximumScatterGatherElements(FdoData.WdfDmaEnabler, P.NIC_MAX_PHYS_BUF_COUNT)

  attributes = WDF_OBJECT_ATTRIBUTES_INIT()
  attributes.ParentObject = device
  status, FdoData.SendLock = WdfSpinLockCreate(attributes)
  if not NT_SUCCESS(status) then return status end
  attributes = WDF_OBJECT_ATTRIBUTES_INIT()
  attributes.ParentObject = device
  status, FdoData.RcvLock = WdfSpinLockCreate(attributes)
  if not NT_SUCCESS(status) then return status end

  status = P.NICAllocAdapterMemory(FdoData)
  if NT_SUCCESS(status) then
    P.NICInitSendBuffers(FdoData)
    status = P.NICInitRecvBuffers(FdoData)
  end
  return status
end

function P.NICFreeSoftwareResources(FdoData)
  P.NICFreeAdapterMemory(FdoData)
  return STATUS_SUCCESS
end

-- NICMapHWResources: the CSR (first memory range), the I/O ports (the
-- second range: a port, or a memory range mapped in its place), the interrupt.
function P.NICMapHWResources(FdoData, _, ResourcesTranslated)
  local bResPort, bResInterrupt, bResMemory, numberOfBARs = false, false, false, 0
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local descriptor = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if not descriptor then return STATUS_DEVICE_CONFIGURATION_ERROR end
    if descriptor.Type == CmResourceTypePort then
      numberOfBARs = numberOfBARs + 1
      if numberOfBARs ~= 2 then return STATUS_DEVICE_CONFIGURATION_ERROR end
      FdoData.IoBaseAddress = descriptor.u.Port.Start & 0xFFFFFFFF
      FdoData.IoRange = descriptor.u.Port.Length
      FdoData.ReadPort, FdoData.WritePort = READ_PORT_USHORT, WRITE_PORT_USHORT
      bResPort, FdoData.MappedPorts = true, false
    elseif descriptor.Type == CmResourceTypeMemory then
      numberOfBARs = numberOfBARs + 1
      if numberOfBARs == 1 then
        FdoData.MemPhysAddress = descriptor.u.Memory.Start
        FdoData.CSRAddress = MmMapIoSpace(descriptor.u.Memory.Start, P.NIC_MAP_IOSPACE_LENGTH, MmNonCached)
        bResMemory = true
      elseif numberOfBARs == 2 then
        FdoData.IoBaseAddress = MmMapIoSpace(descriptor.u.Memory.Start, descriptor.u.Memory.Length,
                                             MmNonCached)
        FdoData.IoRange = descriptor.u.Memory.Length
        FdoData.ReadPort, FdoData.WritePort = READ_REGISTER_USHORT, WRITE_REGISTER_USHORT
        FdoData.MappedPorts, bResPort = true, true
      elseif numberOfBARs ~= 3 then
        return STATUS_DEVICE_CONFIGURATION_ERROR
      end
    elseif descriptor.Type == CmResourceTypeInterrupt then
      bResInterrupt = true
    end
  end
  if not (bResPort and bResInterrupt and bResMemory) then return STATUS_DEVICE_CONFIGURATION_ERROR end
  local status = P.NICReadAdapterInfo(FdoData)
  if status ~= STATUS_SUCCESS then return status end
  return P.NICSelfTest(FdoData)
end

function P.NICUnmapHWResources(FdoData)
  if FdoData.CSRAddress then
    MmUnmapIoSpace(FdoData.CSRAddress, P.NIC_MAP_IOSPACE_LENGTH)
    FdoData.CSRAddress = nil
  end
  if FdoData.MappedPorts then
    MmUnmapIoSpace(FdoData.IoBaseAddress, FdoData.IoRange)
    FdoData.IoBaseAddress = nil
  end
  return STATUS_SUCCESS
end

-- NICGetDeviceInformation (reduced: see the header).
function P.NICGetDeviceInformation(FdoData)
  FdoData.RevsionID = FdoData.Options.RevisionID or 8
  FdoData.MWIEnable = false
  return STATUS_SUCCESS
end

-- NICReadAdapterInfo (reduced: see the header).
function P.NICReadAdapterInfo(FdoData)
  local address = FdoData.Options.PermanentAddress or "\x00\xAA\x00\x12\x34\x56"
  FdoData.PermanentAddress = address
  local first = address:byte(1)
  if first & 1 ~= 0 or address == ("\xFF"):rep(6) then       -- ETH_IS_MULTICAST, ETH_IS_BROADCAST
    return STATUS_INVALID_ADDRESS
  end
  if not FdoData.bOverrideAddress then FdoData.CurrentAddress = address end
  return STATUS_SUCCESS
end

function P.NICAllocAdapterMemory(FdoData)
  local status
  FdoData.MpTcbMemSize = FdoData.NumTcb * P.MP_TCB_SIZE
  FdoData.MpTcbMem = ExAllocatePool2(POOL_FLAG_NON_PAGED, FdoData.MpTcbMemSize, P.PCIDRV_POOL_TAG)
  if not FdoData.MpTcbMem or FdoData.MpTcbMem == 0 then return STATUS_INSUFFICIENT_RESOURCES end
  FdoData.HwSendMemAllocSize = FdoData.NumTcb
    * (P.TXCB_STRUC.size + P.NIC_MAX_PHYS_BUF_COUNT * P.TBD_STRUC.size)
  local sendSize = FdoData.HwSendMemAllocSize
  status, FdoData.WdfSendCommonBuffer = WdfCommonBufferCreate(FdoData.WdfDmaEnabler, sendSize,
                                                              WDF_NO_OBJECT_ATTRIBUTES)
  if status ~= STATUS_SUCCESS then
    FdoData.HwSendMemAllocSize = 0
    return status
  end
  FdoData.HwSendMemAllocVa = WdfCommonBufferGetAlignedVirtualAddress(FdoData.WdfSendCommonBuffer)
  FdoData.HwSendMemAllocLa = WdfCommonBufferGetAlignedLogicalAddress(FdoData.WdfSendCommonBuffer)
  RtlZeroMemory(FdoData.HwSendMemAllocVa, FdoData.HwSendMemAllocSize)

  FdoData.HwMiscMemAllocSize = P.SELF_TEST_STRUC.size + P.ALIGN_16 + P.DUMP_AREA_STRUC_SIZE + P.ALIGN_16
    + P.NON_TRANSMIT_CB_SIZE + P.ALIGN_16 + P.ERR_COUNT_STRUC.size + P.ALIGN_16
  local miscSize = FdoData.HwMiscMemAllocSize
  status, FdoData.WdfMiscCommonBuffer = WdfCommonBufferCreate(FdoData.WdfDmaEnabler, miscSize,
                                                              WDF_NO_OBJECT_ATTRIBUTES)
  if status ~= STATUS_SUCCESS then
    FdoData.HwMiscMemAllocSize = 0
    return status
  end
  FdoData.HwMiscMemAllocVa = WdfCommonBufferGetAlignedVirtualAddress(FdoData.WdfMiscCommonBuffer)
  FdoData.HwMiscMemAllocLa = WdfCommonBufferGetAlignedLogicalAddress(FdoData.WdfMiscCommonBuffer)
  RtlZeroMemory(FdoData.HwMiscMemAllocVa, FdoData.HwMiscMemAllocSize)
  local pMem, MemPhys = FdoData.HwMiscMemAllocVa, LowPart(FdoData.HwMiscMemAllocLa)
  -- the self-test area, the non-transmit CB, the dump area, the counters: each 16-byte aligned
  FdoData.SelfTest, FdoData.SelfTestPhys = MP_ALIGNMEM(pMem, P.ALIGN_16), MP_ALIGNMEM(MemPhys, P.ALIGN_16)
  pMem, MemPhys = FdoData.SelfTest + P.SELF_TEST_STRUC.size, FdoData.SelfTestPhys + P.SELF_TEST_STRUC.size
  FdoData.NonTxCmdBlock = MP_ALIGNMEM(pMem, P.ALIGN_16)
  FdoData.NonTxCmdBlockPhys = MP_ALIGNMEM(MemPhys, P.ALIGN_16)
  pMem = FdoData.NonTxCmdBlock + P.NON_TRANSMIT_CB_SIZE
  MemPhys = FdoData.NonTxCmdBlockPhys + P.NON_TRANSMIT_CB_SIZE
  FdoData.DumpSpace, FdoData.DumpSpacePhys = MP_ALIGNMEM(pMem, P.ALIGN_16), MP_ALIGNMEM(MemPhys, P.ALIGN_16)
  pMem, MemPhys = FdoData.DumpSpace + P.DUMP_AREA_STRUC_SIZE, FdoData.DumpSpacePhys + P.DUMP_AREA_STRUC_SIZE
  FdoData.StatsCounters = MP_ALIGNMEM(pMem, P.ALIGN_16)
  FdoData.StatsCounterPhys = MP_ALIGNMEM(MemPhys, P.ALIGN_16)
  FdoData.MaxNumRfd = math.max(FdoData.NumRfd, P.NIC_MAX_GROW_RFDS)
  FdoData.HwRfdSize = P.RFD_STRUC.size + P.MORE_DATA_FOR_ALIGN
  return STATUS_SUCCESS
end

function P.NICFreeAdapterMemory(FdoData)
  assert(FdoData.nBusySend == 0 and FdoData.nWaitSend == 0)
  while not P.IsListEmpty(FdoData.RecvList) do
    local pMpRfd = P.RemoveHeadList(FdoData.RecvList)
    pMpRfd.DeleteCommonBuffer = false       -- the common buffer goes with the enabler
    P.NICFreeRfd(FdoData, pMpRfd)
  end
  FdoData.WdfSendCommonBuffer, FdoData.HwSendMemAllocVa = nil, nil
  FdoData.WdfMiscCommonBuffer, FdoData.HwMiscMemAllocVa = nil, nil
  FdoData.SelfTest, FdoData.StatsCounters, FdoData.NonTxCmdBlock, FdoData.DumpSpace = nil, nil, nil, nil
  if FdoData.MpTcbMem then
    ExFreePoolWithTag(FdoData.MpTcbMem, P.PCIDRV_POOL_TAG)
    FdoData.MpTcbMem, FdoData.MpTcb = nil, nil
  end
end

-- NICInitSendBuffers: the ring of TCBs, each with its array of
-- NIC_MAX_PHYS_BUF_COUNT TBDs after all the TCBs, linked in a circle.
function P.NICInitSendBuffers(FdoData)
  local m = FdoData.Machine
  FdoData.TransmitIdle, FdoData.ResumeWait = true, true
  local HwTcbVa, HwTcbPhys = FdoData.HwSendMemAllocVa, LowPart(FdoData.HwSendMemAllocLa)
  local HwTbdVa = FdoData.HwSendMemAllocVa + P.TXCB_STRUC.size * FdoData.NumTcb
  local HwTbdPhys = HwTcbPhys + P.TXCB_STRUC.size * FdoData.NumTcb
  local tcbs = P.HW_TCB:array(m, HwTcbVa, FdoData.NumTcb)
  FdoData.MpTcb = {}                        -- the MP_TCBs of MpTcbMem, from 0
  for TcbCount = 0, FdoData.NumTcb - 1 do
    FdoData.MpTcb[TcbCount] = { Flags = 0, Count = 0 }
  end
  for TcbCount = 0, FdoData.NumTcb - 1 do
    local pMpTcb, pHwTcb = FdoData.MpTcb[TcbCount], tcbs[TcbCount]
    pMpTcb.HwTcb, pMpTcb.HwTcbPhys = pHwTcb, HwTcbPhys
    pMpTcb.HwTbd = P.TBD_STRUC:array(m, HwTbdVa, P.NIC_MAX_PHYS_BUF_COUNT)
    pMpTcb.HwTbdPhys = HwTbdPhys
    pMpTcb.PrevHwTcb = tcbs[(TcbCount - 1) % FdoData.NumTcb]
    pHwTcb.TxCbHeader.CbStatus = 0
    pHwTcb.TxCbHeader.CbCommand = P.CB_EL_BIT | P.CB_TX_SF_BIT | P.CB_TRANSMIT
    if TcbCount < FdoData.NumTcb - 1 then
      pMpTcb.Next = FdoData.MpTcb[TcbCount + 1]
      pHwTcb.TxCbHeader.CbLinkPointer = HwTcbPhys + P.HW_TCB.size
    else
      pMpTcb.Next = FdoData.MpTcb[0]
      pHwTcb.TxCbHeader.CbLinkPointer = LowPart(FdoData.HwSendMemAllocLa)
    end
    pHwTcb.TxCbThreshold = FdoData.AiThreshold
    pHwTcb.TxCbTbdPointer = HwTbdPhys
    HwTcbPhys = HwTcbPhys + P.TXCB_STRUC.size
    HwTbdVa = HwTbdVa + P.TBD_STRUC.size * P.NIC_MAX_PHYS_BUF_COUNT
    HwTbdPhys = HwTbdPhys + P.TBD_STRUC.size * P.NIC_MAX_PHYS_BUF_COUNT
  end
  FdoData.CurrSendHead, FdoData.CurrSendTail = FdoData.MpTcb[0], FdoData.MpTcb[0]
end

-- Creates the common buffer of an RFD into the MP_RFD in `memoryHdl`'s
-- lookaside buffer, and its MDL (the part both NICInitRecvBuffers and
-- NICAllocRfdWorkItem write out in the C).
local function NewRfd(FdoData, memoryHdl)
  local buffer = WdfMemoryGetBuffer(memoryHdl)
  if not buffer then return STATUS_INSUFFICIENT_RESOURCES end
  local pMpRfd = { LookasideMemoryHdl = memoryHdl, Flags = 0, Address = buffer }
  local status
  status, pMpRfd.WdfCommonBuffer = WdfCommonBufferCreate(FdoData.WdfDmaEnabler, FdoData.HwRfdSize,
                                                         WDF_NO_OBJECT_ATTRIBUTES)
  if status ~= STATUS_SUCCESS then
    pMpRfd.WdfCommonBuffer = nil
    WdfObjectDelete(pMpRfd.LookasideMemoryHdl)
    return status
  end
  pMpRfd.OriginalHwRfd = WdfCommonBufferGetAlignedVirtualAddress(pMpRfd.WdfCommonBuffer)
  pMpRfd.OriginalHwRfdLa = WdfCommonBufferGetAlignedLogicalAddress(pMpRfd.WdfCommonBuffer)
  pMpRfd.HwRfdVa = DATA_ALIGN(pMpRfd.OriginalHwRfd) + P.HWRFD_SHIFT_OFFSET
  pMpRfd.HwRfdLa = pMpRfd.OriginalHwRfdLa + (pMpRfd.HwRfdVa - pMpRfd.OriginalHwRfd)
  pMpRfd.HwRfd = P.HW_RFD:at(FdoData.Machine, pMpRfd.HwRfdVa)
  status = P.NICAllocRfd(FdoData, pMpRfd)
  if not NT_SUCCESS(status) then
    WdfObjectDelete(pMpRfd.LookasideMemoryHdl)
    return status
  end
  return STATUS_SUCCESS, pMpRfd
end

function P.NICInitRecvBuffers(FdoData)
  local status = STATUS_INSUFFICIENT_RESOURCES
  local driverContext = P.GetDriverContext(WdfGetDriver())
  for _ = 1, FdoData.NumRfd do
    local memoryHdl, pMpRfd
    status, memoryHdl = WdfMemoryCreateFromLookaside(driverContext.RecvLookaside)
    if NT_SUCCESS(status) then
      status, pMpRfd = NewRfd(FdoData, memoryHdl)
      if NT_SUCCESS(status) then
        FdoData.CurrNumRfd = FdoData.CurrNumRfd + 1
        P.NICReturnRFD(FdoData, pMpRfd)
      end
    end
  end
  if FdoData.CurrNumRfd > P.NIC_MIN_RFDS then status = STATUS_SUCCESS end
  return status
end

-- NICAllocRfd: the MDL over the RFD's data and the RFD's fixed fields.
function P.NICAllocRfd(_, pMpRfd)
  local pHwRfd = pMpRfd.HwRfd
  pMpRfd.HwRfdPhys = LowPart(pMpRfd.HwRfdLa)
  pMpRfd.Flags = 0
  local data = pMpRfd.HwRfdVa + P.RFD_STRUC:offset("RfdBuffer")
  pMpRfd.Mdl = IoAllocateMdl(data, P.NIC_MAX_PACKET_SIZE, FALSE, FALSE, nil)
  if not pMpRfd.Mdl then
    WdfObjectDelete(pMpRfd.WdfCommonBuffer)
    pMpRfd.WdfCommonBuffer, pMpRfd.HwRfd, pMpRfd.OriginalHwRfd = nil, nil, nil
    pMpRfd.DeleteCommonBuffer = true
    return STATUS_INSUFFICIENT_RESOURCES
  end
  MmBuildMdlForNonPagedPool(pMpRfd.Mdl)
  pMpRfd.Buffer = data
  pHwRfd.RfdRbdPointer = P.DRIVER_NULL
  pHwRfd.RfdSize = P.NIC_MAX_PACKET_SIZE
  return STATUS_SUCCESS
end

function P.NICFreeRfd(_, pMpRfd)
  IoFreeMdl(pMpRfd.Mdl)
  if pMpRfd.DeleteCommonBuffer then WdfObjectDelete(pMpRfd.WdfCommonBuffer) end
  pMpRfd.WdfCommonBuffer, pMpRfd.HwRfd, pMpRfd.OriginalHwRfd = nil, nil, nil
  WdfObjectDelete(pMpRfd.LookasideMemoryHdl)
end

-- NICAllocRfdWorkItem (EvtWorkItemFunc): one more RFD when they ran short.
function P.NICAllocRfdWorkItem(WorkItem)
  local item = P.GetWorkItemContext(WorkItem)
  local FdoData = item.FdoData
  local driverContext = P.GetDriverContext(WdfGetDriver())
  local status, memoryHdl = WdfMemoryCreateFromLookaside(driverContext.RecvLookaside)
  if not NT_SUCCESS(status) then return end
  local pMpRfd
  status, pMpRfd = NewRfd(FdoData, memoryHdl)
  if NT_SUCCESS(status) then
    WdfSpinLockAcquire(FdoData.RcvLock)
    FdoData.CurrNumRfd = FdoData.CurrNumRfd + 1
    P.NICReturnRFD(FdoData, pMpRfd)
    WdfSpinLockRelease(FdoData.RcvLock)
  end
  FdoData.AllocNewRfd = false
  WdfObjectDelete(WorkItem)
end

-- NICFreeRfdWorkItem (EvtWorkItemFunc): an RFD too many is freed.
function P.NICFreeRfdWorkItem(WorkItem)
  local item = P.GetWorkItemContext(WorkItem)
  P.NICFreeRfd(item.FdoData, item.Argument1)
  WdfObjectDelete(WorkItem)
end

-- NICSelfTest: the PORT self-test writes its signature and results into SelfTest.
function P.NICSelfTest(FdoData)
  P.HwSoftwareReset(FdoData)
  local SelfTestCommandCode = FdoData.SelfTestPhys | P.PORT_SELFTEST
  local selfTest = P.SELF_TEST_STRUC:at(FdoData.Machine, FdoData.SelfTest)
  selfTest.StSignature = 0
  selfTest.StResults = 0xFFFFFFFF
  CSR(FdoData).Port = SelfTestCommandCode
  P.MP_STALL_EXECUTION(P.NIC_DELAY_POST_SELF_TEST_MS)
  if selfTest.StSignature == 0 or selfTest.StResults ~= 0 then return STATUS_DEVICE_CONFIGURATION_ERROR end
  return STATUS_SUCCESS
end

function P.NICInitializeAdapter(FdoData)
  FdoData.MediaState = P.Connected
  P.HwSoftwareReset(FdoData)
  CSR(FdoData).ScbGeneralPointer = 0
  local status = P.D100IssueScbCommand(FdoData, P.SCB_CUC_LOAD_BASE, false)
  if status ~= STATUS_SUCCESS then return status end
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  CSR(FdoData).ScbGeneralPointer = 0
  status = P.D100IssueScbCommand(FdoData, P.SCB_RUC_LOAD_BASE, false)
  if status ~= STATUS_SUCCESS then return status end
  status = P.HwConfigure(FdoData)
  if status ~= STATUS_SUCCESS then return status end
  status = P.HwSetupIAAddress(FdoData)
  if status ~= STATUS_SUCCESS then return status end
  return P.HwClearAllCounters(FdoData)
end

function P.NICShutdown(FdoData)
  if FdoData.CSRAddress then
    P.NICDisableInterrupt(FdoData)
    P.NICIssueFullReset(FdoData)
  end
end

function P.HwSoftwareReset(FdoData)
  CSR(FdoData).Port = P.PORT_SOFTWARE_RESET
  KeStallExecutionProcessor(P.NIC_DELAY_POST_RESET)
  P.NICDisableInterrupt(FdoData)
end

-- The configuration bytes HwConfigure and NICSetPacketFilter write (the
-- defaults, then the driver's settings; `parm15` the packet filter's).
function P.FillConfigBytes(FdoData, cb, parm15, allMulticast)
  local bytes, D = cb.ConfigBytes, P.CFIG_DEFAULT
  for _, i in ipairs { 0, 2, 3, 6, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20 } do bytes[i] = D[i] end
  bytes[21] = allMulticast and (D[21] | P.CB_CFIG_MULTICAST_ALL) or D[21]
  bytes[1] = (FdoData.AiTxFifo << 4) | FdoData.AiRxFifo
  if FdoData.MWIEnable then bytes[3] = bytes[3] | P.CB_CFIG_B3_MWI_ENABLE end
  bytes[4], bytes[5] = D[4], D[5]
  bytes[7] = (D[7] & ~P.CB_CFIG_URUN_RETRY) | (FdoData.AiUnderrunRetry << 1)
  if FdoData.PhyAddress == 32 then
    bytes[8], bytes[15] = D[8] & ~P.CB_CFIG_503_MII, parm15 | P.CB_CFIG_CRS_OR_CDT
  else
    bytes[8], bytes[15] = D[8] | P.CB_CFIG_503_MII, parm15 & ~P.CB_CFIG_CRS_OR_CDT
  end
  if FdoData.AiForceDpx == 1 then
    bytes[19] = D[19] & ~(P.CB_CFIG_FORCE_FDX | P.CB_CFIG_FDX_ENABLE)
  elseif FdoData.AiForceDpx == 2 then
    bytes[19] = D[19] | P.CB_CFIG_FORCE_FDX
  else
    bytes[19] = D[19]
  end
end

function P.HwConfigure(FdoData)
  FdoData.OldPacketFilter = FdoData.PacketFilter
  FdoData.PacketFilter = 0
  FdoData.OldParameterField = P.CFIG_DEFAULT[15]
  local cb = P.CONFIG_CB_STRUC:at(FdoData.Machine, FdoData.NonTxCmdBlock)
  cb.ConfigCBHeader.CbStatus = 0
  cb.ConfigCBHeader.CbCommand = P.CB_CONFIGURE
  cb.ConfigCBHeader.CbLinkPointer = P.DRIVER_NULL
  local parm15 = (P.CFIG_DEFAULT[15] & ~P.CB_CFIG_CRS_OR_CDT) | P.CB_CFIG_BROADCAST_DIS
  P.FillConfigBytes(FdoData, cb, parm15, false)
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  CSR(FdoData).ScbGeneralPointer = FdoData.NonTxCmdBlockPhys
  return P.D100SubmitCommandBlockAndWait(FdoData)
end

function P.HwSetupIAAddress(FdoData)
  local cb = P.IA_CB_STRUC:at(FdoData.Machine, FdoData.NonTxCmdBlock)
  cb.IaCBHeader.CbStatus = 0
  cb.IaCBHeader.CbCommand = P.CB_IA_ADDRESS
  cb.IaCBHeader.CbLinkPointer = P.DRIVER_NULL
  for i = 0, P.ETH_LENGTH_OF_ADDRESS - 1 do cb.IaAddress[i] = FdoData.CurrentAddress:byte(i + 1) end
  CSR(FdoData).ScbGeneralPointer = FdoData.NonTxCmdBlockPhys
  return P.D100SubmitCommandBlockAndWait(FdoData)
end

function P.HwClearAllCounters(FdoData)
  CSR(FdoData).ScbGeneralPointer = FdoData.StatsCounterPhys
  local status = P.D100IssueScbCommand(FdoData, P.SCB_CUC_DUMP_ADDR, false)
  if status ~= STATUS_SUCCESS then return status end
  status = P.D100IssueScbCommand(FdoData, P.SCB_CUC_DUMP_RST_STAT, true)
  if status ~= STATUS_SUCCESS then return status end
  local counters = P.ERR_COUNT_STRUC:at(FdoData.Machine, FdoData.StatsCounters)
  if not P.MP_STALL_AND_WAIT(function() return counters.CommandComplete == 0xA007 end, 2000) then
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return STATUS_DEVICE_DATA_ERROR
  end
  FdoData.GoodTransmits, FdoData.GoodReceives = 0, 0
  return STATUS_SUCCESS
end

function P.NICGetDeviceInfSettings(FdoData)
  FdoData.NumRfd = math.max(math.min(P.PciDrvReadRegistryValue(FdoData, "NumRfd") or 32, P.NIC_MAX_RFDS), 1)
  FdoData.NumTcb = math.max(math.min(P.PciDrvReadRegistryValue(FdoData, "NumTcb") or P.NIC_DEF_TCBS,
                                     P.NIC_MAX_TCBS), 1)
  FdoData.NumBuffers = math.max(math.min(P.PciDrvReadRegistryValue(FdoData, "NumCoalesce") or 8, 32), 1)
  FdoData.SpeedDuplex = math.max(math.min(P.PciDrvReadRegistryValue(FdoData, "SpeedDuplex") or 0, 4), 0)
  local speeds = { { 10, 1 }, { 10, 2 }, { 100, 1 }, { 100, 2 } }
  if speeds[FdoData.SpeedDuplex] then
    FdoData.AiTempSpeed, FdoData.AiForceDpx = table.unpack(speeds[FdoData.SpeedDuplex])
  end
  FdoData.PhyAddress, FdoData.Connector = 0xFF, 0
  FdoData.AiTxFifo, FdoData.AiRxFifo = P.DEFAULT_TX_FIFO_LIMIT, P.DEFAULT_RX_FIFO_LIMIT
  FdoData.AiTxDmaCount, FdoData.AiRxDmaCount = 0, 0
  FdoData.AiUnderrunRetry, FdoData.AiThreshold = P.DEFAULT_UNDERRUN_RETRY, 200
  FdoData.Congest = 0
end

return P
