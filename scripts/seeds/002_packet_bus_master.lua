-- 002_packet_bus_master.lua: seed 002, "Using packet-based bus-master DMA"
-- (WDM). A driver for a bus-master device that has no scatter/gather and
-- reaches only 32 bits, on a machine whose RAM is all above 4 GiB (but the
-- 256 KiB at 1 MiB the map registers take), moves a 200 KiB buffer to the
-- device (IRP_MJ_WRITE) and back (IRP_MJ_READ), calling the support routines
-- in the order the page gives:
--   KeFlushIoBuffers         just before asking for map registers
--   AllocateAdapterChannel   at DISPATCH_LEVEL (StartIo); AdapterControl
--                            returns DeallocateObjectKeepRegisters
--   MmGetMdlVirtualAddress   the index into the MDL for MapTransfer
--   MapTransfer              once per transfer (no scatter/gather)
--   FlushAdapterBuffers      at the end of each transfer (DpcForIsr)
--   FreeMapRegisters         as soon as all DMA for the IRP is done
-- The request is split as seed 004 and reference 1.4 say: each transfer spans
-- at most NumberOfMapRegisters pages, then CurrentVa += Length.
-- The driver is a real WDM driver: the scenario stands for the I/O manager
-- (m:irp builds the request with its locked MDL, IoCallDriver sends it),
-- IRPs go through IoStartPacket to StartIo, the device is the built-in bus
-- master (m:busmaster, single mode) reached through its registers
-- (drivers/busmaster_hw.lua), its interrupt runs the ISR, whose
-- IoRequestDpc runs DpcForIsr. The device takes 2 us + 1 ns a byte; the
-- machine has no interrupt or DPC latency, so the times printed are the
-- device's alone.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local here = (arg and arg[0] or ""):match("^(.*)seeds/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path
local hw = require "drivers.busmaster_hw"  -- the device's registers, interrupt acknowledge, dispatch
local plumbing = require "drivers.plumbing"  -- connecting the interrupt, completion, removal

local R = dma.busmaster_registers

local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 2, alloc = "scattered",
                        interrupt_latency = 0, dpc_latency = 0 }
print(m)
local device = m:busmaster { name = "pkt0", bandwidth = 1000000000, setup_latency = "2us",
                             address_width = 32, capacity = "1M" }

-- The buffer the requests move, a user buffer with a byte offset. Allocated
-- before the driver starts: MmMapIoSpace takes virtual addresses too, and
-- the addresses printed below are those of the buffer at the start of its
-- region.
local LENGTH, OFFSET = 200 * 1024, 0x234
local buffer = m:buffer(LENGTH, { offset = OFFSET })

-- ---- the driver ----------------------------------------------------------------
local StartTransfer  -- AdapterControl and DpcForIsr both start a transfer

-- AdapterControl (DRIVER_CONTROL): the map registers are ours. Runs at
-- DISPATCH_LEVEL; Irp is the device's CurrentIrp.
local function AdapterControl(DeviceObject, Irp, MapRegisterBase, _)
  local ext = DeviceObject.DeviceExtension
  assert(KeGetCurrentIrql() == DISPATCH_LEVEL)
  ext.MapRegisterBase = MapRegisterBase
  ext.CurrentVa = MmGetMdlVirtualAddress(Irp.MdlAddress)  -- an index into the MDL
  ext.BytesLeft = MmGetMdlByteCount(Irp.MdlAddress)
  StartTransfer(DeviceObject, Irp)
  return DeallocateObjectKeepRegisters  -- free the channel, keep the registers
end

-- Maps the next piece and programs the device with its logical address.
StartTransfer = function(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  -- as many bytes as the registers we hold can map from CurrentVa
  local Length = math.min(ext.BytesLeft, ext.MapRegistersNeeded * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa))
  assert(ADDRESS_AND_SIZE_TO_SPAN_PAGES(ext.CurrentVa, Length) <= ext.MapRegistersNeeded)
  local LogicalAddress, Mapped = ext.Adapter:MapTransfer(Irp.MdlAddress, ext.MapRegisterBase, ext.CurrentVa,
                                                         Length, ext.WriteToDevice)
  assert(Mapped == Length, "a packet adapter maps the whole length")
  ext.TransferLength = Mapped
  print(("  %s transfer %d: CurrentVa %s Length %6d spans %2d pages -> logical %s"):format(
    ext.WriteToDevice and "write" or "read ", ext.Transfers[ext.MajorFunction] + 1,
    dma.hex(ext.CurrentVa), Mapped, ADDRESS_AND_SIZE_TO_SPAN_PAGES(ext.CurrentVa, Mapped),
    dma.hex(LogicalAddress)))
  hw.set_single(ext, LogicalAddress, Mapped, ext.DeviceOffset)
  hw.start(ext, hw.control(R.MODE_SINGLE, ext.WriteToDevice))
