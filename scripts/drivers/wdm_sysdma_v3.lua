-- wdm_sysdma_v3.lua: a WDM system (slave) DMA driver for the UART (m:uart)
-- through the version-3 DMA operations, in the style of Microsoft's public
-- system DMA sample: IoGetDmaAdapter with DEVICE_DESCRIPTION_VERSION3 and
-- Master = FALSE (an ISA 8237 channel, or an SoC controller's request line
-- with DeviceAddress the UART's registers), then per request
-- InitializeDmaTransferContext, AllocateAdapterChannelEx, MapTransferEx
-- toward the UART's DATA FIFO (DeviceOffset on the SoC controller) with a
-- DmaCompletionRoutine, FlushAdapterBuffersEx in that routine, and
-- FreeAdapterChannel at the end.
--
-- IOCTL_SYSDMA_WRITE (METHOD_IN_DIRECT: the filled buffer is Irp.MdlAddress,
-- its length OutputBufferLength) goes through IoStartPacket to StartIo,
-- which asks for the channel; AdapterControl keeps it (KeepObject: system
-- DMA must) and maps the first piece (MapTransferEx shortens it to what
-- the map registers cover, one element: a system DMA channel moves one
-- block a transfer). The controller moves bytes at the UART's pace; at
-- terminal count the HAL calls the DmaCompletionRoutine at DISPATCH_LEVEL
-- (DmaComplete, or DmaError if the channel lost bytes), which flushes and
-- maps the next piece or frees the channel and completes the IRP.
-- IOCTL_SYSDMA_STOP calls CancelMappedTransfer: the routine then hears
-- DmaCancelled and the write completes with STATUS_CANCELLED and the bytes
-- that moved.
--
-- Usage: local driver = require("drivers.wdm_sysdma_v3"); driver.DriverEntry(
-- DriverObject); driver.AddDevice(DriverObject, uart.device, uart.resources)
-- with the UART connected first (uart:connect_dma(m:isa_dma(), { tx = 1 }),
-- or an m:soc_dma controller).
local dma = require "dma"
dma.export()

local plumbing = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "plumbing")

local R = dma.uart_registers

-- CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 / 0x801, METHOD_IN_DIRECT / METHOD_BUFFERED, FILE_ANY_ACCESS)
local IOCTL_SYSDMA_WRITE = (0x22 << 16) | (0x800 << 2) | 1
local IOCTL_SYSDMA_STOP = (0x22 << 16) | (0x801 << 2) | 0

local function write(ext, offset, value) WRITE_REGISTER_ULONG(ext.Registers + offset, value) end

local DmaCompletion

