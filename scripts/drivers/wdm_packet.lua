-- wdm_packet.lua: a WDM packet-based bus-master driver for the built-in
-- bus-master device (m:busmaster), written as the C driver would be:
-- IRPs are serialised through IoStartPacket/StartIo; StartIo asks for the
-- adapter channel; AdapterControl maps the first piece and programs the
-- device; the ISR acknowledges the device and requests the DPC; the DPC
-- flushes, then maps and programs the next piece, or frees the map
-- registers and completes the IRP. Requests larger than the map registers
-- allow are split (seed 004); a device error fails the request with the
-- device's status and the driver carries on with the next one.
--
-- Usage: local driver = require("drivers.wdm_packet") (with scripts/ on
-- package.path); driver.DriverEntry(DriverObject); driver.AddDevice(
-- DriverObject, hw.device, hw.resources).
local dma = require "dma"
dma.export()

local R = dma.busmaster_registers
local WATCHDOG = -100000              -- 10 ms, relative, in 100 ns units (KeSetTimer)

local driver = {}

-- Register access through the mapped BAR.
local function reg_read(ext, offset) return READ_REGISTER_ULONG(ext.Registers + offset) end
local function reg_write(ext, offset, value) WRITE_REGISTER_ULONG(ext.Registers + offset, value) end

-- Maps the next piece of the current request and programs the device.
local function StartTransfer(DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local length = math.min(ext.Remaining, ext.NumberOfMapRegisters * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa),
                          ext.MaximumTransfer)
  local logical, mapped = ext.Adapter:MapTransfer(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, length,
                                                  ext.WriteToDevice)
  ext.TransferLength = mapped
  reg_write(ext, R.ADDR_LO, logical & 0xFFFFFFFF)
  reg_write(ext, R.ADDR_HI, logical >> 32)
  reg_write(ext, R.LENGTH, mapped)
  reg_write(ext, R.OFFSET_LO, ext.DeviceOffset & 0xFFFFFFFF)
  reg_write(ext, R.OFFSET_HI, ext.DeviceOffset >> 32)
  local control = R.START | R.IRQ_ENABLE | R.MODE_SINGLE
  if ext.WriteToDevice then control = control | R.TO_DEVICE end
  ext.Busy = true
  ext.InterruptClaimed = false
  KeSetTimer(ext.Watchdog, WATCHDOG, ext.WatchdogDpc)
  reg_write(ext, R.CONTROL, control)
end

-- Ends the current IRP with a status and starts the next queued one.
local function CompleteCurrent(DeviceObject, Irp, status, information)
  local ext = DeviceObject.DeviceExtension
  ext.Adapter:FreeMapRegisters(ext.MapRegisterBase, ext.NumberOfMapRegisters)
  ext.MapRegisterBase = nil
  Irp.IoStatus.Status = status
  Irp.IoStatus.Information = information
  IoCompleteRequest(Irp, IO_DISK_INCREMENT)
  IoStartNextPacket(DeviceObject, FALSE)
end

-- AdapterControl: the channel and registers are ours; start the first piece.
local function AdapterControl(DeviceObject, _, MapRegisterBase, _)
  DeviceObject.DeviceExtension.MapRegisterBase = MapRegisterBase
  StartTransfer(DeviceObject)
  return DeallocateObjectKeepRegisters
end

-- StartIo (DISPATCH_LEVEL): one request at a time.
local function StartIo(DeviceObject, Irp)
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
  local status = ext.Adapter:AllocateAdapterChannel(DeviceObject, ext.NumberOfMapRegisters,
                                                    AdapterControl, Irp)
  if status ~= STATUS_SUCCESS then
    Irp.IoStatus.Status = status
    Irp.IoStatus.Information = 0
    IoCompleteRequest(Irp, IO_NO_INCREMENT)
    IoStartNextPacket(DeviceObject, FALSE)
  end
end

