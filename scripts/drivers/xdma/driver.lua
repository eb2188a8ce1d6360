-- xdma/driver.lua: a Lua port of the DMA and I/O paths of Xilinx's XDMA
-- Device Driver for Windows, the KMDF sample driver for the "DMA/Bridge
-- Subsystem for PCIe" (XDMA) IP: sys/driver.c, sys/file_io.c, sys/driver.h,
-- sys/file_io.h and inc/xdma_public.h of the Xilinx XDMA_Windows release,
-- from the copy at github.com/yiyaowen/xdma_driver_win, commit 3670f57 (the
-- unmodified import; the official repository is not reachable here). The
-- library under it (libxdma) is xdma/libxdma.lua; the IP is xdma/model.lua.
--
--   DriverEntry          WdfDriverCreate(EvtDeviceAdd)
--   EvtDeviceAdd         WdfDeviceInitSetIoType(WdfDeviceIoDirect), the PnP
--                        callbacks, WdfDeviceInitSetFileObjectConfig
--                        (EvtDeviceFileCreate, EvtFileClose, EvtFileCleanup;
--                        a FILE_CONTEXT per file), WdfDeviceCreate,
--                        WdfDeviceCreateDeviceInterface(GUID_DEVINTERFACE_XDMA),
--                        the default queue (parallel: EvtIoRead, EvtIoWrite,
--                        EvtIoDeviceControl)
--   EvtDevicePrepareHardware  XDMA_DeviceOpen (BARs, interrupts, enabler,
--                        engines), GetPollModeParameter, XDMA_EngineSetPollMode
--                        for every engine, EngineCreateQueue (a sequential
--                        queue per engine: EvtIoWriteDma for H2C, EvtIoReadDma
--                        for C2H), the user events
--   EvtDeviceFileCreate  the file's name selects the node: \h2c_N and \c2h_N an
--                        engine (and its queue; the engine's interrupt enabled
--                        unless polled), \user and \control a BAR, \bypass the
--                        bypass BAR, \event_N a user event
--   EvtIoRead/EvtIoWrite  BAR nodes: ReadBarToRequest / WriteBarFromRequest
--                        (READ/WRITE_REGISTER_BUFFER_* between the BAR and the
--                        request's WDFMEMORY); engine nodes:
--                        WdfRequestForwardToIoQueue to the engine's queue
--   EvtIoWriteDma / EvtIoReadDma  WdfDmaTransactionInitializeUsingRequest
--                        (XDMA_EngineProgramDma), WdfRequestMarkCancelableEx
--                        (EvtCancelDma), WdfDmaTransactionExecute with the
--                        engine as context; in poll mode EnginePollTransfer
--   EvtIoDeviceControl   IOCTL_XDMA_PERF_START/GET, ADDRMODE_GET/SET on an
--                        engine's file
--
-- What differs from the C code, and why:
--   * GetPollModeParameter reads POLL_MODE under the driver's Parameters
--     registry key (WdfDriverOpenParametersRegistryKey, WdfRegistryQueryULong);
--     dmalab has no registry: the value is DriverEntry's options.PollMode
--     (the lab's own; default 0, the INF's default).
--   * WdfDeviceInitSetPowerPolicyEventCallbacks with an empty
--     WDF_POWER_POLICY_EVENT_CALLBACKS (no callback set: no effect) is left
--     out, as are the attributes' SynchronizationScope (None for files and
--     the default queue, Queue for the engine queues): dmalab's queues call
--     one callback at a time, the scope it would ask for.
--   * AXI-ST engines (EvtIoReadEngineRing) and the user event files
--     (EvtReadUserEvent, HandleUserEvent: KePulseEvent) are not ported: the
--     model is AXI-MM and raises no user interrupt; such a file is refused
--     as an unknown node would be (STATUS_INVALID_PARAMETER).
--   * The C code's EvtIoDeviceControl reads the queue context of the file's
--     queue, which a BAR node does not have (a NULL dereference in C); here
--     such a file gets STATUS_INVALID_PARAMETER, the status of the C code's
--     "engine == NULL" branch.
--   * Tracing is left out.
--
-- Usage:
--   local drv = require "drivers.xdma.driver"
--   local status, Driver = drv.DriverEntry(dma.driver { name = "xdma" }, nil,
--                                          { PollMode = 0, ClearBeforeCompleted = true })
--   local Device = m:wdf_add_device(Driver, hw.model)       -- hw = drivers.xdma.model.new(m, ...)
--   open: m:irp{ major = IRP_MJ_CREATE, file_name = "\\h2c_0" }, then reads and
--   writes with file = irp.FileObject and device_offset = the card address
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.xdma."):match("^(.-)[^.]*$")
local lib = require(here .. "libxdma")

