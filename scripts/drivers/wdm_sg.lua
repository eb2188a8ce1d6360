-- wdm_sg.lua: the same bus-master device driven through the system's
-- scatter/gather support: StartIo calls GetScatterGatherList for a piece
-- of the request; AdapterListControl writes the list into a descriptor
-- table in a common buffer and starts the device in scatter/gather mode;
-- the ISR acknowledges and requests the DPC; the DPC puts the list
-- (PutScatterGatherList flushes and frees the map registers) and either
-- gets the next piece or completes the IRP. A watchdog timer copes with a
-- lost interrupt and a hung device, as in wdm_packet.lua.
--
-- Usage as wdm_packet.lua: driver.DriverEntry(DriverObject);
-- driver.AddDevice(DriverObject, hw.device, hw.resources [, options]).
local dma = require "dma"
dma.export()

local R = dma.busmaster_registers
local DESCRIPTOR = 16                 -- u64 address, u32 length, u32 reserved
local WATCHDOG = -100000              -- 10 ms, relative, in 100 ns units (KeSetTimer)

local driver = {}

local function reg_read(ext, offset) return READ_REGISTER_ULONG(ext.Registers + offset) end
local function reg_write(ext, offset, value) WRITE_REGISTER_ULONG(ext.Registers + offset, value) end

-- The longest piece from CurrentVa that the device and the adapter accept:
-- at most MaxSg elements even if every page is its own element, at most the
-- device's maximum transfer, and within the map registers.
local function PieceLength(ext)
  local first = PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa)
  local by_elements = first + (ext.MaxSg - 1) * PAGE_SIZE
  local by_registers = ext.NumberOfMapRegisters * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa)
  return math.min(ext.Remaining, by_elements, by_registers, ext.MaximumTransfer)
end