end

-- StartIo (DISPATCH_LEVEL, one IRP at a time): how many map registers the
-- request needs, then the cache flush just before asking for them.
local function StartIo(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local stack = IoGetCurrentIrpStackLocation(Irp)
  local Mdl = Irp.MdlAddress
  ext.MajorFunction = stack.MajorFunction
  ext.WriteToDevice = stack.MajorFunction == IRP_MJ_WRITE
  ext.DeviceOffset = (ext.WriteToDevice and stack.Parameters.Write or stack.Parameters.Read).ByteOffset
  local span = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), MmGetMdlByteCount(Mdl))
  ext.MapRegistersNeeded = math.min(span, ext.NumberOfMapRegisters)
  KeFlushIoBuffers(Mdl, not ext.WriteToDevice, TRUE)
  local status = ext.Adapter:AllocateAdapterChannel(DeviceObject, ext.MapRegistersNeeded, AdapterControl, Irp)
  assert(NT_SUCCESS(status), "AllocateAdapterChannel failed")
end

-- The ISR (DIRQL): is it ours? Save the device state, acknowledge, queue
-- DpcForIsr.
local function Isr(_, DeviceObject)
  if not hw.claim_interrupt(DeviceObject.DeviceExtension) then return FALSE end
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- The IRP's DMA is done: free the map registers, complete it, start the next.
local function CompleteIrp(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  ext.Adapter:FreeMapRegisters(ext.MapRegisterBase, ext.MapRegistersNeeded)
  ext.MapRegisterBase = nil
  plumbing.wdm_complete(DeviceObject, Irp, STATUS_SUCCESS, nil, IO_DISK_INCREMENT)
end

-- DpcForIsr (DISPATCH_LEVEL): one transfer ended; flush, then map the next
-- piece or, when the IRP is done, free the map registers and complete it.
local function DpcForIsr(_, DeviceObject, Irp, _)
  local ext = DeviceObject.DeviceExtension
  local flushed = ext.Adapter:FlushAdapterBuffers(Irp.MdlAddress, ext.MapRegisterBase, ext.CurrentVa,
                                                  ext.TransferLength, ext.WriteToDevice)
  assert(flushed and ext.DeviceStatus & R.ERROR == 0, "the transfer failed")
  ext.Transfers[ext.MajorFunction] = ext.Transfers[ext.MajorFunction] + 1
  ext.CurrentVa = ext.CurrentVa + ext.TransferLength
  ext.DeviceOffset = ext.DeviceOffset + ext.TransferLength
  ext.BytesLeft = ext.BytesLeft - ext.TransferLength
  Irp.IoStatus.Information = Irp.IoStatus.Information + ext.TransferLength
  if ext.BytesLeft > 0 then
    StartTransfer(DeviceObject, Irp)
  else
    CompleteIrp(DeviceObject, Irp)
  end
end

-- DriverEntry: reads and writes (direct I/O) are pended and queued for
-- StartIo by IoMarkIrpPending + IoStartPacket (hw.wdm.DispatchReadWrite).
local function DriverEntry(DriverObject)
  DriverObject.MajorFunction[IRP_MJ_READ] = hw.wdm.DispatchReadWrite
  DriverObject.MajorFunction[IRP_MJ_WRITE] = hw.wdm.DispatchReadWrite
  DriverObject.DriverStartIo = StartIo
  return STATUS_SUCCESS
end

-- AddDevice and start: get the adapter (NumberOfMapRegisters is what we must
-- live with), map the registers, connect the interrupt.
local function AddDevice(DriverObject, DeviceObject, resources)
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  local DeviceDescription = {
    Version = DEVICE_DESCRIPTION_VERSION2,
    Master = TRUE,
    ScatterGather = FALSE,
    Dma32BitAddresses = TRUE,
    InterfaceType = PCIBus,
    MaximumLength = 64 * 1024,
  }
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, DeviceDescription)
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  ext.Transfers = { [IRP_MJ_WRITE] = 0, [IRP_MJ_READ] = 0 }
  print(("IoGetDmaAdapter: %s, NumberOfMapRegisters = %d (MaximumLength %d -> "
         .. "BYTES_TO_PAGES + 1 = %d, capped)"):format(tostring(ext.Adapter), ext.NumberOfMapRegisters,
         DeviceDescription.MaximumLength, BYTES_TO_PAGES(DeviceDescription.MaximumLength) + 1))
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  plumbing.wdm_connect_interrupt(DeviceObject, resources, Isr, DpcForIsr)
  return STATUS_SUCCESS