local driver = { options = setmetatable({}, { __mode = "k" }) }

-- ---- xdma_public.h -----------------------------------------------------------------------
local GUID_DEVINTERFACE_XDMA = "{74c7e4a9-6d5d-4a70-bc0d-20691dff9e9d}"
local function XDMA_IOCTL(index)
  return CTL_CODE(FILE_DEVICE_UNKNOWN, index, METHOD_BUFFERED, FILE_ANY_ACCESS)
end
local IOCTL_XDMA_PERF_START, IOCTL_XDMA_PERF_GET = XDMA_IOCTL(0x1), XDMA_IOCTL(0x3)
local IOCTL_XDMA_ADDRMODE_GET, IOCTL_XDMA_ADDRMODE_SET = XDMA_IOCTL(0x4), XDMA_IOCTL(0x5)
driver.GUID_DEVINTERFACE_XDMA = GUID_DEVINTERFACE_XDMA
driver.IOCTL_XDMA_PERF_START, driver.IOCTL_XDMA_PERF_GET = IOCTL_XDMA_PERF_START, IOCTL_XDMA_PERF_GET
driver.IOCTL_XDMA_ADDRMODE_GET = IOCTL_XDMA_ADDRMODE_GET
driver.IOCTL_XDMA_ADDRMODE_SET = IOCTL_XDMA_ADDRMODE_SET
local XDMA_PERF_DATA = dma.struct { { "clockCycleCount", "ULONG64" }, { "dataCycleCount", "ULONG64" },
                                    { "pendingCount", "ULONG64" } }
driver.XDMA_PERF_DATA = XDMA_PERF_DATA

-- ---- file_io.h / driver.h ----------------------------------------------------------------
local DEVNODE_TYPE_USER, DEVNODE_TYPE_CONTROL, DEVNODE_TYPE_EVENTS, DEVNODE_TYPE_BYPASS = 0, 1, 2, 3
local DEVNODE_TYPE_H2C, DEVNODE_TYPE_C2H, ID_DEVNODE_UNKNOWN = 4, 5, 255
local H2C, C2H = lib.H2C, lib.C2H

local function GetDeviceContext(device) return WdfObjectGetTypedContext(device, "DeviceContext") end
local function GetFileContext(file) return WdfObjectGetTypedContext(file, "FILE_CONTEXT") end
local function GetQueueContext(queue) return WdfObjectGetTypedContext(queue, "QUEUE_CONTEXT") end
driver.Context = GetDeviceContext

-- ======================== file_io.c ==========================================================

-- FileNameLUT: the device nodes.
local FileNameLUT = {
  ["\\user"] = { DEVNODE_TYPE_USER, 0 }, ["\\control"] = { DEVNODE_TYPE_CONTROL, 0 },
  ["\\bypass"] = { DEVNODE_TYPE_BYPASS, 0 },
}
for ch = 0, 3 do
  FileNameLUT["\\h2c_" .. ch] = { DEVNODE_TYPE_H2C, ch }
  FileNameLUT["\\c2h_" .. ch] = { DEVNODE_TYPE_C2H, ch }
end
for i = 0, 15 do FileNameLUT["\\event_" .. i] = { DEVNODE_TYPE_EVENTS, i } end

-- GetDevNodeType: from the file name to the device node; its index.
local function GetDevNodeType(fileName, file)
  local entry = FileNameLUT[fileName.Buffer]
  if not entry then
    file.devType = ID_DEVNODE_UNKNOWN
    return 0
  end
  file.devType = entry[1]
  return entry[2]