-- Maps the next piece from ext.Offset toward the FIFO and so starts it.
local function StartTransfer(DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local status, mapped = ext.Adapter:MapTransferEx(ext.Mdl, ext.MapRegisterBase, ext.Offset,
    ext.DeviceOffset, ext.Remaining, TRUE, nil, 0, DmaCompletion, DeviceObject)
  ext.TransferLength = mapped
  if status == STATUS_SUCCESS then ext.Pieces = ext.Pieces + 1 end
  return status
end

-- Gives the channel back and completes the IRP.
local function Finish(DeviceObject, status)
  local ext = DeviceObject.DeviceExtension
  local irp = DeviceObject.CurrentIrp
  ext.Adapter:FreeAdapterChannel()
  ext.MapRegisterBase = nil
  plumbing.wdm_complete(DeviceObject, irp, status, ext.Transferred, IO_NO_INCREMENT)
end

-- DmaCompletionRoutine (DISPATCH_LEVEL): the piece ended. Flush (done or
-- cancelled, the flush comes first), then the next piece or the end.
function DmaCompletion(DmaAdapter, DeviceObject, _, Status)
  local ext = DeviceObject.DeviceExtension
  local counter = DmaAdapter:ReadDmaCounter()  -- 0 after terminal count; what is left after a cancel
  ext.Completions[#ext.Completions + 1] = { status = Status, at = ext.Machine.now, counter = counter }
  DmaAdapter:FlushAdapterBuffersEx(ext.Mdl, ext.MapRegisterBase, ext.Offset, ext.TransferLength, TRUE)
  local moved = ext.TransferLength - counter
  ext.Offset, ext.Remaining = ext.Offset + moved, ext.Remaining - moved
  ext.Transferred = ext.Transferred + moved
  if Status == DmaCancelled then return Finish(DeviceObject, STATUS_CANCELLED) end
  if Status ~= DmaComplete then return Finish(DeviceObject, STATUS_DEVICE_DATA_ERROR) end
  if ext.Remaining == 0 then return Finish(DeviceObject, STATUS_SUCCESS) end
  local status = StartTransfer(DeviceObject)
  if status ~= STATUS_SUCCESS then Finish(DeviceObject, status) end
end

-- AdapterControl (DISPATCH_LEVEL): the channel is ours until FreeAdapterChannel.
local function AdapterControl(DeviceObject, _, MapRegisterBase, _)
  local ext = DeviceObject.DeviceExtension
  ext.MapRegisterBase = MapRegisterBase
  local status = StartTransfer(DeviceObject)
  if status ~= STATUS_SUCCESS then
    plumbing.wdm_complete(DeviceObject, DeviceObject.CurrentIrp, status, 0, IO_NO_INCREMENT)
    return DeallocateObject
  end
  return KeepObject
end

-- StartIo (DISPATCH_LEVEL): one write at a time, each under a fresh context.
local function StartIo(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local stack = IoGetCurrentIrpStackLocation(Irp)
  ext.Mdl = Irp.MdlAddress
  ext.Offset, ext.Transferred = 0, 0
  ext.Remaining = stack.Parameters.DeviceIoControl.OutputBufferLength
  local status = ext.Adapter:InitializeDmaTransferContext(ext.Context)
  if status == STATUS_SUCCESS then
    status = ext.Adapter:AllocateAdapterChannelEx(DeviceObject, ext.Context, ext.NumberOfMapRegisters,
                                                  0, AdapterControl, Irp)
  end
  if status ~= STATUS_SUCCESS then plumbing.wdm_complete(DeviceObject, Irp, status, 0, IO_NO_INCREMENT) end
end

-- Completes an IRP that never went through StartIo.
local function CompleteNow(Irp, status)
  Irp.IoStatus.Status, Irp.IoStatus.Information = status, 0
  IoCompleteRequest(Irp, IO_NO_INCREMENT)
  return status
end

-- IRP_MJ_DEVICE_CONTROL: writes are queued for StartIo; a stop cancels the
-- mapped transfer at once (its routine completes the write).
local function DispatchDeviceControl(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local code = IoGetCurrentIrpStackLocation(Irp).Parameters.DeviceIoControl.IoControlCode
  if code == IOCTL_SYSDMA_WRITE then
    if not Irp.MdlAddress then return CompleteNow(Irp, STATUS_INVALID_PARAMETER) end
    IoMarkIrpPending(Irp)
    IoStartPacket(DeviceObject, Irp, nil, nil)
    return STATUS_PENDING
  end
  if code ~= IOCTL_SYSDMA_STOP then return CompleteNow(Irp, STATUS_INVALID_DEVICE_REQUEST) end
  local old = KeRaiseIrql(DISPATCH_LEVEL)
  local status = ext.Context.mapped and ext.Adapter:CancelMappedTransfer(ext.Context) or STATUS_SUCCESS
  KeLowerIrql(old)
  return CompleteNow(Irp, status)
end

local driver = { IOCTL_SYSDMA_WRITE = IOCTL_SYSDMA_WRITE, IOCTL_SYSDMA_STOP = IOCTL_SYSDMA_STOP }

function driver.DriverEntry(DriverObject)
  DriverObject.MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl
  DriverObject.DriverStartIo = StartIo
  return STATUS_SUCCESS
end

-- The DEVICE_DESCRIPTION (version 3, Master FALSE) for the UART's TX DMA
-- resource: an ISA channel, or an SoC controller instance and request line
-- with the UART's registers as DeviceAddress (MapTransferEx's DeviceOffset
-- then names the DATA FIFO).
local function description(resources, maximum)
  local tx = resources.dma.tx
  local d = { Version = DEVICE_DESCRIPTION_VERSION3, Master = FALSE, DmaWidth = Width8Bits,
              MaximumLength = maximum, AutoInitialize = FALSE, DemandMode = FALSE }
  if tx.controller == "isa" then
    d.InterfaceType, d.DmaChannel, d.DmaPort, d.DmaSpeed = Isa, tx.channel, tx.port, Compatible
    d.DmaAddressWidth = 24
    return d, 0
  end
  d.InterfaceType, d.DmaAddressWidth = ACPIBus, 32
  d.DmaControllerInstance = assert(tonumber(tx.controller:match("^soc(%d+)$")), "not an SoC controller")
  d.DmaRequestLine = tx.request_line
  d.DeviceAddress = resources.memory.start
  return d, R.DATA
end

-- AddDevice and start: the registers, the system DMA adapter, one DMA
-- transfer context, then the UART's TX DMA requests enabled.
function driver.AddDevice(DriverObject, DeviceObject, resources, machine)
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Machine = machine or DeviceObject.machine
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  assert(resources.dma and resources.dma.tx, "the UART has no DMA resource (uart:connect_dma first)")
  local desc
  desc, ext.DeviceOffset = description(resources, 16 * PAGE_SIZE)
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, desc)
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  local _, info = ext.Adapter:GetDmaAdapterInfo({ Version = DMA_ADAPTER_INFO_VERSION1 })
  ext.AdapterInfo = info.V1
  local status
  status, ext.Context = ext.Adapter:InitializeDmaTransferContext(nil)
  assert(status == STATUS_SUCCESS)
  ext.Pieces, ext.Completions = 0, {}
  write(ext, R.CONTROL, R.TX_DMA)
  return STATUS_SUCCESS
end

function driver.RemoveDevice(DeviceObject, resources)
  local ext = DeviceObject.DeviceExtension
  write(ext, R.CONTROL, 0)
  ext.Adapter:PutDmaAdapter()
  MmUnmapIoSpace(ext.Registers, resources.memory.length)
end

return driver
