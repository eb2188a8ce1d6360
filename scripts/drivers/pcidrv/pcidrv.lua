-- pcidrv/pcidrv.lua: a Lua port of the DMA and I/O paths of the WDK's
-- PCIDRV KMDF sample, the driver of the Intel 82557/8/9 Ethernet
-- controller (microsoft/Windows-driver-samples, general/pcidrv/kmdf:
-- PCIDRV.C, PCIDRV.H and HW/nic_init.c, nic_send.c, nic_recv.c, nic_req.c,
-- isrdpc.c, routines.c, nic_pm.c's MPSetPowerD0, nic_def.h, e100_557.h,
-- e100_equ.h, macros.h, nuiouser.h), for the chip model of
-- drivers/e100_model.lua. Each C file is a module of this folder, with the
-- C's functions under their names and in their call order; this one is
-- PCIDRV.C: DriverEntry (WdfDriverCreate, the lookaside list of MP_RFDs),
-- EvtDriverDeviceAdd (direct I/O, the PnP/power callbacks, WdfDeviceCreate,
-- NICAllocateSoftwareResources, the device interface), the hardware
-- callbacks (NICMapHWResources, the self-test), D0 entry and exit (the
-- adapter initialized: MPSetPowerD0), the self-managed I/O callbacks (the
-- watchdog timer), EvtIoDeviceControl and the work items.
--
-- The paths, as in the sample:
--   write  the parallel write queue -> PciDrvEvtIoWrite -> a DMA transaction
--          per request (WdfDmaProfileScatterGather: 32-bit, at most 8 S/G
--          elements) -> NICEvtProgramDmaFunction -> the TBDs of a TCB in the
--          send common buffer, CU start/resume -> (CNA interrupt) -> DPC ->
--          WdfDmaTransactionDmaCompleted -> the request completed; with no
--          TCB free the request waits on PendingWriteQueue (manual)
--   read   the manual PendingReadQueue parks reads; a frame the RU wrote
--          into an RFD (FR interrupt) -> DPC -> NICServiceReadIrps copies it
--          into the next parked read (WdfRequestRetrieveOutputBuffer,
--          RtlCopyMemory) -> the RFD returned to the chain, the RU restarted
--   IOCTL  the parallel IOCTL queue: OIDs of NDISPROT (nic_req.lua); the
--          packet filter must be set before frames are received
--
-- Left out, as no part of the DMA and I/O paths (and what dmalab lacks
-- for them):
--   * power policy and wake (WdfDeviceInitSetPowerPolicyEventCallbacks,
--     PciDrvSetPowerPolicy's WdfDeviceAssignS0IdleSettings and
--     WdfDeviceAssignSxWakeSettings, nic_pm.c's MPSetPowerLow and the PMDR,
--     the wake-up patterns): D0 exit to D1..D3 does not touch the chip;
--   * WMI (PciDrvWmiRegistration, wmi.c), WPP tracing;
--   * the registry (WdfDeviceOpenRegistryKey, WdfRegistryQueryULong,
--     WdfFdoInitOpenRegistryKey): PciDrvReadRegistryValue answers from the
--     options given to DriverEntry;
--   * the PCI configuration space (WdfFdoQueryForInterface of
--     GUID_BUS_INTERFACE_STANDARD, GetBusData), the EEPROM and the PHY
--     set-up: see nic_init.lua and isrdpc.lua.
-- The watchdog timer (EvtDeviceSelfManagedIoInit) runs as in the sample:
-- for its first 100 ms the link is being detected, writes wait on
-- PendingWriteQueue and IOCTLs that need the link on PendingIoctlQueue,
-- which NICLinkDetection searches (WdfIoQueueFindRequest,
-- WdfIoQueueRetrieveFoundRequest, WdfObjectDereference); then it checks for
-- a hung send every 400 ms (the clock never runs dry while the device is
-- started: run it with m:run_until).
--
-- Where the port differs from the C, and why (beyond nic_def.lua's notes):
--   * NICServiceReadIrps gives an RFD of PacketFreeArray (taken while RFDs
--     ran low) back to the chain, and NICHandleRecvInterrupt gives it back
--     again after it (the C's ASSERTs catch it in checked builds only): the
--     port gives it back once, in NICHandleRecvInterrupt.
--   * FdoData.DroppedReceives counts the frames NICServiceReadIrps drops
--     for want of a parked read (the sample drops them silently).
--   * Kept as in the sample: NICLinkDetection takes a parked SET_OID
--     request's *output* buffer, so a request sent without one (as the
--     sample's myping sends it) is never completed; NICReset leaves
--     fMP_ADAPTER_RESET_IN_PROGRESS set when it finds the link being detected.
--   * WdfDeviceSetFailed (NICReset's unrecoverable error) is not modelled
--     by dmalab: reaching it raises "not modelled yet".
--
-- Usage:
--   local pcidrv = require "drivers.pcidrv.pcidrv"
--   local status, Driver = pcidrv.DriverEntry(DriverObject, RegistryPath, options)
--   local Device = m:wdf_add_device(Driver, hw)      -- hw = e100_model.new(m, ...)
--   pcidrv.FdoGetData(Device)                        -- the FDO_DATA
--   pcidrv.IOCTL_NDISPROT_SET_OID_VALUE, ...         -- the NDISPROT interface
--   pcidrv.FdoGetData(Device).PendingReadQueue ...  -- the five queues, counters
-- options (the lab's stand-ins for the registry and the PCI header):
-- NumRfd, NumTcb, NumCoalesce, SpeedDuplex, RevisionID (8), PermanentAddress.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
for _, file in ipairs { "routines", "nic_init", "nic_send", "nic_recv", "nic_req", "isrdpc" } do
  require(here .. file)
end

function P.FdoGetData(Device) return WdfObjectGetTypedContext(Device, "FDO_DATA") end
function P.GetDriverContext(Driver) return WdfObjectGetTypedContext(Driver, "DRIVER_CONTEXT") end
function P.GetWorkItemContext(WorkItem) return WdfObjectGetTypedContext(WorkItem, "WORKER_ITEM_CONTEXT") end

-- The FDO_DATA as WdfDeviceCreate gives it: zeroed.
local function InitFdoData(fdoData)
  for _, k in ipairs { "Flags", "nBusySend", "nWaitSend", "nReadyRecv", "CurrNumRfd", "PacketFilter",
                       "OldPacketFilter", "BytesTransmitted", "BytesReceived", "RfdShrinkCount",
                       "DroppedReceives", "HwErrCount", "MCAddressCount", "GoodTransmits", "GoodReceives",
                       "usLinkSpeed", "usDuplexMode", "MediaState" } do
    fdoData[k] = 0
  end
end

function P.DriverEntry(DriverObject, RegistryPath, options)
  local attrib = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("DRIVER_CONTEXT")
  attrib.EvtCleanupCallback = P.PciDrvEvtDriverContextCleanup
  local config = WDF_DRIVER_CONFIG_INIT(P.PciDrvEvtDeviceAdd)
  local status, driver = WdfDriverCreate(DriverObject, RegistryPath, attrib, config)
  if not NT_SUCCESS(status) then return status end
  local driverContext = P.GetDriverContext(driver)
  driverContext.Options = options or {}
  status, driverContext.RecvLookaside = WdfLookasideListCreate(WDF_NO_OBJECT_ATTRIBUTES, P.MP_RFD_SIZE,
                                                               NonPagedPool, WDF_NO_OBJECT_ATTRIBUTES,
                                                               P.PCIDRV_POOL_TAG)
  if not NT_SUCCESS(status) then return status end
  return status, driver
end

function P.PciDrvEvtDeviceAdd(Driver, DeviceInit)
  WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect)
  local pnpPowerCallbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
  pnpPowerCallbacks.EvtDevicePrepareHardware = P.PciDrvEvtDevicePrepareHardware
  pnpPowerCallbacks.EvtDeviceReleaseHardware = P.PciDrvEvtDeviceReleaseHardware
  pnpPowerCallbacks.EvtDeviceD0Entry = P.PciDrvEvtDeviceD0Entry
  pnpPowerCallbacks.EvtDeviceD0Exit = P.PciDrvEvtDeviceD0Exit
  pnpPowerCallbacks.EvtDeviceD0EntryPostInterruptsEnabled = P.NICEvtDeviceD0EntryPostInterruptsEnabled
  pnpPowerCallbacks.EvtDeviceD0ExitPreInterruptsDisabled = P.NICEvtDeviceD0ExitPreInterruptsDisabled
  pnpPowerCallbacks.EvtDeviceSelfManagedIoInit = P.PciDrvEvtDeviceSelfManagedIoInit
  pnpPowerCallbacks.EvtDeviceSelfManagedIoCleanup = P.PciDrvEvtDeviceSelfManagedIoCleanup
  pnpPowerCallbacks.EvtDeviceSelfManagedIoSuspend = P.PciDrvEvtDeviceSelfManagedIoSuspend
  pnpPowerCallbacks.EvtDeviceSelfManagedIoRestart = P.PciDrvEvtDeviceSelfManagedIoRestart
  WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, pnpPowerCallbacks)
  local fdoAttributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("FDO_DATA")
  fdoAttributes.EvtCleanupCallback = P.PciDrvEvtDeviceContextCleanup
  local status, device = WdfDeviceCreate(DeviceInit, fdoAttributes)
  if not NT_SUCCESS(status) then return status end
  local fdoData = P.FdoGetData(device)
  InitFdoData(fdoData)
  fdoData.WdfDevice = device
  fdoData.Machine = dma.current()
  fdoData.Options = P.GetDriverContext(Driver).Options
  status = P.NICAllocateSoftwareResources(fdoData)
  if not NT_SUCCESS(status) then return status end
  return WdfDeviceCreateDeviceInterface(device, P.GUID_DEVINTERFACE_PCIDRV, nil)
end

-- EvtCleanupCallback of the device.
function P.PciDrvEvtDeviceContextCleanup(Device)
  P.NICFreeSoftwareResources(P.FdoGetData(Device))
end

function P.PciDrvEvtDevicePrepareHardware(Device, Resources, ResourcesTranslated)
  return P.NICMapHWResources(P.FdoGetData(Device), Resources, ResourcesTranslated)
end

function P.PciDrvEvtDeviceReleaseHardware(Device, _)
  P.NICUnmapHWResources(P.FdoGetData(Device))
  return STATUS_SUCCESS
end

-- MPSetPowerD0 (nic_pm.c): the adapter initialized, its filter and
-- multicast list set again, the RU started (the PMDR, in the PCI
-- configuration space, is left out).
function P.MPSetPowerD0(FdoData)
  P.NICInitializeAdapter(FdoData)
  P.NICIssueSelectiveReset(FdoData)
  WdfSpinLockAcquire(FdoData.Lock)
  local status = P.NICSetPacketFilter(FdoData, FdoData.OldPacketFilter)
  if status == STATUS_SUCCESS then FdoData.PacketFilter = FdoData.OldPacketFilter end
  WdfSpinLockRelease(FdoData.Lock)
  WdfSpinLockAcquire(FdoData.RcvLock)
  status = P.NICSetMulticastList(FdoData)
  P.NICStartRecv(FdoData)
  WdfSpinLockRelease(FdoData.RcvLock)
  return status
end

function P.PciDrvEvtDeviceD0Entry(Device, PreviousState)
  local fdoData = P.FdoGetData(Device)
  assert(PreviousState ~= WdfPowerDeviceD0)
  fdoData.DevicePowerState = PowerDeviceD0
  if P.IsPoMgmtSupported(fdoData) then P.MPSetPowerD0(fdoData) end
  return STATUS_SUCCESS
end

function P.PciDrvEvtDeviceD0Exit(Device, TargetState)
  local fdoData = P.FdoGetData(Device)
  fdoData.DevicePowerState = TargetState
  if TargetState == WdfPowerDeviceD3Final then P.NICShutdown(fdoData) end
  return STATUS_SUCCESS
end

function P.PciDrvEvtDeviceSelfManagedIoInit(Device)
  local fdoData = P.FdoGetData(Device)
  local wdfTimerConfig = WDF_TIMER_CONFIG_INIT(P.NICWatchDogEvtTimerFunc)
  local timerAttributes = WDF_OBJECT_ATTRIBUTES_INIT()
  timerAttributes.ParentObject = fdoData.WdfDevice
  local status
  status, fdoData.WatchDogTimer = WdfTimerCreate(wdfTimerConfig, timerAttributes)
  if not NT_SUCCESS(status) then return status end
  P.NICStartWatchDogTimer(fdoData)
  return status
end

function P.PciDrvEvtDeviceSelfManagedIoSuspend(Device)
  WdfTimerStop(P.FdoGetData(Device).WatchDogTimer, TRUE)
  return STATUS_SUCCESS
end

function P.PciDrvEvtDeviceSelfManagedIoRestart(Device)
  P.NICStartWatchDogTimer(P.FdoGetData(Device))
  return STATUS_SUCCESS
end

function P.PciDrvEvtDeviceSelfManagedIoCleanup(Device)
  local fdoData = P.FdoGetData(Device)
  if fdoData.WatchDogTimer then WdfObjectDelete(fdoData.WatchDogTimer) end
end

-- EvtIoDeviceControl of the IOCTL queue.
function P.PciDrvEvtIoDeviceControl(Queue, Request, _, _, IoControlCode)
  local fdoData = P.FdoGetData(WdfIoQueueGetDevice(Queue))
  local params = WdfRequestGetParameters(Request)
  if IoControlCode == P.IOCTL_NDISPROT_QUERY_OID_VALUE then
    assert(IoControlCode & 0x3 == METHOD_BUFFERED)
    P.NICHandleQueryOidRequest(Queue, Request, params)
  elseif IoControlCode == P.IOCTL_NDISPROT_SET_OID_VALUE then
    assert(IoControlCode & 0x3 == METHOD_BUFFERED)
    P.NICHandleSetOidRequest(Queue, Request, params)
  elseif IoControlCode == P.IOCTL_NDISPROT_INDICATE_STATUS then
    local status = WdfRequestForwardToIoQueue(Request, fdoData.PendingIoctlQueue)
    if not NT_SUCCESS(status) then WdfRequestComplete(Request, status) end
  else
    WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST)
  end
end

-- PciDrvQueuePassiveLevelCallback: a work item with FdoData and two arguments.
function P.PciDrvQueuePassiveLevelCallback(FdoData, CallbackFunction, Context1, Context2)
  local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("WORKER_ITEM_CONTEXT")
  attributes.ParentObject = FdoData.WdfDevice
  local workitemConfig = WDF_WORKITEM_CONFIG_INIT(CallbackFunction)
  local status, hWorkItem = WdfWorkItemCreate(workitemConfig, attributes)
  if not NT_SUCCESS(status) then return status end
  local context = P.GetWorkItemContext(hWorkItem)
  context.FdoData, context.Argument1, context.Argument2 = FdoData, Context1, Context2
  WdfWorkItemEnqueue(hWorkItem)
  return STATUS_SUCCESS
end

-- EvtCleanupCallback of the driver.
function P.PciDrvEvtDriverContextCleanup(Driver)
  local driverContext = P.GetDriverContext(Driver)
  if driverContext.RecvLookaside then WdfObjectDelete(driverContext.RecvLookaside) end
end

return P
