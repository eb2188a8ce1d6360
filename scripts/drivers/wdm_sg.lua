-- wdm_sg.lua: the same bus-master device driven through the system's
-- scatter/gather support: StartIo calls GetScatterGatherList for a piece
-- of the request; AdapterListControl writes the list into a descriptor
-- table in a common buffer and starts the device in scatter/gather mode;
-- the ISR acknowledges and requests the DPC; the DPC puts the list
-- (PutScatterGatherList flushes and frees the map registers) and either
-- gets the next piece or completes the IRP. A watchdog timer copes with a
-- lost interrupt and a hung device, as in wdm_packet.lua; what the two
-- share is in busmaster_hw.lua (hw.wdm).
--
-- Usage as wdm_packet.lua: driver.DriverEntry(DriverObject);
-- driver.AddDevice(DriverObject, hw.device, hw.resources [, options]).
local dma = require "dma"
dma.export()

-- registers, ISR acknowledge, watchdog: a sibling module, loaded as drivers.X
-- (scripts/ on the path) or dma.drivers.X (installed)
local hw = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "busmaster_hw")

local R = dma.busmaster_registers

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
  DeviceObject.machine:write(ext.TableVa, hw.table_bytes(ScatterGather))
  hw.set_table(ext, ext.TableLogical, ScatterGather.NumberOfElements, ext.DeviceOffset)
  hw.arm_watchdog(ext)
  hw.start(ext, hw.control(R.MODE_SG, ext.WriteToDevice))
end

-- Asks for the scatter/gather list of the next piece; false on failure.
local function StartPiece(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  ext.TransferLength = PieceLength(ext)
  local status = ext.Adapter:GetScatterGatherList(DeviceObject, ext.Mdl, ext.CurrentVa, ext.TransferLength,
                                                  AdapterListControl, Irp, ext.WriteToDevice)
  return status == STATUS_SUCCESS, status
end

-- StartIo (DISPATCH_LEVEL): the first piece.
local function StartIo(DeviceObject, Irp)
  hw.wdm.begin_request(DeviceObject, Irp)
  local ok, status = StartPiece(DeviceObject, Irp)
  if not ok then hw.wdm.complete(DeviceObject, Irp, status, 0, IO_DISK_INCREMENT) end
end

-- Ends the piece: put the list (flush, free registers); the next piece or
-- the end of the IRP; `failure` is the status to fail the IRP with, if any.
local function FinishPiece(DeviceObject, Irp, failure)
  local ext = DeviceObject.DeviceExtension
  failure = hw.transfer_failure(ext, failure)
  ext.Adapter:PutScatterGatherList(ext.ScatterGather, ext.WriteToDevice)
  ext.ScatterGather = nil
  if failure then
    hw.wdm.complete(DeviceObject, Irp, failure, ext.Transferred, IO_DISK_INCREMENT)
  elseif not hw.wdm.advance(ext) then
    hw.wdm.complete(DeviceObject, Irp, STATUS_SUCCESS, ext.Transferred, IO_DISK_INCREMENT)
  else
    local ok, status = StartPiece(DeviceObject, Irp)
    if not ok then hw.wdm.complete(DeviceObject, Irp, status, ext.Transferred, IO_DISK_INCREMENT) end
  end
end

-- The descriptor table in a common buffer, once the adapter is there.
local function AllocateTable(ext)
  ext.TableBytes = ext.MaxSg * hw.DESCRIPTOR
  ext.TableVa, ext.TableLogical = ext.Adapter:AllocateCommonBuffer(ext.TableBytes, FALSE)
  assert(ext.TableVa, "AllocateCommonBuffer failed")
end

-- ... and freed before the adapter goes.
local function FreeTable(ext)
  ext.Adapter:FreeCommonBuffer(ext.TableBytes, ext.TableLogical, ext.TableVa, FALSE)
end

-- DriverEntry, AddDevice (a scatter/gather adapter and the descriptor
-- table; options: Dma64BitAddresses, MaximumLength, 1 MiB by default) and
-- RemoveDevice, from hw.wdm.
return hw.wdm.driver { StartIo = StartIo, ScatterGather = TRUE, MaximumLength = 1024 * 1024,
                       Finish = FinishPiece, setup = AllocateTable, cleanup = FreeTable }