-- AdapterListControl (DISPATCH_LEVEL): the list is built; describe it to
-- the device in the common buffer and start it.
local function AdapterListControl(DeviceObject, _, ScatterGather, _)
  local ext = DeviceObject.DeviceExtension
  ext.ScatterGather = ScatterGather
  local parts = {}
  for i = 0, ScatterGather.NumberOfElements - 1 do
    local e = ScatterGather.Elements[i]
    parts[#parts + 1] = string.pack("<I8I4I4", e.Address, e.Length, 0)
  end
  DeviceObject.machine:write(ext.TableVa, table.concat(parts))
  reg_write(ext, R.DESC_LO, ext.TableLogical & 0xFFFFFFFF)
  reg_write(ext, R.DESC_HI, ext.TableLogical >> 32)
  reg_write(ext, R.DESC_COUNT, ScatterGather.NumberOfElements)
  reg_write(ext, R.OFFSET_LO, ext.DeviceOffset & 0xFFFFFFFF)
  reg_write(ext, R.OFFSET_HI, ext.DeviceOffset >> 32)
  local control = R.START | R.IRQ_ENABLE | R.MODE_SG
  if ext.WriteToDevice then control = control | R.TO_DEVICE end
  ext.Busy = true
  ext.InterruptClaimed = false
  KeSetTimer(ext.Watchdog, WATCHDOG, ext.WatchdogDpc)
  reg_write(ext, R.CONTROL, control)
end

-- Asks for the scatter/gather list of the next piece; false on failure.
local function StartPiece(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  ext.TransferLength = PieceLength(ext)
  local status = ext.Adapter:GetScatterGatherList(DeviceObject, ext.Mdl, ext.CurrentVa, ext.TransferLength,
                                                  AdapterListControl, Irp, ext.WriteToDevice)
  return status == STATUS_SUCCESS, status
end

local function Complete(DeviceObject, Irp, status, information)
  Irp.IoStatus.Status = status
  Irp.IoStatus.Information = information
  IoCompleteRequest(Irp, IO_DISK_INCREMENT)
  IoStartNextPacket(DeviceObject, FALSE)
end

-- StartIo (DISPATCH_LEVEL).
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
  local ok, status = StartPiece(DeviceObject, Irp)
  if not ok then Complete(DeviceObject, Irp, status, 0) end
end

-- The ISR: ours? save, acknowledge, DPC.
local function Isr(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local status = reg_read(ext, R.STATUS)
  if status & (R.DONE | R.ERROR) == 0 then return FALSE end
  ext.DeviceStatus = status
  ext.BytesDone = reg_read(ext, R.BYTES_DONE)
  reg_write(ext, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  ext.InterruptClaimed = true
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- Ends the piece: put the list (flush, free registers); the next piece or
-- the end of the IRP; `failure` is the status to fail the IRP with, if any.
local function FinishPiece(DeviceObject, Irp, failure)
  local ext = DeviceObject.DeviceExtension
  ext.Busy = false
  ext.Adapter:PutScatterGatherList(ext.ScatterGather, ext.WriteToDevice)
  ext.ScatterGather = nil
  if not failure and ext.DeviceStatus & R.ERROR ~= 0 then failure = STATUS_IO_DEVICE_ERROR end
  if failure then
    ext.Errors = ext.Errors + 1
    Complete(DeviceObject, Irp, failure, ext.Transferred)
    return
  end
  ext.CurrentVa = ext.CurrentVa + ext.BytesDone
  ext.DeviceOffset = ext.DeviceOffset + ext.BytesDone
  ext.Remaining = ext.Remaining - ext.BytesDone
  ext.Transferred = ext.Transferred + ext.BytesDone
  ext.Transfers = ext.Transfers + 1
  if ext.Remaining == 0 then
    Complete(DeviceObject, Irp, STATUS_SUCCESS, ext.Transferred)
    return
  end
  local ok, status = StartPiece(DeviceObject, Irp)
  if not ok then Complete(DeviceObject, Irp, status, ext.Transferred) end
end

-- The DPC for the ISR.
local function DpcForIsr(_, DeviceObject, Irp, _)
  local ext = DeviceObject.DeviceExtension
  if not ext.Busy then return end  -- the watchdog got there first
  KeCancelTimer(ext.Watchdog)
  FinishPiece(DeviceObject, Irp)
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
    FinishPiece(DeviceObject, DeviceObject.CurrentIrp, STATUS_IO_TIMEOUT)
  else
    ext.LostInterrupts = ext.LostInterrupts + 1
    FinishPiece(DeviceObject, DeviceObject.CurrentIrp)
  end
end

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

-- AddDevice and start: registers, a scatter/gather adapter, the
-- descriptor table in a common buffer, the interrupt.
function driver.AddDevice(DriverObject, DeviceObject, resources, options)
  options = options or {}
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  ext.MaximumTransfer = reg_read(ext, R.MAX_TRANSFER)
  ext.MaxSg = reg_read(ext, R.MAX_SG)
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, {
    Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = TRUE,
    Dma32BitAddresses = options.Dma64BitAddresses ~= TRUE, Dma64BitAddresses = options.Dma64BitAddresses,
    MaximumLength = options.MaximumLength or 1024 * 1024, InterfaceType = PCIBus })
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  ext.TableBytes = ext.MaxSg * DESCRIPTOR
  ext.TableVa, ext.TableLogical = ext.Adapter:AllocateCommonBuffer(ext.TableBytes, FALSE)
  assert(ext.TableVa, "AllocateCommonBuffer failed")
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

-- Stop: disconnect, free the table, release the adapter.
function driver.RemoveDevice(DeviceObject, resources)
  local ext = DeviceObject.DeviceExtension
  KeCancelTimer(ext.Watchdog)
  IoDisconnectInterrupt(ext.Interrupt)
  ext.Adapter:FreeCommonBuffer(ext.TableBytes, ext.TableLogical, ext.TableVa, FALSE)
  PutDmaAdapter(ext.Adapter)
  MmUnmapIoSpace(ext.Registers, resources.memory.length)
end

return driver
