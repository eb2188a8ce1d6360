-- wdm_packet.lua: a WDM packet-based bus-master driver for the built-in
-- bus-master device (m:busmaster), written as the C driver would be:
-- IRPs are serialised through IoStartPacket/StartIo; StartIo asks for the
-- adapter channel; AdapterControl maps the first piece and programs the
-- device; the ISR acknowledges the device and requests the DPC; the DPC
-- flushes, then maps and programs the next piece, or frees the map
-- registers and completes the IRP. Requests larger than the map registers
-- allow are split (seed 004); a device error fails the request with the
-- device's status and the driver carries on with the next one. What it
-- shares with wdm_sg (registers, the ISR, the DPCs, the watchdog,
-- DriverEntry, AddDevice, RemoveDevice) is in busmaster_hw.lua (hw.wdm).
--
-- Usage: local driver = require("drivers.wdm_packet") (with scripts/ on
-- package.path); driver.DriverEntry(DriverObject); driver.AddDevice(
-- DriverObject, hw.device, hw.resources).
local dma = require "dma"
dma.export()

-- registers, ISR acknowledge, watchdog: a sibling module, loaded as drivers.X
-- (scripts/ on the path) or dma.drivers.X (installed)
local hw = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "busmaster_hw")

local R = dma.busmaster_registers

-- Maps the next piece of the current request and programs the device.
local function StartTransfer(DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local length = math.min(ext.Remaining, ext.NumberOfMapRegisters * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa),
                          ext.MaximumTransfer)
  local logical, mapped = ext.Adapter:MapTransfer(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, length,
                                                  ext.WriteToDevice)
  ext.TransferLength = mapped
  hw.set_single(ext, logical, mapped, ext.DeviceOffset)
  hw.arm_watchdog(ext)
  hw.start(ext, hw.control(R.MODE_SINGLE, ext.WriteToDevice))
end

-- Ends the current IRP: the map registers go back, then the I/O manager's part.
local function CompleteCurrent(DeviceObject, Irp, status, information)
  local ext = DeviceObject.DeviceExtension
  ext.Adapter:FreeMapRegisters(ext.MapRegisterBase, ext.NumberOfMapRegisters)
  ext.MapRegisterBase = nil
  hw.wdm.complete(DeviceObject, Irp, status, information, IO_DISK_INCREMENT)
end

-- AdapterControl: the channel and registers are ours; start the first piece.
local function AdapterControl(DeviceObject, _, MapRegisterBase, _)
  DeviceObject.DeviceExtension.MapRegisterBase = MapRegisterBase
  StartTransfer(DeviceObject)
  return DeallocateObjectKeepRegisters
end

-- StartIo (DISPATCH_LEVEL): one request at a time; the whole request's
-- map registers (or as many as the adapter has) for all its pieces.
local function StartIo(DeviceObject, Irp)
  local ext = hw.wdm.begin_request(DeviceObject, Irp)
  local status = ext.Adapter:AllocateAdapterChannel(DeviceObject, ext.NumberOfMapRegisters,
                                                    AdapterControl, Irp)
  if status ~= STATUS_SUCCESS then hw.wdm.complete(DeviceObject, Irp, status, 0, IO_NO_INCREMENT) end
end

-- Ends the piece the device finished (or gave up on): the next piece, or
-- the end of the IRP; `failure` is the status to fail the IRP with, if any.
local function FinishTransfer(DeviceObject, Irp, failure)
  local ext = DeviceObject.DeviceExtension
  failure = hw.transfer_failure(ext, failure)
  ext.Adapter:FlushAdapterBuffers(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, ext.TransferLength,
                                  ext.WriteToDevice)
  if failure then
    CompleteCurrent(DeviceObject, Irp, failure, ext.Transferred)
  elseif hw.wdm.advance(ext) then  -- a short transfer leaves more for the next piece
    StartTransfer(DeviceObject)
  else
    CompleteCurrent(DeviceObject, Irp, STATUS_SUCCESS, ext.Transferred)
  end
end

-- DriverEntry, AddDevice (a packet adapter; options: Dma64BitAddresses,
-- MaximumLength, 64 KiB by default; the ISR saves ERROR_CODE too) and
-- RemoveDevice, from hw.wdm.
return hw.wdm.driver { StartIo = StartIo, ScatterGather = FALSE, MaximumLength = 64 * 1024,
                       Finish = FinishTransfer, SaveErrorCode = true }