end

-- Stop: disconnect, release the adapter and the registers.
local RemoveDevice = plumbing.wdm_remove_device

-- ---- the scenario: the I/O manager's part --------------------------------------
local DriverObject = dma.driver { name = "\\Driver\\pkt" }
assert(DriverEntry(DriverObject) == STATUS_SUCCESS)
assert(AddDevice(DriverObject, device.device, device.resources) == STATUS_SUCCESS)
local ext = device.device.DeviceExtension

local pattern = dma.pattern(LENGTH, 2)
buffer:write(0, pattern)
print(("buffer: %d bytes at %s (byte offset 0x%x), spans %d pages"):format(LENGTH,
  dma.hex(buffer.va), OFFSET, ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer.va, LENGTH)))

-- Sends a request for the whole buffer at medium offset 0 and runs the
-- machine until it is done; returns the completed IRP.
local function Transfer(MajorFunction)
  local Irp = m:irp { major = MajorFunction, buffer = buffer, device_offset = 0 }
  assert(IoCallDriver(device.device, Irp) == STATUS_PENDING)
  m:run()
  assert(Irp.done and Irp.IoStatus.Status == STATUS_SUCCESS and Irp.IoStatus.Information == LENGTH)
  return Irp
end

-- IRP_MJ_WRITE: buffer -> device
local write = Transfer(IRP_MJ_WRITE)
assert(device:medium_read(0, LENGTH) == pattern, "the device did not store the buffer's bytes")
print(("IRP_MJ_WRITE: %d transfers, %d bytes, the medium holds the pattern, done at %d ns"):format(
  ext.Transfers[IRP_MJ_WRITE], write.IoStatus.Information, write.completed_at))

-- IRP_MJ_READ: device -> a cleared buffer
buffer:fill(0)
assert(not buffer:compare(0, pattern))
local read = Transfer(IRP_MJ_READ)
local same, at = buffer:compare(0, pattern)
assert(same, ("byte %s differs after the read"):format(tostring(at)))
print(("IRP_MJ_READ: %d transfers, %d bytes, the buffer holds the pattern, done at %d ns"):format(
  ext.Transfers[IRP_MJ_READ], read.IoStatus.Information, read.completed_at))

local per_irp = 0
do  -- what splitting must give: ceil over the span, NumberOfMapRegisters pages a transfer
  local left, va = LENGTH, buffer.va
  while left > 0 do
    local n = math.min(left, ext.MapRegistersNeeded * PAGE_SIZE - BYTE_OFFSET(va))
    va, left, per_irp = va + n, left - n, per_irp + 1
  end
end
local rs = m:run_stats()  -- both IRPs went through IoCallDriver, StartIo, the ISR and DpcForIsr
assert(rs.requests == 2 and rs.interrupts == 2 * per_irp and rs.dpcs == 2 * per_irp)
assert(ext.Transfers[IRP_MJ_WRITE] == per_irp and ext.Transfers[IRP_MJ_READ] == per_irp)
local st = ext.Adapter:stats()
assert(st.map_transfers == 2 * per_irp and st.flushes == 2 * per_irp)
assert(st.map_registers_held == 0 and st.map_registers_high_water == ext.NumberOfMapRegisters)
assert(st.bytes_bounced == 2 * LENGTH, "RAM above 4 GiB: a 32-bit device needs every byte bounced")

print(("transfers: %d write, %d read (%d pages spanned, %d map registers per transfer)"):format(
  ext.Transfers[IRP_MJ_WRITE], ext.Transfers[IRP_MJ_READ], ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer.va, LENGTH),
  ext.NumberOfMapRegisters))
print(("map registers used: %d (high water) of %d"):format(st.map_registers_high_water,
  ext.NumberOfMapRegisters))
print(("bytes bounced: %d (mapped %d)"):format(st.bytes_bounced, st.bytes_mapped))
print(("simulated time: %d ns"):format(m.now))
print(("all %d bytes match (write and read)"):format(LENGTH))
print(("I/O: %d IRPs through IoCallDriver and StartIo, %d interrupts, %d DpcForIsr runs"):format(
  rs.requests, rs.interrupts, rs.dpcs))

-- ---- unload ------------------------------------------------------------------
RemoveDevice(device.device, device.resources)
buffer:free()
-- nothing may be left: no channel, no map registers, no unflushed transfer
-- (dmalab checks again after the script, so the machine stays open)
plumbing.check_leaks(m)