end

local function EvtDeviceFileCreate(device, Request, WdfFile)
  local fileName = WdfFileObjectGetFileName(WdfFile)
  local ctx = GetDeviceContext(device)
  local xdma = ctx.xdma
  local devNode = GetFileContext(WdfFile)
  local status = STATUS_SUCCESS
  repeat
    if not fileName then status = STATUS_INVALID_PARAMETER break end   -- no filename given
    local index = GetDevNodeType(fileName, devNode)
    local t = devNode.devType
    if t == ID_DEVNODE_UNKNOWN or t == DEVNODE_TYPE_EVENTS then      -- events: not ported (header)
      status = STATUS_INVALID_PARAMETER
      break
    end
    if t == DEVNODE_TYPE_CONTROL then
      devNode.bar = xdma.bar[xdma.configBarIdx]
    elseif t == DEVNODE_TYPE_USER then
      if xdma.userBarIdx < 0 then status = STATUS_INVALID_PARAMETER break end
      devNode.bar = xdma.bar[xdma.userBarIdx]
    elseif t == DEVNODE_TYPE_BYPASS then
      if xdma.bypassBarIdx < 0 then status = STATUS_INVALID_PARAMETER break end
      devNode.bar = xdma.bar[xdma.bypassBarIdx]
    else                                                              -- H2C / C2H
      local dir = t == DEVNODE_TYPE_H2C and H2C or C2H
      local engine = xdma.engines[index][dir]
      if not engine.enabled then status = STATUS_INVALID_PARAMETER break end
      devNode.engine = engine
      devNode.queue = ctx.engineQueue[dir][index]
      if engine.poll then lib.EngineDisableInterrupt(engine) else lib.EngineEnableInterrupt(engine) end
    end
  until true
  WdfRequestComplete(Request, status)
end

local function EvtFileClose(_) end

local function EvtFileCleanup(_) end     -- an AXI-ST C2H file tears its ring down (not ported)

