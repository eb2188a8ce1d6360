-- 002_packet_bus_master.lua: seed 002, "Using packet-based bus-master DMA"
-- (WDM). A driver for a bus-master device that has no scatter/gather and
-- reaches only 32 bits, on a machine whose RAM is all above 4 GiB (but the
-- 256 KiB at 1 MiB the map registers take), moves a 200 KiB buffer to the
-- device (IRP_MJ_WRITE) and back (IRP_MJ_READ), calling the support routines
-- in the order the page gives:
--   KeFlushIoBuffers         just before asking for map registers
--   AllocateAdapterChannel   at DISPATCH_LEVEL; AdapterControl returns
--                            DeallocateObjectKeepRegisters
--   MmGetMdlVirtualAddress   the index into the MDL for MapTransfer
--   MapTransfer              once per transfer (no scatter/gather)
--   FlushAdapterBuffers      at the end of each transfer
--   FreeMapRegisters         as soon as all DMA for the IRP is done
-- The request is split as seed 004 and reference 1.4 say: each transfer spans
-- at most NumberOfMapRegisters pages, then CurrentVa += Length.
-- The device is a small Lua model: programmed with (logical address, length,
-- direction), it moves the bytes after a delay (m:after) and interrupts; the
-- interrupt stands in for ISR + DpcForIsr and runs the DPC at DISPATCH_LEVEL.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local IRP_MJ_READ, IRP_MJ_WRITE = 0x03, 0x04  -- wdm.h

local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 2, alloc = "scattered" }
print(m)

-- ---- the hardware ------------------------------------------------------------
-- A packet device: one DMA at a time to or from one contiguous logical range.
-- Its "medium" is what it stores, kept as a Lua string.
local SETUP_NS, NS_PER_BYTE = 2000, 1  -- 2 us to start, then about 1 GB/s

local Hardware = { name = "pkt0", medium = "", busy = false }

-- Programs one DMA: offset is the position on the medium.
function Hardware:program(logical, length, write_to_device, offset, interrupt)
  assert(not self.busy, "device programmed while busy")
  self.busy = true
  m:after(SETUP_NS + NS_PER_BYTE * length, function()
    if write_to_device then  -- memory -> device
      local bytes = assert(m:device_read(logical, length, self.name))
      self.medium = self.medium:sub(1, offset) .. bytes .. self.medium:sub(offset + length + 1)
    else                     -- device -> memory
      assert(#self.medium >= offset + length, "read past the end of the medium")
      assert(m:device_write(logical, self.medium:sub(offset + 1, offset + length), self.name))
    end
    self.busy = false
    interrupt()
  end)
end

-- ---- the driver ----------------------------------------------------------------
local DeviceObject = m:device { name = Hardware.name }
local DeviceExtension = {}   -- DeviceObject->DeviceExtension
local StartTransfer, DpcForIsr

-- AddDevice: get the adapter; NumberOfMapRegisters is what we must live with.
local function AddDevice()
  local DeviceDescription = {
    Version = DEVICE_DESCRIPTION_VERSION2,
    Master = TRUE,
    ScatterGather = FALSE,
    Dma32BitAddresses = TRUE,
    InterfaceType = PCIBus,
    MaximumLength = 64 * 1024,
  }
  local adapter, NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, DeviceDescription)
  assert(adapter, "IoGetDmaAdapter failed")
  DeviceExtension.DmaAdapter = adapter
  DeviceExtension.NumberOfMapRegisters = NumberOfMapRegisters
  DeviceExtension.Transfers = { [IRP_MJ_WRITE] = 0, [IRP_MJ_READ] = 0 }
  print(("IoGetDmaAdapter: %s, NumberOfMapRegisters = %d (MaximumLength %d -> "
         .. "BYTES_TO_PAGES + 1 = %d, capped)"):format(tostring(adapter), NumberOfMapRegisters,
         DeviceDescription.MaximumLength, BYTES_TO_PAGES(DeviceDescription.MaximumLength) + 1))
end

-- The ISR and DPC stand-in: the device interrupted; the DPC runs at
-- DISPATCH_LEVEL.
local function Isr(Irp)
  local OldIrql = KeRaiseIrql(DISPATCH_LEVEL)
  DpcForIsr(DeviceObject, Irp)
  KeLowerIrql(OldIrql)
end

