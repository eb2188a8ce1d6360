-- busmaster_hw.lua: what the drivers of the built-in bus-master device
-- (m:busmaster: wdm_packet, wdm_sg, kmdf_packet, kmdf_sg and seed 002's)
-- share, so that each driver file holds only its own DMA:
--   hardware   register access through the mapped BAR, programming one
--              transfer (single or scatter/gather mode), the ISR's "is it
--              mine?" and acknowledge (hw.read, hw.set_single, ...);
--   watchdog   a kernel timer armed with each transfer, whose DPC finishes
--              a transfer whose interrupt was lost and resets a hung
--              device (hw.arm_watchdog, hw.watchdog_expired, ...);
--   hw.wdm     the WDM part of wdm_packet and wdm_sg: the request's state
--              for StartIo, completion, the ISR, DpcForIsr, DriverEntry,
--              AddDevice, RemoveDevice (hw.wdm.driver makes the module);
--   hw.kmdf    the KMDF part of kmdf_packet and kmdf_sg: the DEVICE_CONTEXT,
--              the PnP/power callbacks, the queue, EvtInterruptIsr/Dpc,
--              DriverEntry (hw.kmdf.driver makes the module); for the
--              KMDF seeds 000 and 001, which have no watchdog, an
--              EvtInterruptIsr (hw.kmdf.isr) and EvtProgramDma's locked
--              start (hw.kmdf.start_locked).
-- What does not depend on this device (connecting an interrupt, creating a
-- framework device, mapping a BAR, DriverEntry) is drivers/plumbing.lua's.
-- Every function makes the WDK calls a driver written out in full would
-- make, in its order (the drivers' traces and trace hashes depend on it).
--
-- `ctx` is the driver's per-device state, a WDM DeviceExtension or a KMDF
-- DEVICE_CONTEXT; the fields used here: Registers, Interrupt, Watchdog,
-- WatchdogDpc, Busy, InterruptClaimed, DeviceStatus, BytesDone, ErrorCode,
-- Hung and the counters Transfers, Errors, LostInterrupts, Timeouts.
--
-- Usage: local hw = require "drivers.busmaster_hw" (scripts/ on package.path).
local dma = require "dma"
dma.export()

-- a sibling module, loaded as drivers.X (scripts/ on the path) or dma.drivers.X (installed)
local plumbing = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "plumbing")

local R = dma.busmaster_registers

local hw = {}

hw.WATCHDOG = -100000       -- 10 ms, relative, in 100 ns units (KeSetTimer)
hw.DESCRIPTOR = 16          -- a table entry: u64 address, u32 length, u32 reserved

-- ---- registers ---------------------------------------------------------------

function hw.read(ctx, offset) return READ_REGISTER_ULONG(ctx.Registers + offset) end
function hw.write(ctx, offset, value) WRITE_REGISTER_ULONG(ctx.Registers + offset, value) end

-- A 64-bit value into a LO/HI register pair, low half first.
local function write64(ctx, lo, hi, value)
  hw.write(ctx, lo, value & 0xFFFFFFFF)
  hw.write(ctx, hi, value >> 32)
end

-- The zero counters a driver reports (Transfers, Errors, LostInterrupts, Timeouts).
function hw.reset_counters(ctx)
  ctx.Transfers, ctx.Errors, ctx.LostInterrupts, ctx.Timeouts = 0, 0, 0, 0
end

-- ---- programming a transfer ----------------------------------------------------

-- The CONTROL value that starts a transfer in `mode` (R.MODE_SINGLE or R.MODE_SG).
function hw.control(mode, to_device)
  local control = R.START | R.IRQ_ENABLE | mode
  if to_device then control = control | R.TO_DEVICE end
  return control
end

-- Single mode: one logical range and where it goes on the medium.
function hw.set_single(ctx, logical, length, offset)
  write64(ctx, R.ADDR_LO, R.ADDR_HI, logical)
  hw.write(ctx, R.LENGTH, length)
  write64(ctx, R.OFFSET_LO, R.OFFSET_HI, offset)
end

-- Scatter/gather mode: the descriptor table (its logical address and entry
-- count) and the medium offset.
function hw.set_table(ctx, logical, count, offset)
  write64(ctx, R.DESC_LO, R.DESC_HI, logical)
  hw.write(ctx, R.DESC_COUNT, count)
  write64(ctx, R.OFFSET_LO, R.OFFSET_HI, offset)
end

-- The descriptor table's bytes for a SCATTER_GATHER_LIST (elements from 0, as in C).
function hw.table_bytes(SgList)
  local parts = {}
  for i = 0, SgList.NumberOfElements - 1 do
    local e = SgList.Elements[i]
    parts[#parts + 1] = string.pack("<I8I4I4", e.Address, e.Length, 0)
  end
  return table.concat(parts)
end

-- The transfer is about to start: arm the watchdog (before the device can
-- interrupt, so a completion always finds it set).
function hw.arm_watchdog(ctx)
  ctx.Busy = true
  ctx.InterruptClaimed = false
  KeSetTimer(ctx.Watchdog, hw.WATCHDOG, ctx.WatchdogDpc)
end

-- Starts the programmed transfer.
function hw.start(ctx, control) hw.write(ctx, R.CONTROL, control) end

-- ---- the ISR and the DPC -----------------------------------------------------------

-- The ISR's device access: nil if the interrupt is not this device's;
-- else saves the volatile state (STATUS into DeviceStatus; with
-- `bytes_done`, BYTES_DONE; with `error_code`, ERROR_CODE), acknowledges it
-- and returns the STATUS.
function hw.acknowledge(ctx, bytes_done, error_code)
  local status = hw.read(ctx, R.STATUS)
  if status & (R.DONE | R.ERROR) == 0 then return nil end
  ctx.DeviceStatus = status
  if bytes_done then ctx.BytesDone = hw.read(ctx, R.BYTES_DONE) end
  if error_code then ctx.ErrorCode = hw.read(ctx, R.ERROR_CODE) end
  hw.write(ctx, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  return status
end

-- The ISR's part at DIRQL: FALSE if the interrupt is not this device's;
-- else saves the volatile state (STATUS, BYTES_DONE and, with
-- `error_code`, ERROR_CODE), acknowledges it and returns TRUE. The caller
-- queues its DPC.
function hw.claim_interrupt(ctx, error_code)
  if not hw.acknowledge(ctx, true, error_code) then return FALSE end
  ctx.InterruptClaimed = true
  return TRUE
end

-- The DPC for the ISR: false if the watchdog got there first; else the
-- watchdog is cancelled and the caller finishes the transfer.
function hw.dpc_takes_transfer(ctx)
  if not ctx.Busy then return false end
  KeCancelTimer(ctx.Watchdog)
  return true
end

-- The transfer is over: the status to fail the request with, if any (the
-- caller's `failure`, or STATUS_IO_DEVICE_ERROR if the device reported an
-- error), counted in Errors.
function hw.transfer_failure(ctx, failure)
  ctx.Busy = false
  if not failure and ctx.DeviceStatus & R.ERROR ~= 0 then failure = STATUS_IO_DEVICE_ERROR end
  if failure then ctx.Errors = ctx.Errors + 1 end
  return failure
end

-- ---- the watchdog ----------------------------------------------------------------

-- Makes the timer and its DPC; `WatchdogDpc(Dpc, context)` is the driver's.
function hw.init_watchdog(ctx, WatchdogDpc, context)
  ctx.Watchdog = KeInitializeTimer(nil)
  ctx.WatchdogDpc = KeInitializeDpc(nil, WatchdogDpc, context)
end

-- At DIRQL, synchronized with the ISR: what became of the transfer the
-- watchdog expired on. FALSE if the ISR has already taken its completion
-- (its DPC, queued behind the watchdog's, finishes it); else TRUE, and
-- either the device finished but its interrupt was lost (acknowledge, as
-- the ISR would) or it hangs (Hung: reset it).
function hw.watchdog_synchronize(ctx)
  if ctx.InterruptClaimed then return FALSE end
  local status = hw.read(ctx, R.STATUS)
  ctx.Hung = status & (R.DONE | R.ERROR) == 0
  if ctx.Hung then
    hw.write(ctx, R.CONTROL, R.RESET)
    ctx.BytesDone = 0
  else
    ctx.DeviceStatus = status
    ctx.BytesDone = hw.read(ctx, R.BYTES_DONE)
    hw.write(ctx, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  end
  return TRUE
end

-- The watchdog's DPC: no interrupt came in time. A DPC queued by an expiry
-- whose transfer has since ended is stale: the ISR's DPC got there first
-- (Busy is false, or the next transfer re-armed the timer, which clears its
-- signalled state). `synchronize(ctx.Interrupt, routine, context)` runs
-- the driver's routine (which calls hw.watchdog_synchronize) at DIRQL.
-- Returns whether the caller must finish the transfer, and the status to
-- fail it with: STATUS_IO_TIMEOUT for a hang, none for a lost interrupt.
function hw.watchdog_expired(ctx, synchronize, routine, context)
  if not ctx.Busy or not KeReadStateTimer(ctx.Watchdog) then return false end
  if not synchronize(ctx.Interrupt, routine, context) then return false end
  if ctx.Hung then
    ctx.Timeouts = ctx.Timeouts + 1
    return true, STATUS_IO_TIMEOUT
  end
  ctx.LostInterrupts = ctx.LostInterrupts + 1
  return true
end

-- ---- WDM: the request, the ISR, the DPCs, the device's start and stop ---------------
-- What wdm_packet and wdm_sg do alike around their DMA: the request's state
-- in the DeviceExtension, completion with IoStartNextPacket, the ISR, the
-- DPCs, DriverEntry, AddDevice and RemoveDevice. Each driver brings its
-- StartIo, how it maps and programs a piece and how a piece ends.
hw.wdm = {}

-- StartIo's start: the request's direction, MDL, length and medium offset
-- into the DeviceExtension (returned), then KeFlushIoBuffers before any map
-- register is asked for.
function hw.wdm.begin_request(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local stack = IoGetCurrentIrpStackLocation(Irp)
  ext.WriteToDevice = stack.MajorFunction == IRP_MJ_WRITE
  local params = ext.WriteToDevice and stack.Parameters.Write or stack.Parameters.Read
  ext.Mdl = Irp.MdlAddress
  ext.CurrentVa = MmGetMdlVirtualAddress(ext.Mdl)
  ext.Remaining = params.Length
  ext.DeviceOffset = params.ByteOffset
  ext.Transferred = 0
  KeFlushIoBuffers(ext.Mdl, not ext.WriteToDevice, TRUE)
  return ext
end

-- A transfer succeeded: move past the BYTES_DONE it moved (fewer than
-- programmed if it was short). Returns whether bytes remain.
function hw.wdm.advance(ext)
  ext.CurrentVa = ext.CurrentVa + ext.BytesDone
  ext.DeviceOffset = ext.DeviceOffset + ext.BytesDone
  ext.Remaining = ext.Remaining - ext.BytesDone
  ext.Transferred = ext.Transferred + ext.BytesDone
  ext.Transfers = ext.Transfers + 1
  return ext.Remaining > 0
end

-- Completes the current IRP and starts the next queued one.
hw.wdm.complete = plumbing.wdm_complete

-- IRP_MJ_READ / IRP_MJ_WRITE (direct I/O): pend and queue for StartIo.
-- Seed 002's driver uses it too.
function hw.wdm.DispatchReadWrite(DeviceObject, Irp)
  IoMarkIrpPending(Irp)
  IoStartPacket(DeviceObject, Irp, nil, nil)
  return STATUS_PENDING
end

-- DriverEntry: reads and writes through IoStartPacket to StartIo.
local function DriverEntry(DriverObject, StartIo)
  DriverObject.MajorFunction[IRP_MJ_READ] = hw.wdm.DispatchReadWrite
  DriverObject.MajorFunction[IRP_MJ_WRITE] = hw.wdm.DispatchReadWrite
  DriverObject.DriverStartIo = StartIo
  return STATUS_SUCCESS
end

-- IoGetDmaAdapter for a bus master, 32-bit unless options.Dma64BitAddresses.
local function GetAdapter(DeviceObject, ScatterGather, MaximumLength, options)
  local adapter, registers = IoGetDmaAdapter(DeviceObject, {
    Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = ScatterGather,
    Dma32BitAddresses = options.Dma64BitAddresses ~= TRUE, Dma64BitAddresses = options.Dma64BitAddresses,
    MaximumLength = options.MaximumLength or MaximumLength, InterfaceType = PCIBus })
  assert(adapter, "IoGetDmaAdapter failed")
  return adapter, registers
end

-- The ISR (DIRQL; ServiceContext: the DeviceObject): is it ours? Save the
-- device state, acknowledge, queue the DPC.
local function WdmIsr(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  if not hw.claim_interrupt(ext, ext.SaveErrorCode) then return FALSE end
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- KeSynchronizeExecution's routine for the watchdog (Context: the DeviceObject).
local function WdmWatchdogSynchronize(DeviceObject)
  return hw.watchdog_synchronize(DeviceObject.DeviceExtension)
end

-- The DpcForIsr and the watchdog's DPC (DeferredContext: the DeviceObject)
-- for a driver whose `Finish(DeviceObject, Irp, failure)` ends a transfer.
local function WdmDpcs(Finish)
  local function DpcForIsr(_, DeviceObject, Irp, _)
    if hw.dpc_takes_transfer(DeviceObject.DeviceExtension) then Finish(DeviceObject, Irp) end
  end
  local function WatchdogDpc(_, DeviceObject)
    local ext = DeviceObject.DeviceExtension
    local expired, failure = hw.watchdog_expired(ext, KeSynchronizeExecution, WdmWatchdogSynchronize,
                                                 DeviceObject)
    if expired then Finish(DeviceObject, DeviceObject.CurrentIrp, failure) end
  end
  return DpcForIsr, WatchdogDpc
end

-- AddDevice and start: the device becomes the driver's; its registers are
-- mapped (the BAR in `resources`) and its limits read (MAX_TRANSFER; MAX_SG
-- for scatter/gather); then the adapter, the driver's setup, the counters,
-- the watchdog, DpcForIsr and the interrupt.
local function AddDevice(DriverObject, DeviceObject, resources, options, d)
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  ext.MaximumTransfer = hw.read(ext, R.MAX_TRANSFER)
  if d.ScatterGather then ext.MaxSg = hw.read(ext, R.MAX_SG) end
  ext.Adapter, ext.NumberOfMapRegisters = GetAdapter(DeviceObject, d.ScatterGather, d.MaximumLength,
                                                     options or {})
  if d.setup then d.setup(ext) end
  ext.SaveErrorCode = d.SaveErrorCode
  hw.reset_counters(ext)
  local DpcForIsr, WatchdogDpc = WdmDpcs(d.Finish)
  hw.init_watchdog(ext, WatchdogDpc, DeviceObject)
  plumbing.wdm_connect_interrupt(DeviceObject, resources, WdmIsr, DpcForIsr)
  return STATUS_SUCCESS
end

-- Stop: no watchdog, no interrupt, the driver's cleanup, then the adapter
-- and the registers' mapping go.
local function RemoveDevice(DeviceObject, resources, d)
  KeCancelTimer(DeviceObject.DeviceExtension.Watchdog)
  plumbing.wdm_remove_device(DeviceObject, resources, d.cleanup)
end

-- A WDM driver's module: DriverEntry(DriverObject), AddDevice(DriverObject,
-- DeviceObject, resources [, options]) (options: Dma64BitAddresses,
-- MaximumLength) and RemoveDevice(DeviceObject, resources), around the
-- driver's part `d`: StartIo, ScatterGather (TRUE or FALSE), MaximumLength
-- (the default), Finish(DeviceObject, Irp, failure) (ends a transfer, from
-- either DPC), SaveErrorCode (the ISR reads ERROR_CODE too), and optional
-- setup(ext) (once the adapter is there) and cleanup(ext) (before it goes).
function hw.wdm.driver(d)
  return {
    DriverEntry = function(DriverObject) return DriverEntry(DriverObject, d.StartIo) end,
    AddDevice = function(DriverObject, DeviceObject, resources, options)
      return AddDevice(DriverObject, DeviceObject, resources, options, d)
    end,
    RemoveDevice = function(DeviceObject, resources) RemoveDevice(DeviceObject, resources, d) end,
  }
end

-- ---- KMDF: the framework device around the hardware ---------------------------------
-- What kmdf_packet and kmdf_sg do alike: the DEVICE_CONTEXT, the
-- interrupt's ISR and DPC, the watchdog's DPC, the PnP/power callbacks
-- that only touch the hardware, EvtDriverDeviceAdd and DriverEntry. Each
-- driver brings its DMA objects (made in EvtDevicePrepareHardware), its
-- request handler (EvtIoRead / EvtIoWrite), its EvtProgramDma and how a
-- transaction ends.
hw.kmdf = {}

local STATUS_DEVICE_CONFIGURATION_ERROR = plumbing.STATUS_DEVICE_CONFIGURATION_ERROR

-- The DEVICE_CONTEXT of a WDFDEVICE (a Lua table, made by WdfDeviceCreate).
local function DeviceContext(Device) return WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT") end
hw.kmdf.Context = DeviceContext

-- EvtProgramDma's end for a driver without the watchdog (the seeds'):
-- `set(ctx, ...)` (hw.set_single or hw.set_table), then the device started
-- with `control`, under the interrupt lock so that the ISR never sees the
-- registers half written. Returns TRUE.
function hw.kmdf.start_locked(ctx, control, set, ...)
  WdfInterruptAcquireLock(ctx.Interrupt)
  set(ctx, ...)
  hw.start(ctx, control)
  WdfInterruptReleaseLock(ctx.Interrupt)
  return TRUE
end

-- EvtProgramDma's end: arm the watchdog, then hw.kmdf.start_locked.
function hw.kmdf.program_locked(ctx, control, set, ...)
  hw.arm_watchdog(ctx)
  return hw.kmdf.start_locked(ctx, control, set, ...)
end

-- An EvtInterruptIsr for a driver without the watchdog (the seeds'): FALSE
-- if the interrupt is not the device's; else its state saved (STATUS; with
-- `bytes_done`, BYTES_DONE too) and acknowledged (hw.acknowledge),
-- `report(ctx, status)` if given, EvtInterruptDpc queued, TRUE.
function hw.kmdf.isr(bytes_done, report)
  return function(Interrupt, _)
    local ctx = DeviceContext(WdfInterruptGetDevice(Interrupt))
    local status = hw.acknowledge(ctx, bytes_done)
    if not status then return FALSE end
    if report then report(ctx, status) end
    WdfInterruptQueueDpcForIsr(Interrupt)
    return TRUE
  end
end

-- EvtInterruptIsr (DIRQL): ours? save the device's state, acknowledge, DPC.
local function EvtInterruptIsr(Interrupt, _)
  if not hw.claim_interrupt(DeviceContext(WdfInterruptGetDevice(Interrupt))) then return FALSE end
  WdfInterruptQueueDpcForIsr(Interrupt)
  return TRUE
end

-- EvtInterruptSynchronize (DIRQL, holding the interrupt lock) for the watchdog.
local function KmdfWatchdogSynchronize(_, ctx) return hw.watchdog_synchronize(ctx) end

-- EvtInterruptDpc and the watchdog's DPC (DeferredContext: the WDFDEVICE)
-- for a driver whose `Finish(ctx, failure)` ends a transfer.
local function KmdfDpcs(Finish)
  local function EvtInterruptDpc(_, Device)
    local ctx = DeviceContext(Device)
    if hw.dpc_takes_transfer(ctx) then Finish(ctx) end
  end
  local function WatchdogDpc(_, Device)
    local ctx = DeviceContext(Device)
    local expired, failure = hw.watchdog_expired(ctx, WdfInterruptSynchronize, KmdfWatchdogSynchronize, ctx)
    if expired then Finish(ctx, failure) end
  end
  return EvtInterruptDpc, WatchdogDpc
end

-- EvtDevicePrepareHardware around the driver's `CreateDma(Device, ctx)`:
-- map the registers (STATUS_DEVICE_CONFIGURATION_ERROR without a memory
-- range); the first time only (not on a restart), the driver's DMA objects.
local function PrepareHardware(CreateDma)
  return function(Device, _, ResourcesTranslated)
    local ctx = DeviceContext(Device)
    if not plumbing.kmdf_map_registers(ctx, ResourcesTranslated) then
      return STATUS_DEVICE_CONFIGURATION_ERROR
    end
    if ctx.DmaEnabler then return STATUS_SUCCESS end
    return CreateDma(Device, ctx)
  end
end

-- The DMA enabler with `profile` (its 64-bit variant with the option
-- Dma64BitAddresses), its MaximumLength the option's (or `default_length`)
-- within the device's MAX_TRANSFER; into ctx.DmaEnabler. Returns the status.
function hw.kmdf.create_enabler(Device, ctx, profile, profile64, default_length)
  local options = ctx.Options
  local config = WDF_DMA_ENABLER_CONFIG_INIT(options.Dma64BitAddresses and profile64 or profile,
    math.min(options.MaximumLength or default_length, hw.read(ctx, R.MAX_TRANSFER)))
  local status
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

-- EvtDeviceReleaseHardware: unmap the registers.
local _, EvtDeviceReleaseHardware = plumbing.kmdf_register_callbacks(DeviceContext)

-- EvtDeviceD0Exit: no watchdog left; the device reset.
local function EvtDeviceD0Exit(Device, _)
  local ctx = DeviceContext(Device)
  KeCancelTimer(ctx.Watchdog)
  hw.write(ctx, R.CONTROL, R.RESET)
  return STATUS_SUCCESS
end

local function EvtDeviceD0Entry(_, _) return STATUS_SUCCESS end

-- EvtDriverDeviceAdd's first half: the PnP/power callbacks (the driver's
-- CreateDma) and WdfDeviceCreate. Returns the status, the
-- device and its context, with the counters zero.
local function CreateDevice(DeviceInit, CreateDma)
  local callbacks = { EvtDevicePrepareHardware = PrepareHardware(CreateDma),
    EvtDeviceReleaseHardware = EvtDeviceReleaseHardware, EvtDeviceD0Entry = EvtDeviceD0Entry,
    EvtDeviceD0Exit = EvtDeviceD0Exit }
  local status, Device, ctx = plumbing.kmdf_create_device(DeviceInit, callbacks, "DEVICE_CONTEXT")
  if Device then hw.reset_counters(ctx) end
  return status, Device, ctx
end

-- EvtDriverDeviceAdd's second half: a default sequential queue for the
-- driver's StartRequest (EvtIoRead / EvtIoWrite), the interrupt, the watchdog.
local function CreateQueueAndInterrupt(Device, ctx, d)
  local EvtInterruptDpc, WatchdogDpc = KmdfDpcs(d.Finish)
  local status = plumbing.kmdf_queue_and_interrupt(Device, ctx, d.StartRequest, EvtInterruptIsr,
                                                   EvtInterruptDpc)
  if not NT_SUCCESS(status) then return status end
  hw.init_watchdog(ctx, WatchdogDpc, Device)
  return STATUS_SUCCESS
end

-- A KMDF driver's module: DriverEntry(DriverObject, RegistryPath [,
-- options]) -> status, WDFDRIVER (WdfDriverCreate; its EvtDriverDeviceAdd
-- makes the device, its queue, its interrupt, its watchdog), Context(Device)
-- (the DEVICE_CONTEXT) and options (each WDFDRIVER's options, DriverEntry's
-- third argument, the lab's own), around the driver's part `d`:
-- CreateDma(Device, ctx) (EvtDevicePrepareHardware's first time: the DMA
-- enabler and the rest; returns a status), StartRequest(Queue, Request,
-- Direction) (EvtIoRead / EvtIoWrite), Finish(ctx, failure) (ends a
-- transfer, from either DPC) and optional setup(Device, ctx) (between the
-- device and its queue).
function hw.kmdf.driver(d)
  local driver = { Context = DeviceContext }
  local function EvtDriverDeviceAdd(Driver, DeviceInit)
    local status, Device, ctx = CreateDevice(DeviceInit, d.CreateDma)
    if not Device then return status end
    ctx.Options = driver.options[Driver] or {}
    if d.setup then d.setup(Device, ctx) end
    return CreateQueueAndInterrupt(Device, ctx, d)
  end
  return plumbing.kmdf_driver_entry(driver, EvtDriverDeviceAdd)
end

return hw
