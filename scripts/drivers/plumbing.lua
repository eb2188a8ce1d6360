-- plumbing.lua: the setup and teardown the drivers and seeds here write
-- alike and that is no part of the DMA they show, for any device:
--   WDM    connecting the ISR and DpcForIsr, completing an IRP and starting
--          the next, RemoveDevice's release of the interrupt, the adapter
--          and the registers (plumbing.wdm_*);
--   KMDF   EvtDriverDeviceAdd's PnP/power callbacks and WdfDeviceCreate,
--          EvtDevicePrepareHardware's mapping of the register BAR and
--          EvtDeviceReleaseHardware's unmapping, the default queue and the
--          WDFINTERRUPT, DriverEntry and the device's start (plumbing.kmdf_*);
--   a run  the leak check at its end.
-- Every function makes the WDK calls a driver written out in full would
-- make, in its order (the drivers' traces depend on it).
--
-- Usage: local plumbing = require "drivers.plumbing" (scripts/ on package.path).
local dma = require "dma"
dma.export()

local plumbing = {}

plumbing.STATUS_DEVICE_CONFIGURATION_ERROR = 0xC0000182  -- ntstatus.h (not among the lab's constants)

-- ---- WDM -------------------------------------------------------------------------------

-- AddDevice's end: DpcForIsr registered (IoInitializeDpcRequest), then the
-- ISR connected to the device's interrupt (resources.interrupt; the
-- ServiceContext is the DeviceObject), into the DeviceExtension's Interrupt.
function plumbing.wdm_connect_interrupt(DeviceObject, resources, Isr, DpcForIsr)
  IoInitializeDpcRequest(DeviceObject, DpcForIsr)
  local status, interrupt = IoConnectInterrupt(Isr, DeviceObject, nil, resources.interrupt.vector,
    resources.interrupt.level, resources.interrupt.level, LevelSensitive, FALSE, 1, FALSE)
  assert(status == STATUS_SUCCESS, "IoConnectInterrupt failed")
  DeviceObject.DeviceExtension.Interrupt = interrupt
end

-- Completes the current IRP with `status` (and `information`, unless nil:
-- then the IRP keeps the count it has) and starts the next queued one.
function plumbing.wdm_complete(DeviceObject, Irp, status, information, boost)
  Irp.IoStatus.Status = status
  if information then Irp.IoStatus.Information = information end
  IoCompleteRequest(Irp, boost)
  IoStartNextPacket(DeviceObject, FALSE)
end

-- RemoveDevice: the interrupt disconnected, the driver's `cleanup(ext)` if
-- any, then the adapter (ext.Adapter) and the registers' mapping
-- (ext.Registers, the BAR in `resources`) released.
function plumbing.wdm_remove_device(DeviceObject, resources, cleanup)
  local ext = DeviceObject.DeviceExtension
  IoDisconnectInterrupt(ext.Interrupt)
  if cleanup then cleanup(ext) end
  PutDmaAdapter(ext.Adapter)
  MmUnmapIoSpace(ext.Registers, resources.memory.length)
end

-- ---- KMDF ------------------------------------------------------------------------------

local PNP_CALLBACKS = { "EvtDevicePrepareHardware", "EvtDeviceReleaseHardware", "EvtDeviceD0Entry",
                        "EvtDeviceD0Exit" }

-- EvtDriverDeviceAdd's start: the PnP/power callbacks (`callbacks`, by their
-- WDF_PNPPOWER_EVENT_CALLBACKS names), then WdfDeviceCreate with a context
-- of type `context` (a string) and an optional EvtCleanupCallback. Returns
-- the status and, on success, the WDFDEVICE and its context.
function plumbing.kmdf_create_device(DeviceInit, callbacks, context, EvtCleanupCallback)
  local pnp = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
  for _, name in ipairs(PNP_CALLBACKS) do pnp[name] = callbacks[name] end
  WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, pnp)
  local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(context)
  attributes.EvtCleanupCallback = EvtCleanupCallback
  local status, Device = WdfDeviceCreate(DeviceInit, attributes)
  if not NT_SUCCESS(status) then return status end
  return status, Device, WdfObjectGetTypedContext(Device, context)
end