-- AdapterControl (DRIVER_CONTROL): the map registers are ours. Runs at
-- DISPATCH_LEVEL; the IRP comes through Context (dmalab has no IRP model).
local function AdapterControl(_, _, MapRegisterBase, Context)
  local Irp = Context
  local ext = DeviceExtension
  assert(KeGetCurrentIrql() == DISPATCH_LEVEL)
  ext.MapRegisterBase = MapRegisterBase
  ext.CurrentVa = MmGetMdlVirtualAddress(Irp.MdlAddress)  -- an index into the MDL
  ext.BytesLeft = MmGetMdlByteCount(Irp.MdlAddress)
  ext.DeviceOffset = Irp.ByteOffset
  StartTransfer(Irp)
  return DeallocateObjectKeepRegisters  -- free the channel, keep the registers
end

-- Maps the next piece and programs the device with its logical address.
StartTransfer = function(Irp)
  local ext = DeviceExtension
  local adapter = ext.DmaAdapter
  -- as many bytes as the registers we hold can map from CurrentVa
  local Length = math.min(ext.BytesLeft, ext.MapRegistersNeeded * PAGE_SIZE - BYTE_OFFSET(ext.CurrentVa))
  assert(ADDRESS_AND_SIZE_TO_SPAN_PAGES(ext.CurrentVa, Length) <= ext.MapRegistersNeeded)
  local LogicalAddress, Mapped = adapter.DmaOperations.MapTransfer(adapter, Irp.MdlAddress,
    ext.MapRegisterBase, ext.CurrentVa, Length, ext.WriteToDevice)
  assert(Mapped == Length, "a packet adapter maps the whole length")
  ext.TransferLength = Mapped
  print(("  %s transfer %d: CurrentVa %s Length %6d spans %2d pages -> logical %s"):format(
    Irp.MajorFunction == IRP_MJ_WRITE and "write" or "read ", ext.Transfers[Irp.MajorFunction] + 1,
    dma.hex(ext.CurrentVa), Mapped, ADDRESS_AND_SIZE_TO_SPAN_PAGES(ext.CurrentVa, Mapped),
    dma.hex(LogicalAddress)))
  Hardware:program(LogicalAddress, Mapped, ext.WriteToDevice, ext.DeviceOffset,
                   function() Isr(Irp) end)
end

-- DpcForIsr: one transfer ended; flush, then map the next piece or, when the
-- IRP is done, free the map registers and complete it.
DpcForIsr = function(_, Irp)
  local ext = DeviceExtension
  local adapter = ext.DmaAdapter
  local flushed = adapter.DmaOperations.FlushAdapterBuffers(adapter, Irp.MdlAddress,
    ext.MapRegisterBase, ext.CurrentVa, ext.TransferLength, ext.WriteToDevice)
  assert(flushed, "FlushAdapterBuffers: not all data was transferred")
  ext.Transfers[Irp.MajorFunction] = ext.Transfers[Irp.MajorFunction] + 1
  ext.CurrentVa = ext.CurrentVa + ext.TransferLength
  ext.DeviceOffset = ext.DeviceOffset + ext.TransferLength
  ext.BytesLeft = ext.BytesLeft - ext.TransferLength
  Irp.IoStatus.Information = Irp.IoStatus.Information + ext.TransferLength
  if ext.BytesLeft > 0 then
    StartTransfer(Irp)
    return
  end
  adapter.DmaOperations.FreeMapRegisters(adapter, ext.MapRegisterBase, ext.MapRegistersNeeded)
  ext.MapRegisterBase = nil
  Irp.IoStatus.Status = STATUS_SUCCESS
  Irp.Complete(Irp)  -- IoCompleteRequest
end

-- The dispatch routine for IRP_MJ_READ and IRP_MJ_WRITE (direct I/O).
local function DispatchReadWrite(_, Irp)
  local ext = DeviceExtension
  local Mdl = Irp.MdlAddress
  local va, n = MmGetMdlVirtualAddress(Mdl), MmGetMdlByteCount(Mdl)
  ext.WriteToDevice = Irp.MajorFunction == IRP_MJ_WRITE
  ext.MapRegistersNeeded = math.min(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, n), ext.NumberOfMapRegisters)
  -- cache coherency: just before asking for the map registers
  KeFlushIoBuffers(Mdl, not ext.WriteToDevice, TRUE)
  local OldIrql = KeRaiseIrql(DISPATCH_LEVEL)
  local adapter = ext.DmaAdapter
  local status = adapter.DmaOperations.AllocateAdapterChannel(adapter, DeviceObject,
    ext.MapRegistersNeeded, AdapterControl, Irp)
  KeLowerIrql(OldIrql)
  assert(NT_SUCCESS(status), "AllocateAdapterChannel failed")
  return STATUS_PENDING
end

