-- wdm_sysdma.lua: a WDM system (slave) DMA driver for the UART (m:uart)
-- on an ISA DMA channel, in the style of Microsoft's system DMA sample: a
-- write IRP (the sample's IOCTL carries a filled buffer the same way) goes
-- through IoStartPacket to StartIo, which asks for the adapter channel;
-- AdapterControl keeps it (KeepObject: system DMA must) and MapTransfer
-- programs the 8237 channel with the first piece (the HAL bounces it below
-- 16 MiB, inside one 64 KiB block) and unmasks it. The UART raises DREQ
-- while its TX FIFO has room, so the bytes leave at the baud rate; at
-- terminal count the UART interrupts, the DpcForIsr flushes (which masks
-- the channel), maps the next piece or frees the channel and completes
-- the IRP. ReadDmaCounter shows the bytes still to go.
--
-- Usage: local driver = require("drivers.wdm_sysdma"); driver.DriverEntry(
-- DriverObject); driver.AddDevice(DriverObject, uart.device, uart.resources)
-- with the UART connected first (uart:connect_dma(m:isa_dma(), { tx = 1 })).
local dma = require "dma"
dma.export()

local plumbing = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "plumbing")

local R = dma.uart_registers

local function read(ext, offset) return READ_REGISTER_ULONG(ext.Registers + offset) end
local function write(ext, offset, value) WRITE_REGISTER_ULONG(ext.Registers + offset, value) end

-- Maps the next piece (at most what the map registers cover) and starts it.
local function StartTransfer(DeviceObject)
  local ext = DeviceObject.DeviceExtension
  local length = math.min(ext.Remaining, ext.NumberOfMapRegisters * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa))
  local _, mapped = ext.Adapter:MapTransfer(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, length, TRUE)
  ext.TransferLength = mapped
  ext.Pieces = ext.Pieces + 1
end

-- AdapterControl: the channel is ours until FreeAdapterChannel.
local function AdapterControl(DeviceObject, _, MapRegisterBase, _)
  DeviceObject.DeviceExtension.MapRegisterBase = MapRegisterBase
  StartTransfer(DeviceObject)
  return KeepObject
end

-- StartIo (DISPATCH_LEVEL): one write at a time.
local function StartIo(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local stack = IoGetCurrentIrpStackLocation(Irp)
  ext.Mdl = Irp.MdlAddress
  ext.CurrentVa = MmGetMdlVirtualAddress(ext.Mdl)
  ext.Remaining = stack.Parameters.Write.Length
  ext.Transferred = 0
  KeFlushIoBuffers(ext.Mdl, FALSE, TRUE)
  local status = ext.Adapter:AllocateAdapterChannel(DeviceObject, ext.NumberOfMapRegisters,
                                                    AdapterControl, Irp)
  if status ~= STATUS_SUCCESS then plumbing.wdm_complete(DeviceObject, Irp, status, 0, IO_NO_INCREMENT) end
end

-- The ISR (DIRQL): terminal count on the TX channel? acknowledge, DPC.
local function Isr(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  if read(ext, R.STATUS) & R.TX_TC == 0 then return FALSE end
  write(ext, R.STATUS, R.TX_TC)
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- DpcForIsr: the piece is in the UART's FIFO. Flush (masks the channel),
-- then the next piece, or the channel back and the IRP done.
local function DpcForIsr(_, DeviceObject, Irp, _)
  local ext = DeviceObject.DeviceExtension
  ext.Counters[#ext.Counters + 1] = ext.Adapter:ReadDmaCounter()  -- 0: the piece moved
  ext.Adapter:FlushAdapterBuffers(ext.Mdl, ext.MapRegisterBase, ext.CurrentVa, ext.TransferLength, TRUE)
  ext.CurrentVa = ext.CurrentVa + ext.TransferLength
  ext.Remaining = ext.Remaining - ext.TransferLength
  ext.Transferred = ext.Transferred + ext.TransferLength
  if ext.Remaining > 0 then
    StartTransfer(DeviceObject)
    return
  end
  ext.Adapter:FreeAdapterChannel()
  ext.MapRegisterBase = nil
  plumbing.wdm_complete(DeviceObject, Irp, STATUS_SUCCESS, ext.Transferred, IO_NO_INCREMENT)
end

local function DispatchWrite(DeviceObject, Irp)
  IoMarkIrpPending(Irp)
  IoStartPacket(DeviceObject, Irp, nil, nil)
  return STATUS_PENDING
end

local driver = {}

function driver.DriverEntry(DriverObject)
  DriverObject.MajorFunction[IRP_MJ_WRITE] = DispatchWrite
  DriverObject.DriverStartIo = StartIo
  return STATUS_SUCCESS
end

-- AddDevice and start: the registers, the system DMA adapter for the DMA
-- resource's channel (8-bit, single mode), the interrupt, then the UART's
-- TX DMA requests and terminal-count interrupt enabled.
function driver.AddDevice(DriverObject, DeviceObject, resources)
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  assert(resources.dma and resources.dma.tx, "the UART has no DMA resource (uart:connect_dma first)")
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, {
    Version = DEVICE_DESCRIPTION_VERSION2, Master = FALSE, InterfaceType = Isa,
    DmaChannel = resources.dma.tx.channel, DmaPort = resources.dma.tx.port,
    DmaWidth = Width8Bits, DmaSpeed = Compatible, DemandMode = FALSE, AutoInitialize = FALSE,
    MaximumLength = 16 * PAGE_SIZE })
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  ext.Pieces, ext.Counters = 0, {}
  plumbing.wdm_connect_interrupt(DeviceObject, resources, Isr, DpcForIsr)
  write(ext, R.CONTROL, R.TX_DMA | R.IRQ_TC)
  return STATUS_SUCCESS
end

function driver.RemoveDevice(DeviceObject, resources)
  write(DeviceObject.DeviceExtension, R.CONTROL, 0)
  plumbing.wdm_remove_device(DeviceObject, resources)
end

return driver