-- ReadBarToRequest: the BAR at the request's DeviceOffset into its memory.
local function ReadBarToRequest(request, bar)
  local params = WdfRequestGetParameters(request)
  local offset, length = params.Parameters.Read.DeviceOffset, params.Parameters.Read.Length
  if length == 0 then return STATUS_INVALID_DEVICE_REQUEST end
  local readAddr = bar + offset
  local status, requestMemory = WdfRequestRetrieveOutputMemory(request)
  if not NT_SUCCESS(status) then return status end
  local reqBuffer = WdfMemoryGetBuffer(requestMemory)
  local width = length % 4 == 0 and 4 or length % 2 == 0 and 2 or 1
  local values = {}
  if width == 4 then READ_REGISTER_BUFFER_ULONG(readAddr, values, length // 4)
  elseif width == 2 then READ_REGISTER_BUFFER_USHORT(readAddr, values, length // 2)
  else READ_REGISTER_BUFFER_UCHAR(readAddr, values, length) end
  local fmt = "<I" .. width
  for i, v in ipairs(values) do values[i] = fmt:pack(v) end
  dma.current():write(reqBuffer, table.concat(values))
  return status
end

-- WriteBarFromRequest: the request's memory into the BAR at its DeviceOffset.
local function WriteBarFromRequest(request, bar)
  local params = WdfRequestGetParameters(request)
  local offset, length = params.Parameters.Write.DeviceOffset, params.Parameters.Write.Length
  if length == 0 then return STATUS_INVALID_DEVICE_REQUEST end
  local writeAddr = bar + offset
  local status, requestMemory = WdfRequestRetrieveInputMemory(request)
  if not NT_SUCCESS(status) then return status end
  local reqBuffer = WdfMemoryGetBuffer(requestMemory)
  local bytes = dma.current():read(reqBuffer, length)
  local width = length % 4 == 0 and 4 or length % 2 == 0 and 2 or 1
  local values = {}
  for i = 1, length, width do values[#values + 1] = string.unpack("<I" .. width, bytes, i) end
  if width == 4 then WRITE_REGISTER_BUFFER_ULONG(writeAddr, values, #values)
  elseif width == 2 then WRITE_REGISTER_BUFFER_USHORT(writeAddr, values, #values)
  else WRITE_REGISTER_BUFFER_UCHAR(writeAddr, values, #values) end
  return status
end

local function EvtIoRead(_, request, length)
  local status
  local file = GetFileContext(WdfRequestGetFileObject(request))
  local t = file.devType
  if t == DEVNODE_TYPE_USER or t == DEVNODE_TYPE_CONTROL or t == DEVNODE_TYPE_BYPASS then
    status = ReadBarToRequest(request, file.bar)
    if NT_SUCCESS(status) then WdfRequestCompleteWithInformation(request, status, length) end
  elseif t == DEVNODE_TYPE_C2H then
    status = WdfRequestForwardToIoQueue(request, file.queue)   -- completed by EvtIoReadDma later
  else
    status = STATUS_INVALID_DEVICE_REQUEST
  end
  if not NT_SUCCESS(status) then WdfRequestComplete(request, status) end
end

local function EvtIoWrite(_, request, length)
  local status
  local file = GetFileContext(WdfRequestGetFileObject(request))
  local t = file.devType
  if t == DEVNODE_TYPE_USER or t == DEVNODE_TYPE_CONTROL or t == DEVNODE_TYPE_BYPASS then
    status = WriteBarFromRequest(request, file.bar)
    if NT_SUCCESS(status) then WdfRequestCompleteWithInformation(request, status, length) end
  elseif t == DEVNODE_TYPE_H2C then
    status = WdfRequestForwardToIoQueue(request, file.queue)   -- ends up in EvtIoWriteDma
  else
    status = STATUS_INVALID_DEVICE_REQUEST
  end
  if not NT_SUCCESS(status) then WdfRequestComplete(request, status) end
end

local function IoctlGetPerf(request, engine)
  local perfData = lib.EngineGetPerf(engine)
  local status, requestMemory = WdfRequestRetrieveOutputMemory(request)
  if not NT_SUCCESS(status) then return status end
  local buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, XDMA_PERF_DATA.size, "XDMA")
  local view = XDMA_PERF_DATA:at(dma.current(), buffer)
  view.clockCycleCount, view.dataCycleCount, view.pendingCount =
    perfData.clockCycleCount, perfData.dataCycleCount, perfData.pendingCount
  status = WdfMemoryCopyFromBuffer(requestMemory, 0, buffer, XDMA_PERF_DATA.size)
  ExFreePool(buffer)
  return status
end

local function IoctlGetAddrMode(request, engine)
  local addrMode = engine.regs.control & lib.XDMA_CTRL_NON_INCR_ADDR ~= 0 and 1 or 0
  local status, requestMemory = WdfRequestRetrieveOutputMemory(request)
  if not NT_SUCCESS(status) then return status end
  local buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, 4, "XDMA")
  dma.current():write_u32(buffer, addrMode)
  status = WdfMemoryCopyFromBuffer(requestMemory, 0, buffer, 4)
  ExFreePool(buffer)
  return status
end

local function IoctlSetAddrMode(request, engine)
  local status, requestMemory = WdfRequestRetrieveInputMemory(request)
  if not NT_SUCCESS(status) then return status end
  local buffer = ExAllocatePool2(POOL_FLAG_NON_PAGED, 4, "XDMA")
  status = WdfMemoryCopyToBuffer(requestMemory, 0, buffer, 4)
  local addrMode = dma.current():read_u32(buffer)
  ExFreePool(buffer)
  if not NT_SUCCESS(status) then return status end
  if addrMode ~= 0 then engine.regs.controlW1S = lib.XDMA_CTRL_NON_INCR_ADDR
  else engine.regs.controlW1C = lib.XDMA_CTRL_NON_INCR_ADDR end
  engine.addressMode = addrMode
  return status
end

local function EvtIoDeviceControl(_, request, _, _, IoControlCode)
  local file = GetFileContext(WdfRequestGetFileObject(request))
  local queue = file.queue and GetQueueContext(file.queue)
  local status = STATUS_NOT_SUPPORTED
  if not queue or not queue.engine then
    status = STATUS_INVALID_PARAMETER          -- IOCTLs on DMA files (h2c_* or c2h_*) only
  elseif IoControlCode == IOCTL_XDMA_PERF_START then
    lib.EngineStartPerf(queue.engine)
    status = STATUS_SUCCESS
    WdfRequestComplete(request, status)
  elseif IoControlCode == IOCTL_XDMA_PERF_GET then
    status = IoctlGetPerf(request, queue.engine)
    if NT_SUCCESS(status) then WdfRequestCompleteWithInformation(request, status, XDMA_PERF_DATA.size) end
  elseif IoControlCode == IOCTL_XDMA_ADDRMODE_GET then
    status = IoctlGetAddrMode(request, queue.engine)
    if NT_SUCCESS(status) then WdfRequestCompleteWithInformation(request, status, 4) end
  elseif IoControlCode == IOCTL_XDMA_ADDRMODE_SET then
    status = IoctlSetAddrMode(request, queue.engine)
    if NT_SUCCESS(status) then WdfRequestComplete(request, STATUS_SUCCESS) end
  end
  if not NT_SUCCESS(status) then WdfRequestComplete(request, status) end
end

local EvtCancelDma

-- EvtIoWriteDma and EvtIoReadDma: alike but for the direction.
local function EvtIoDma(Direction)
  return function(wdfQueue, Request, _)
    local queue = GetQueueContext(wdfQueue)
    local engine = queue.engine
    local status = WdfDmaTransactionInitializeUsingRequest(engine.dmaTransaction, Request,
                                                           lib.XDMA_EngineProgramDma, Direction)
    if NT_SUCCESS(status) then status = WdfRequestMarkCancelableEx(Request, EvtCancelDma) end
    -- supply the engine as context for EvtProgramDma
    if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(engine.dmaTransaction, engine) end
    if NT_SUCCESS(status) then
      -- EnginePollTransfer cleans up / completes the request on error
      if engine.poll then lib.EnginePollTransfer(engine) end
      return
    end
    WdfDmaTransactionRelease(engine.dmaTransaction)
    WdfRequestComplete(Request, status)
  end
end
local EvtIoWriteDma = EvtIoDma(WdfDmaDirectionWriteToDevice)
local EvtIoReadDma = EvtIoDma(WdfDmaDirectionReadFromDevice)

EvtCancelDma = function(request)
  local queue = GetQueueContext(WdfRequestGetIoQueue(request))
  lib.EngineStop(queue.engine)
  WdfRequestUnmarkCancelable(request)
  WdfDmaTransactionRelease(queue.engine.dmaTransaction)
  WdfRequestComplete(request, STATUS_CANCELLED)
end

-- ======================== driver.c ============================================================

-- GetPollModeParameter: the registry's POLL_MODE (see the header).
local function GetPollModeParameter(device)
  local options = driver.options[WdfDeviceGetDriver(device)] or {}
  return STATUS_SUCCESS, options.PollMode or 0
end

-- EngineCreateQueue: a sequential queue for a DMA engine.
local function EngineCreateQueue(device, engine)
  local config = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchSequential)
  if engine.dir == H2C then
    config.EvtIoWrite = EvtIoWriteDma
  elseif engine.type == lib.EngineType_ST then
    return STATUS_NOT_SUPPORTED                          -- EvtIoReadEngineRing: not ported
  else
    config.EvtIoRead = EvtIoReadDma
  end
  local attribs = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("QUEUE_CONTEXT")
  local status, queue = WdfIoQueueCreate(device, config, attribs)
  if not NT_SUCCESS(status) then return status end
  GetQueueContext(queue).engine = engine
  return status, queue
end

local function EvtDevicePrepareHardware(device, Resources, ResourcesTranslated)
  local ctx = GetDeviceContext(device)
  local options = driver.options[WdfDeviceGetDriver(device)] or {}
  ctx.xdma = { ClearBeforeCompleted = options.ClearBeforeCompleted }
  local xdma = ctx.xdma
  local status = lib.XDMA_DeviceOpen(device, xdma, Resources, ResourcesTranslated)
  if not NT_SUCCESS(status) then return status end
  local pollMode
  status, pollMode = GetPollModeParameter(device)
  if not NT_SUCCESS(status) then return status end
  for dir = H2C, C2H do
    for ch = 0, lib.XDMA_MAX_NUM_CHANNELS - 1 do
      lib.XDMA_EngineSetPollMode(xdma.engines[ch][dir], pollMode ~= 0)
    end
  end
  ctx.engineQueue = { [H2C] = {}, [C2H] = {} }
  for dir = H2C, C2H do
    for ch = 0, lib.XDMA_MAX_NUM_CHANNELS - 1 do
      local engine = xdma.engines[ch][dir]
      if engine.enabled then
        status, ctx.engineQueue[dir][ch] = EngineCreateQueue(device, engine)
        if not NT_SUCCESS(status) then return status end
      end
    end
  end
  ctx.eventSignals = {}
  for i = 0, lib.XDMA_MAX_USER_IRQ - 1 do
    ctx.eventSignals[i] = KeInitializeEvent(nil, NotificationEvent, FALSE)
    lib.XDMA_UserIsrRegister(xdma, i, nil, ctx.eventSignals[i])  -- HandleUserEvent: not ported (header)
  end
  return status
end

local function EvtDeviceReleaseHardware(Device, _)
  local ctx = GetDeviceContext(Device)
  if ctx.xdma then lib.XDMA_DeviceClose(ctx.xdma) end
  return STATUS_SUCCESS
end

local function EvtDeviceCleanup(_) end

local function EvtDeviceAdd(_, DeviceInit)
  -- We prefer Direct I/O
  WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoDirect)
  local PnpPowerCallbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
  PnpPowerCallbacks.EvtDevicePrepareHardware = EvtDevicePrepareHardware
  PnpPowerCallbacks.EvtDeviceReleaseHardware = EvtDeviceReleaseHardware
  WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, PnpPowerCallbacks)
  -- Register file object call-backs
  local fileConfig = WDF_FILEOBJECT_CONFIG_INIT(EvtDeviceFileCreate, EvtFileClose, EvtFileCleanup)
  local fileAttributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("FILE_CONTEXT")
  WdfDeviceInitSetFileObjectConfig(DeviceInit, fileConfig, fileAttributes)
  local deviceAttributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("DeviceContext")
  deviceAttributes.EvtCleanupCallback = EvtDeviceCleanup
  local status, device = WdfDeviceCreate(DeviceInit, deviceAttributes)
  if not NT_SUCCESS(status) then return status end
  -- Create a user-space device interface
  status = WdfDeviceCreateDeviceInterface(device, GUID_DEVINTERFACE_XDMA, nil)
  if not NT_SUCCESS(status) then return status end
  -- the default queue: every I/O request arrives here, in parallel; sequentialized later
  local queueConfig = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchParallel)
  queueConfig.EvtIoDeviceControl = EvtIoDeviceControl
  queueConfig.EvtIoRead = EvtIoRead
  queueConfig.EvtIoWrite = EvtIoWrite
  return (WdfIoQueueCreate(device, queueConfig, WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("QUEUE_CONTEXT")))
end

-- DriverEntry(DriverObject, RegistryPath [, options]) -> status, WDFDRIVER;
-- options (the lab's own): PollMode (the registry's POLL_MODE, default 0),
-- ClearBeforeCompleted (zero the descriptors before DmaCompleted, as the
-- later release does; default false: this release's order, see libxdma.lua).
function driver.DriverEntry(DriverObject, RegistryPath, options)
  local DriverConfig = WDF_DRIVER_CONFIG_INIT(EvtDeviceAdd)
  local status, Driver = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, DriverConfig)
  if NT_SUCCESS(status) then driver.options[Driver] = options or {} end
  return status, Driver
end

driver.lib = lib
return driver