-- ---- the I/O manager's part: IRPs with locked MDLs ---------------------------
local function SendIrp(MajorFunction, buffer, ByteOffset)
  local Mdl = IoAllocateMdl(buffer.va, buffer.length)
  MmProbeAndLockPages(Mdl, KernelMode, MajorFunction == IRP_MJ_WRITE and IoReadAccess or IoWriteAccess)
  local Irp = { MajorFunction = MajorFunction, MdlAddress = Mdl, ByteOffset = ByteOffset,
                IoStatus = { Status = STATUS_PENDING, Information = 0 } }
  Irp.Complete = function(done)
    MmUnlockPages(done.MdlAddress)
    IoFreeMdl(done.MdlAddress)
    done.MdlAddress = nil
    done.Completed = m.now
  end
  assert(DispatchReadWrite(DeviceObject, Irp) == STATUS_PENDING)
  return Irp
end

-- ---- the scenario --------------------------------------------------------------
AddDevice()
local adapter = DeviceExtension.DmaAdapter

local LENGTH, OFFSET = 200 * 1024, 0x234
local buffer = m:buffer(LENGTH, { offset = OFFSET })
local pattern = dma.pattern(LENGTH, 2)
buffer:write(0, pattern)
print(("buffer: %d bytes at %s (byte offset 0x%x), spans %d pages"):format(LENGTH,
  dma.hex(buffer.va), OFFSET, ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer.va, LENGTH)))

-- IRP_MJ_WRITE: buffer -> device
local write = SendIrp(IRP_MJ_WRITE, buffer, 0)
m:run()
assert(write.IoStatus.Status == STATUS_SUCCESS and write.IoStatus.Information == LENGTH)
assert(Hardware.medium == pattern, "the device did not store the buffer's bytes")
print(("IRP_MJ_WRITE: %d transfers, %d bytes, the medium holds the pattern, done at %d ns"):format(
  DeviceExtension.Transfers[IRP_MJ_WRITE], write.IoStatus.Information, write.Completed))

-- IRP_MJ_READ: device -> a cleared buffer
buffer:fill(0)
assert(not buffer:compare(0, pattern))
local read = SendIrp(IRP_MJ_READ, buffer, 0)
m:run()
assert(read.IoStatus.Status == STATUS_SUCCESS and read.IoStatus.Information == LENGTH)
local same, at = buffer:compare(0, pattern)
assert(same, ("byte %s differs after the read"):format(tostring(at)))
print(("IRP_MJ_READ: %d transfers, %d bytes, the buffer holds the pattern, done at %d ns"):format(
  DeviceExtension.Transfers[IRP_MJ_READ], read.IoStatus.Information, read.Completed))

local st = adapter:stats()
local spans = ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer.va, LENGTH)
local per_irp = 0
do  -- what splitting must give: ceil over the span, NumberOfMapRegisters pages a transfer
  local left, va = LENGTH, buffer.va
  while left > 0 do
    local n = math.min(left, DeviceExtension.MapRegistersNeeded * PAGE_SIZE - BYTE_OFFSET(va))
    va, left, per_irp = va + n, left - n, per_irp + 1
  end
end
assert(DeviceExtension.Transfers[IRP_MJ_WRITE] == per_irp)
assert(DeviceExtension.Transfers[IRP_MJ_READ] == per_irp)
assert(st.map_transfers == 2 * per_irp and st.flushes == 2 * per_irp)
assert(st.map_registers_held == 0 and st.map_registers_high_water == DeviceExtension.NumberOfMapRegisters)
assert(st.bytes_bounced == 2 * LENGTH, "RAM above 4 GiB: a 32-bit device needs every byte bounced")

print(("transfers: %d write, %d read (%d pages spanned, %d map registers per transfer)"):format(
  DeviceExtension.Transfers[IRP_MJ_WRITE], DeviceExtension.Transfers[IRP_MJ_READ], spans,
  DeviceExtension.NumberOfMapRegisters))
print(("map registers used: %d (high water) of %d"):format(st.map_registers_high_water,
  DeviceExtension.NumberOfMapRegisters))
print(("bytes bounced: %d (mapped %d)"):format(st.bytes_bounced, st.bytes_mapped))
print(("simulated time: %d ns"):format(m.now))
print(("all %d bytes match (write and read)"):format(LENGTH))

-- ---- unload ------------------------------------------------------------------
adapter.DmaOperations.PutDmaAdapter(adapter)
buffer:free()
-- nothing may be left: no channel, no map registers, no unflushed transfer
-- (dmalab checks again after the script, so the machine stays open)
local leaks = m:check_leaks()
assert(#leaks == 0, leaks[1] and leaks[1].message)