-- The ISR (DIRQL): is it ours? Save the device state, acknowledge, queue the DPC.
local function Isr(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local status = reg_read(ext, R.STATUS)
  if status & (R.DONE | R.ERROR) == 0 then return FALSE end
  ext.DeviceStatus = status
  ext.BytesDone = reg_read(ext, R.BYTES_DONE)
  ext.ErrorCode = reg_read(ext, R.ERROR_CODE)
  reg_write(ext, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  ext.InterruptClaimed = true
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- Ends the piece the device finished (or gave up on): the next piece, or
-- the end of the IRP; `failure` is the status to fail the IRP with, if any.
local function FinishTransfer(DeviceObject, Irp, failure)
  local ext = DeviceObject.DeviceExtension
  ext.Busy = false
  ext.Adapter:FlushAdapterBuffers(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, ext.TransferLength,
                                  ext.WriteToDevice)
  if not failure and ext.DeviceStatus & R.ERROR ~= 0 then failure = STATUS_IO_DEVICE_ERROR end
  if failure then
    ext.Errors = ext.Errors + 1
    CompleteCurrent(DeviceObject, Irp, failure, ext.Transferred)
    return
  end
  -- a short transfer moved fewer bytes: the rest is simply the next piece
  ext.CurrentVa = ext.CurrentVa + ext.BytesDone
  ext.DeviceOffset = ext.DeviceOffset + ext.BytesDone
  ext.Remaining = ext.Remaining - ext.BytesDone
  ext.Transferred = ext.Transferred + ext.BytesDone
  ext.Transfers = ext.Transfers + 1
  if ext.Remaining > 0 then
    StartTransfer(DeviceObject)
  else
    CompleteCurrent(DeviceObject, Irp, STATUS_SUCCESS, ext.Transferred)
  end
end

-- The DPC for the ISR.
local function DpcForIsr(_, DeviceObject, Irp, _)
  local ext = DeviceObject.DeviceExtension
  if not ext.Busy then return end  -- the watchdog got there first
  KeCancelTimer(ext.Watchdog)
  FinishTransfer(DeviceObject, Irp)
end

-- At DIRQL (through KeSynchronizeExecution, so the ISR cannot run in
-- between): what became of the transfer the watchdog expired on. FALSE if
-- the ISR has already taken its completion (its DPC, queued behind the
-- watchdog's, finishes it); else either the device finished but its
-- interrupt was lost (acknowledge, as the ISR would) or it hangs (reset it).
local function WatchdogSynchronize(DeviceObject)
  local ext = DeviceObject.DeviceExtension
  if ext.InterruptClaimed then return FALSE end
  local status = reg_read(ext, R.STATUS)
  ext.Hung = status & (R.DONE | R.ERROR) == 0
  if ext.Hung then
    reg_write(ext, R.CONTROL, R.RESET)
  else
    ext.DeviceStatus = status
    ext.BytesDone = reg_read(ext, R.BYTES_DONE)
    reg_write(ext, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  end
  return TRUE
end

-- The watchdog's DPC: no interrupt came in time. A DPC queued by an expiry
-- whose transfer has since ended is stale: DpcForIsr got there first
-- (Busy is false, or the next transfer re-armed the timer, which clears its
-- signalled state). Otherwise a lost interrupt is finished as the DPC would,
-- and a hang fails the request with STATUS_IO_TIMEOUT.
local function WatchdogDpc(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  if not ext.Busy or not KeReadStateTimer(ext.Watchdog) then return end
  if not KeSynchronizeExecution(ext.Interrupt, WatchdogSynchronize, DeviceObject) then return end
  if ext.Hung then
    ext.Timeouts = ext.Timeouts + 1
    FinishTransfer(DeviceObject, DeviceObject.CurrentIrp, STATUS_IO_TIMEOUT)
  else
    ext.LostInterrupts = ext.LostInterrupts + 1
    FinishTransfer(DeviceObject, DeviceObject.CurrentIrp)
  end
end

-- IRP_MJ_READ / IRP_MJ_WRITE: queue for StartIo.
local function DispatchReadWrite(DeviceObject, Irp)
  IoMarkIrpPending(Irp)
  IoStartPacket(DeviceObject, Irp, nil, nil)
  return STATUS_PENDING
end

-- DriverEntry: the dispatch table.
function driver.DriverEntry(DriverObject)
  DriverObject.MajorFunction[IRP_MJ_READ] = DispatchReadWrite
  DriverObject.MajorFunction[IRP_MJ_WRITE] = DispatchReadWrite
  DriverObject.DriverStartIo = StartIo
  return STATUS_SUCCESS
end

-- AddDevice and start: map the registers, get the adapter, connect the interrupt.
function driver.AddDevice(DriverObject, DeviceObject, resources, options)
  options = options or {}
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  ext.MaximumTransfer = reg_read(ext, R.MAX_TRANSFER)
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, {
    Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = FALSE,
    Dma32BitAddresses = options.Dma64BitAddresses ~= TRUE, Dma64BitAddresses = options.Dma64BitAddresses,
    MaximumLength = options.MaximumLength or 64 * 1024, InterfaceType = PCIBus })
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  ext.Transfers, ext.Errors, ext.LostInterrupts, ext.Timeouts = 0, 0, 0, 0
  ext.Watchdog = KeInitializeTimer(nil)
  ext.WatchdogDpc = KeInitializeDpc(nil, WatchdogDpc, DeviceObject)
  IoInitializeDpcRequest(DeviceObject, DpcForIsr)
  local status, interrupt = IoConnectInterrupt(Isr, DeviceObject, nil, resources.interrupt.vector,
    resources.interrupt.level, resources.interrupt.level, LevelSensitive, FALSE, 1, FALSE)
  assert(status == STATUS_SUCCESS, "IoConnectInterrupt failed")
  ext.Interrupt = interrupt
  return STATUS_SUCCESS
end

-- Stop: disconnect, release the adapter and the registers' mapping.
function driver.RemoveDevice(DeviceObject, resources)
  local ext = DeviceObject.DeviceExtension
  KeCancelTimer(ext.Watchdog)
  IoDisconnectInterrupt(ext.Interrupt)
  PutDmaAdapter(ext.Adapter)
  MmUnmapIoSpace(ext.Registers, resources.memory.length)
end

return driver
