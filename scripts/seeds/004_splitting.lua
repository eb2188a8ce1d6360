-- 004_splitting.lua: seed 004, "Splitting DMA transfer requests", with the
-- page's numbers.
--   Part 1: ADDRESS_AND_SIZE_TO_SPAN_PAGES says 12 map registers, IoGetDmaAdapter
--           gave 5, no device limit: three DMA operations, MapTransfer for each.
--   Part 2: the "AT" disk limit, at most 256 sectors (of 512 bytes) a transfer:
--           a 1 MiB request on a device whose map registers do not limit it
--           (64-bit scatter/gather) is eight transfers.
--   Part 3: the same request split by a higher-level driver into partial-transfer
--           IRPs with IoBuildPartialMdl (one partial MDL, MmPrepareMdlForReuse
--           between pieces), each a single transfer for the device's driver.
-- dma.split_transfer computes the transfers; a WDM driver performs them
-- with seed 002's sequence (StartIo: KeFlushIoBuffers,
-- AllocateAdapterChannel; MapTransfer; the ISR's DpcForIsr:
-- FlushAdapterBuffers, the next transfer or FreeMapRegisters and
-- IoCompleteRequest) on a device model written in Lua below, and every byte
-- is checked. The scenario stands for the I/O manager: m:irp builds each
-- request with its locked MDL, IoCallDriver sends it.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local here = (arg and arg[0] or ""):match("^(.*)seeds/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path
local plumbing = require "drivers.plumbing"  -- connecting the interrupt, completion, removal

local SECTOR, AT_MAX_SECTORS = 512, 256

-- No interrupt or DPC latency: the times printed are the device's alone.
local m = dma.machine { ram = "8G", seed = 4, alloc = "scattered", interrupt_latency = 0, dpc_latency = 0 }
print(m)

-- The buffers of the parts, allocated before any driver starts: MmMapIoSpace
-- takes virtual addresses too, and the addresses printed are the buffers'
-- at the start of the address space.
local b1 = m:buffer(11 * PAGE_SIZE, { offset = 0x100 })
local REQUEST = 1024 * 1024
local b2 = m:buffer(REQUEST, { offset = 0x200 })  -- sector-aligned, not page-aligned

-- ---- the hardware: a device model in Lua ------------------------------------------
-- A bus master that takes its scatter/gather list through registers (one
-- element for a packet device): each element's logical address
-- (ELEMENT_LO/HI) and length (ELEMENT_LENGTH, which queues the element),
-- the medium offset (OFFSET_LO/HI), then CONTROL = START [| TO_DEVICE].
-- 2 us + 1 ns a byte later the bytes have moved, STATUS has DONE and the
-- line is up until the driver writes DONE back to STATUS. Its medium is a
-- Lua string.
local REG = { CONTROL = 0x00, STATUS = 0x04, ELEMENT_LO = 0x08, ELEMENT_HI = 0x0C, ELEMENT_LENGTH = 0x10,
              OFFSET_LO = 0x14, OFFSET_HI = 0x18 }
local START, TO_DEVICE, DONE = 0x1, 0x2, 0x1
local SETUP_NS, NS_PER_BYTE = 2000, 1

-- Moves the queued elements between memory and the medium.
local function MoveBytes(dev, to_device)
  local at = dev.regs[REG.OFFSET_LO] | dev.regs[REG.OFFSET_HI] << 32
  for _, e in ipairs(dev.elements) do
    if to_device then
      local bytes = assert(dev.model:dma_read(e.logical, e.length))
      dev.medium = dev.medium:sub(1, at) .. bytes .. dev.medium:sub(at + e.length + 1)
    else
      assert(#dev.medium >= at + e.length, "read past the end of the medium")
      assert(dev.model:dma_write(e.logical, dev.medium:sub(at + 1, at + e.length)))
    end
    at = at + e.length
  end
  dev.elements = {}
end

-- A register write: queue an element, start, acknowledge, or just store.
local function RegisterWrite(dev, offset, value)
  if offset == REG.ELEMENT_LENGTH then
    local logical = dev.regs[REG.ELEMENT_LO] | dev.regs[REG.ELEMENT_HI] << 32
    dev.elements[#dev.elements + 1] = { logical = logical, length = value }
  elseif offset == REG.CONTROL and value & START ~= 0 then
    local total = 0
    for _, e in ipairs(dev.elements) do total = total + e.length end
    m:after(SETUP_NS + NS_PER_BYTE * total, function()
      MoveBytes(dev, value & TO_DEVICE ~= 0)
      dev.regs[REG.STATUS] = DONE
      dev.model:raise_interrupt()
    end)
  elseif offset == REG.STATUS then
    dev.regs[REG.STATUS] = dev.regs[REG.STATUS] & ~value
    if dev.regs[REG.STATUS] & DONE == 0 then dev.model:clear_interrupt() end
  else
    dev.regs[offset] = value
  end
end

-- A device on its own interrupt vector.
local function Device(name, vector)
  local dev = { medium = "", elements = {}, regs = setmetatable({}, { __index = function() return 0 end }) }
  dev.model = m:device_model { name = name, registers = 0x20, vector = vector,
    read = function(_, offset) return dev.regs[offset] end,
    write = function(_, offset, _, value) RegisterWrite(dev, offset, value) end }
  return dev
end

-- ---- the driver: WDM, one DRIVER_OBJECT for both devices ----------------------------
local function reg_read(ext, offset) return READ_REGISTER_ULONG(ext.Registers + offset) end
local function reg_write(ext, offset, value) WRITE_REGISTER_ULONG(ext.Registers + offset, value) end
local function reg_write64(ext, lo, value)  -- a LO/HI pair, LO first
  reg_write(ext, lo, value & 0xFFFFFFFF)
  reg_write(ext, lo + 4, value >> 32)
end

-- Maps transfer ext.Index and starts the device on it: one MapTransfer for
-- a packet adapter; a scatter/gather one returns one physical run at a
-- time, so MapTransfer is called until the transfer is covered, each run
-- one element for the device.
local function StartTransfer(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local t = ext.Pieces[ext.Index]
  local va, left, elements = t.va, t.length, 0
  while left > 0 do
    local logical, length = ext.Adapter:MapTransfer(Irp.MdlAddress, ext.MapRegisterBase, va, left,
                                                    ext.WriteToDevice)
    reg_write64(ext, REG.ELEMENT_LO, logical)
    reg_write(ext, REG.ELEMENT_LENGTH, length)
    va, left, elements = va + length, left - length, elements + 1
  end
  ext.Performed[#ext.Performed + 1] = { va = t.va, length = t.length, elements = elements,
    map_registers = ADDRESS_AND_SIZE_TO_SPAN_PAGES(t.va, t.length) }
  reg_write64(ext, REG.OFFSET_LO, ext.DeviceOffset + (t.va - ext.StartVa))
  reg_write(ext, REG.CONTROL, ext.WriteToDevice and START | TO_DEVICE or START)
end

-- AdapterControl: the registers for the largest transfer are ours.
local function AdapterControl(DeviceObject, Irp, MapRegisterBase, _)
  local ext = DeviceObject.DeviceExtension
  ext.MapRegisterBase = MapRegisterBase
  ext.Index = 1
  StartTransfer(DeviceObject, Irp)
  return DeallocateObjectKeepRegisters
end

-- The map registers the largest of the transfers spans.
local function MapRegistersNeeded(ext)
  local needed = 0
  for _, t in ipairs(ext.Pieces) do
    assert(ADDRESS_AND_SIZE_TO_SPAN_PAGES(t.va, t.length) == t.map_registers)
    assert(t.map_registers <= ext.NumberOfMapRegisters)
    needed = math.max(needed, t.map_registers)
  end
  return needed
end

-- StartIo (DISPATCH_LEVEL): split the request into the transfers
-- dma.split_transfer gives for NumberOfMapRegisters and the device's limits
-- (max_bytes), then seed 002's sequence.
local function StartIo(DeviceObject, Irp)
  local ext = DeviceObject.DeviceExtension
  local stack = IoGetCurrentIrpStackLocation(Irp)
  local Mdl = Irp.MdlAddress
  ext.WriteToDevice = stack.MajorFunction == IRP_MJ_WRITE
  ext.DeviceOffset = stack.Parameters.Read.ByteOffset  -- Read and Write share the union
  ext.StartVa = MmGetMdlVirtualAddress(Mdl)  -- an index into the MDL, not an address to use
  ext.Pieces = dma.split_transfer(Mdl, ext.NumberOfMapRegisters, ext.Limits)
  ext.MapRegistersNeeded = MapRegistersNeeded(ext)
  ext.Performed = {}
  KeFlushIoBuffers(Mdl, not ext.WriteToDevice, TRUE)
  local status = ext.Adapter:AllocateAdapterChannel(DeviceObject, ext.MapRegistersNeeded, AdapterControl, Irp)
  assert(NT_SUCCESS(status), "AllocateAdapterChannel failed")
end

-- The ISR: ours? acknowledge, queue DpcForIsr.
local function Isr(_, DeviceObject)
  local ext = DeviceObject.DeviceExtension
  if reg_read(ext, REG.STATUS) & DONE == 0 then return FALSE end
  reg_write(ext, REG.STATUS, DONE)
  IoRequestDpc(DeviceObject, DeviceObject.CurrentIrp, nil)
  return TRUE
end

-- DpcForIsr: the transfer ended; flush, then the next transfer, or free the
-- map registers and complete the IRP.
local function DpcForIsr(_, DeviceObject, Irp, _)
  local ext = DeviceObject.DeviceExtension
  local t = ext.Pieces[ext.Index]
  assert(ext.Adapter:FlushAdapterBuffers(Irp.MdlAddress, ext.MapRegisterBase, t.va, t.length,
                                         ext.WriteToDevice), "FlushAdapterBuffers failed")
  Irp.IoStatus.Information = Irp.IoStatus.Information + t.length
  if ext.Index < #ext.Pieces then
    ext.Index = ext.Index + 1
    return StartTransfer(DeviceObject, Irp)
  end
  ext.Adapter:FreeMapRegisters(ext.MapRegisterBase, ext.MapRegistersNeeded)
  ext.MapRegisterBase = nil
  plumbing.wdm_complete(DeviceObject, Irp, STATUS_SUCCESS, nil, IO_DISK_INCREMENT)
end

-- IRP_MJ_READ / IRP_MJ_WRITE (PASSIVE_LEVEL): a request the device cannot
-- take (the AT disk moves whole sectors: Limits.alignment) fails at once;
-- the others wait for StartIo, one at a time per device.
local function DispatchReadWrite(DeviceObject, Irp)
  local params = IoGetCurrentIrpStackLocation(Irp).Parameters.Read  -- Read and Write share the union
  local unit = DeviceObject.DeviceExtension.Limits.alignment or 1
  if params.Length % unit ~= 0 or params.ByteOffset % unit ~= 0 then
    Irp.IoStatus.Status = STATUS_INVALID_PARAMETER
    IoCompleteRequest(Irp, IO_NO_INCREMENT)
    return STATUS_INVALID_PARAMETER
  end
  IoMarkIrpPending(Irp)
  IoStartPacket(DeviceObject, Irp, nil, nil)
  return STATUS_PENDING
end

-- AddDevice and start: the adapter for options.DeviceDescription, the
-- device's limits (options.Limits), its registers and its interrupt.
local function AddDevice(DriverObject, DeviceObject, resources, options)
  DeviceObject.DriverObject = DriverObject
  local ext = DeviceObject.DeviceExtension
  ext.Adapter, ext.NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, options.DeviceDescription)
  assert(ext.Adapter, "IoGetDmaAdapter failed")
  ext.Limits = options.Limits or {}
  ext.Registers = MmMapIoSpace(resources.memory.start, resources.memory.length, MmNonCached)
  plumbing.wdm_connect_interrupt(DeviceObject, resources, Isr, DpcForIsr)
  return ext
end

-- Stop: disconnect, release the adapter and the registers.
local RemoveDevice = plumbing.wdm_remove_device

local DriverObject = dma.driver { name = "\\Driver\\split", DriverStartIo = StartIo,
  MajorFunction = { [IRP_MJ_READ] = DispatchReadWrite, [IRP_MJ_WRITE] = DispatchReadWrite } }

-- ---- the scenario ----------------------------------------------------------------------
-- A device and the driver started on it.
local function Start(name, vector, DeviceDescription, Limits)
  local dev = Device(name, vector)
  dev.ext = AddDevice(DriverObject, dev.model.device, dev.model.resources,
                      { DeviceDescription = DeviceDescription, Limits = Limits })
  return dev
end

local function Stop(dev) RemoveDevice(dev.model.device, dev.model.resources) end

local function show(t, i)
  print(("    %d: CurrentVa %s  Length %7d  map registers %3d  elements %2d"):format(
    i, dma.hex(t.va), t.length, t.map_registers, t.elements))
end

-- Sends an IRP (IoCallDriver) and runs it to completion; returns the
-- transfers performed, checked against those computed.
local function Transfer(dev, Irp)
  assert(IoCallDriver(dev.model.device, Irp) == STATUS_PENDING)
  m:run()
  assert(Irp.done and Irp.IoStatus.Status == STATUS_SUCCESS and Irp.IoStatus.Information == Irp.length)
  for i, t in ipairs(dev.ext.Performed) do
    local c = dev.ext.Pieces[i]
    assert(c.va == t.va and c.length == t.length and c.map_registers == t.map_registers)
  end
  return dev.ext.Performed
end

-- ---- Part 1: 12 map registers needed, 5 available -------------------------------
print("Part 1: 12 map registers needed, NumberOfMapRegisters 5, no device limit")
local pkt = Start("pkt0", 16, { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = FALSE,
                                Dma32BitAddresses = TRUE, InterfaceType = PCIBus,
                                MaximumLength = 4 * PAGE_SIZE })
print(("  IoGetDmaAdapter: %s, MaximumLength %d -> NumberOfMapRegisters %d"):format(
  tostring(pkt.ext.Adapter), 4 * PAGE_SIZE, pkt.ext.NumberOfMapRegisters))
assert(pkt.ext.NumberOfMapRegisters == 5)

local p1 = dma.pattern(b1.length, 4)
b1:write(0, p1)
local w1irp = m:irp { major = IRP_MJ_WRITE, buffer = b1, device_offset = 0 }
local mdl1 = w1irp.MdlAddress
local va1, n1 = MmGetMdlVirtualAddress(mdl1), MmGetMdlByteCount(mdl1)
local span1 = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va1, n1)
print(("  buffer %d bytes at %s: ADDRESS_AND_SIZE_TO_SPAN_PAGES = %d > %d"):format(n1, dma.hex(va1),
  span1, pkt.ext.NumberOfMapRegisters))
assert(span1 == 12)

local pieces1 = dma.split_transfer(mdl1, pkt.ext.NumberOfMapRegisters)
print(("  dma.split_transfer: %d transfers"):format(#pieces1))
for i, t in ipairs(pieces1) do show(t, i) end
assert(#pieces1 == 3)

local w1 = Transfer(pkt, w1irp)
assert(pkt.medium == p1, "the device did not store the buffer's bytes")
b1:fill(0)
local r1 = Transfer(pkt, m:irp { major = IRP_MJ_READ, buffer = b1, device_offset = 0 })
assert(b1:compare(0, p1), "the buffer does not hold the pattern after the read")
assert(#w1 == 3 and #r1 == 3)
local st1 = pkt.ext.Adapter:stats()
assert(st1.map_transfers == 6 and st1.flushes == 6 and st1.map_registers_high_water == 5)
print(("  performed: write 3 transfers, read 3 transfers (MapTransfer %d, FlushAdapterBuffers %d, "
       .. "map registers high water %d); all %d bytes match"):format(st1.map_transfers, st1.flushes,
       st1.map_registers_high_water, n1))
b1:free()
Stop(pkt)

-- ---- Part 2: the "AT" disk: at most 256 sectors a transfer ------------------------
print(("Part 2: the AT disk limit, %d sectors of %d bytes = %d bytes a transfer"):format(
  AT_MAX_SECTORS, SECTOR, AT_MAX_SECTORS * SECTOR))
local AT_LIMITS = { max_bytes = AT_MAX_SECTORS * SECTOR, alignment = SECTOR }
local disk = Start("atdisk0", 17, { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE,
                                    ScatterGather = TRUE, Dma64BitAddresses = TRUE, InterfaceType = PCIBus,
                                    MaximumLength = REQUEST }, AT_LIMITS)
print(("  IoGetDmaAdapter: %s, NumberOfMapRegisters %d (64-bit scatter/gather: none used)"):format(
  tostring(disk.ext.Adapter), disk.ext.NumberOfMapRegisters))

local p2 = dma.pattern(REQUEST, 44)
b2:write(0, p2)
local w2irp = m:irp { major = IRP_MJ_WRITE, buffer = b2, device_offset = 0 }
local mdl2 = w2irp.MdlAddress
local va2, n2 = MmGetMdlVirtualAddress(mdl2), MmGetMdlByteCount(mdl2)
local span2 = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va2, n2)
assert(span2 <= disk.ext.NumberOfMapRegisters)
local whole = dma.split_transfer(mdl2, disk.ext.NumberOfMapRegisters)
print(("  %d bytes at %s spans %d pages: map registers alone allow %d transfer"):format(n2, dma.hex(va2),
  span2, #whole))
assert(#whole == 1)
local pieces2 = dma.split_transfer(mdl2, disk.ext.NumberOfMapRegisters, AT_LIMITS)
print(("  dma.split_transfer with max_bytes = %d: %d transfers"):format(AT_LIMITS.max_bytes, #pieces2))
for i, t in ipairs(pieces2) do show(t, i) end
assert(#pieces2 == REQUEST // (AT_MAX_SECTORS * SECTOR) and #pieces2 == 8)

-- the disk moves whole sectors: a request for part of one fails in dispatch
local odd = m:irp { major = IRP_MJ_WRITE, buffer = b2, length = SECTOR + 1 }
assert(IoCallDriver(disk.model.device, odd) == STATUS_INVALID_PARAMETER and odd.done)

local w2 = Transfer(disk, w2irp)
assert(#w2 == 8)
for i, t in ipairs(w2) do assert(t.elements == pieces2[i].elements) end
assert(disk.medium == p2, "the disk did not store the request's bytes")
local elements2 = 0
for _, t in ipairs(w2) do elements2 = elements2 + t.elements end
assert(disk.ext.Adapter:stats().map_transfers == elements2)  -- one MapTransfer per element
print(("  performed: write 8 transfers (MapTransfer %d times, once per scatter/gather element); "
       .. "all %d bytes match"):format(elements2, REQUEST))

-- ---- Part 3: partial-transfer IRPs with IoBuildPartialMdl ---------------------------
-- The higher-level driver holds the whole buffer locked (src) and builds
-- each piece's partial MDL from it. The lab's IRPs carry the MDL m:irp
-- builds (there is no IoAllocateIrp to hand a driver-built MDL to), so each
-- partial IRP is built over the piece's range and must describe exactly
-- the pages the partial MDL does.
print("Part 3: a higher-level driver reads it back in partial-transfer IRPs (IoBuildPartialMdl)")
b2:fill(0)
local src = IoAllocateMdl(b2.va, b2.length)
MmProbeAndLockPages(src, KernelMode, IoWriteAccess)
local srcVa, srcLen = MmGetMdlVirtualAddress(src), MmGetMdlByteCount(src)
local PIECE = AT_MAX_SECTORS * SECTOR
local partial = IoAllocateMdl(srcVa, PIECE)  -- big enough for any piece at this byte offset
local partials, offset = 0, 0

-- The partial MDL and the IRP's MDL: the same range, the same pages.
local function SamePages(a, b)
  assert(MmGetMdlVirtualAddress(a) == MmGetMdlVirtualAddress(b))
  assert(MmGetMdlByteCount(a) == MmGetMdlByteCount(b))
  local pa, pb = MmGetMdlPfnArray(a), MmGetMdlPfnArray(b)
  assert(#pa == #pb)
  for i = 1, #pa do assert(pa[i] == pb[i], "the partial MDL and the IRP's MDL differ") end
end

local SendNextPartial
local function PartialComplete(Irp)  -- the IRP's completion routine, at DISPATCH_LEVEL
  local performed = disk.ext.Performed
  assert(Irp.IoStatus.Status == STATUS_SUCCESS and #performed == 1)
  partials = partials + 1
  offset = offset + Irp.IoStatus.Information
  print(("    partial IRP %d: MDL %s  Length %d  -> 1 transfer, %d elements"):format(partials,
    dma.hex(MmGetMdlVirtualAddress(partial)), MmGetMdlByteCount(partial), performed[1].elements))
  MmPrepareMdlForReuse(partial)
  if offset < srcLen then m:after(0, SendNextPartial) end  -- next one from a work item
end
SendNextPartial = function()  -- at PASSIVE_LEVEL
  local length = math.min(PIECE, srcLen - offset)
  IoBuildPartialMdl(src, partial, srcVa + offset, length)
  local Irp = m:irp { major = IRP_MJ_READ, buffer = b2, offset = offset, length = length,
                      device_offset = offset, completion = PartialComplete }
  SamePages(partial, Irp.MdlAddress)
  assert(IoCallDriver(disk.model.device, Irp) == STATUS_PENDING)
end
SendNextPartial()
m:run()
assert(partials == 8 and offset == REQUEST)
local same, at = b2:compare(0, p2)
assert(same, ("byte %s differs after the partial reads"):format(tostring(at)))
print(("  performed: %d partial IRPs of one transfer each; all %d bytes match"):format(partials, REQUEST))
IoFreeMdl(partial)
MmUnlockPages(src)
IoFreeMdl(src)
b2:free()
Stop(disk)

print(("simulated time: %d ns"):format(m.now))
-- Every IRP went through IoCallDriver; all but `odd` through StartIo, the ISR and DpcForIsr.
local rs = m:run_stats()
local started = rs.requests - rs.requests_failed
assert(started == 2 + 1 + partials and rs.requests_failed == 1)
assert(rs.interrupts == #w1 + #r1 + #w2 + partials and rs.dpcs == rs.interrupts)
print(("I/O: %d IRPs through IoCallDriver and StartIo, %d interrupts, %d DpcForIsr runs; "
       .. "%d failed in dispatch"):format(started, rs.interrupts, rs.dpcs, rs.requests_failed))
plumbing.check_leaks(m)