-- EvtDevicePrepareHardware's mapping: the first memory range of the
-- translated resources of at least `min_length` bytes (the BAR) into
-- ctx[field] (default "Registers"), its length into ctx[field .. "Length"].
-- False if a descriptor is missing or no range was mapped.
function plumbing.kmdf_map_registers(ctx, ResourcesTranslated, field, min_length)
  field = field or "Registers"
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if not desc then return false end
    if desc.Type == CmResourceTypeMemory and not ctx[field] and desc.u.Memory.Length >= (min_length or 0) then
      ctx[field .. "Length"] = desc.u.Memory.Length
      ctx[field] = MmMapIoSpace(desc.u.Memory.Start, desc.u.Memory.Length, MmNonCached)
    end
  end
  return ctx[field] ~= nil
end

-- EvtDeviceReleaseHardware's unmapping of what kmdf_map_registers mapped.
function plumbing.kmdf_unmap_registers(ctx, field)
  field = field or "Registers"
  if ctx[field] then MmUnmapIoSpace(ctx[field], ctx[field .. "Length"]) end
  ctx[field] = nil
end

-- EvtDevicePrepareHardware and EvtDeviceReleaseHardware for a driver whose
-- hardware callbacks only map and unmap its registers (kmdf_map_registers
-- into the context `Context(Device)` returns; STATUS_DEVICE_CONFIGURATION_ERROR
-- if there are none).
function plumbing.kmdf_register_callbacks(Context, field, min_length)
  local function EvtDevicePrepareHardware(Device, _, ResourcesTranslated)
    if not plumbing.kmdf_map_registers(Context(Device), ResourcesTranslated, field, min_length) then
      return plumbing.STATUS_DEVICE_CONFIGURATION_ERROR
    end
    return STATUS_SUCCESS
  end
  local function EvtDeviceReleaseHardware(Device, _)
    plumbing.kmdf_unmap_registers(Context(Device), field)
    return STATUS_SUCCESS
  end
  return EvtDevicePrepareHardware, EvtDeviceReleaseHardware
end

-- EvtDriverDeviceAdd's queue and interrupt: a default sequential queue whose
-- EvtIoRead / EvtIoWrite call `StartRequest(Queue, Request, Direction,
-- Length)`, into ctx.Queue; then the WDFINTERRUPT of EvtInterruptIsr and
-- EvtInterruptDpc, into ctx.Interrupt. Returns the status.
function plumbing.kmdf_queue_and_interrupt(Device, ctx, StartRequest, EvtInterruptIsr, EvtInterruptDpc)
  local queue_config = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
  queue_config.EvtIoRead = function(Queue, Request, Length)
    StartRequest(Queue, Request, WdfDmaDirectionReadFromDevice, Length)
  end
  queue_config.EvtIoWrite = function(Queue, Request, Length)
    StartRequest(Queue, Request, WdfDmaDirectionWriteToDevice, Length)
  end
  local status
  status, ctx.Queue = WdfIoQueueCreate(Device, queue_config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local interrupt_config = WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, EvtInterruptDpc)
  status, ctx.Interrupt = WdfInterruptCreate(Device, interrupt_config, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

-- A KMDF driver module's DriverEntry(DriverObject, RegistryPath [, options])
-- -> status, WDFDRIVER: WdfDriverCreate with EvtDriverDeviceAdd; each
-- WDFDRIVER's options (the lab's own) kept in driver.options[WDFDRIVER] for
-- EvtDriverDeviceAdd. Returns `driver`, the module, with both set.
function plumbing.kmdf_driver_entry(driver, EvtDriverDeviceAdd)
  driver.options = setmetatable({}, { __mode = "k" })
  function driver.DriverEntry(DriverObject, RegistryPath, options)
    local config = WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd)
    local status, Driver = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, config)
    if NT_SUCCESS(status) then driver.options[Driver] = options or {} end
    return status, Driver
  end
  return driver
end

-- DriverEntry (WdfDriverCreate with EvtDriverDeviceAdd, for a driver object
-- named `name`) and the PnP manager's part: the device added on `hw` (a
-- device of machine `m`) and started. Returns the WDFDEVICE.
function plumbing.kmdf_start(m, hw, name, EvtDriverDeviceAdd)
  local _, Driver = WdfDriverCreate(dma.driver { name = name }, nil, WDF_NO_OBJECT_ATTRIBUTES,
                                    WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  local Device, started = m:wdf_add_device(Driver, hw)
  assert(Device and started == STATUS_SUCCESS, "the device did not start")
  return Device
end

-- ---- the end of a run --------------------------------------------------------------------

-- Nothing may be left on machine `m` (dmalab checks again after the script).
function plumbing.check_leaks(m)
  local leaks = m:check_leaks()
  assert(#leaks == 0, leaks[1] and leaks[1].message)
end

return plumbing
