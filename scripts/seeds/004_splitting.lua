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
-- dma.split_transfer computes the transfers; a WDM driver (the sequence of seed
-- 002) performs them with AllocateAdapterChannel / MapTransfer /
-- FlushAdapterBuffers / FreeMapRegisters on a small Lua device model, and every
-- byte is checked.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local IRP_MJ_READ, IRP_MJ_WRITE = 0x03, 0x04  -- wdm.h
local SECTOR, AT_MAX_SECTORS = 512, 256

local m = dma.machine { ram = "8G", seed = 4, alloc = "scattered" }
print(m)

-- ---- a device model ------------------------------------------------------------
-- Programmed with a list of {logical, length} elements (one for a packet
-- device), it moves the bytes after a delay and interrupts. Its medium is a
-- Lua string.
local function Hardware(name)
  local hw = { name = name, medium = "" }
  function hw:program(elements, write_to_device, offset, interrupt)
    local total = 0
    for _, e in ipairs(elements) do total = total + e.length end
    m:after(2000 + total, function()  -- 2 us to start, then about 1 GB/s
      local at = offset
      for _, e in ipairs(elements) do
        if write_to_device then
          local bytes = assert(m:device_read(e.logical, e.length, self.name))
          self.medium = self.medium:sub(1, at) .. bytes .. self.medium:sub(at + e.length + 1)
        else
          assert(#self.medium >= at + e.length, "read past the end of the medium")
          assert(m:device_write(e.logical, self.medium:sub(at + 1, at + e.length), self.name))
        end
        at = at + e.length
      end
      interrupt()
    end)
  end
  return hw
end

-- ---- a WDM driver ------------------------------------------------------------------
-- Seed 002's sequence; the transfers of an IRP are those dma.split_transfer
-- gives for NumberOfMapRegisters and the device's limits (max_bytes).
local function Driver(name, DeviceDescription, limits)
  local DeviceObject = m:device { name = name }
  local adapter, NumberOfMapRegisters = IoGetDmaAdapter(DeviceObject, DeviceDescription)
  assert(adapter, "IoGetDmaAdapter failed")
  local ext = { DeviceObject = DeviceObject, DmaAdapter = adapter, Hardware = Hardware(name),
                NumberOfMapRegisters = NumberOfMapRegisters, limits = limits or {} }
  local ops = adapter.DmaOperations

  -- Maps transfer ext.Index: once for a packet adapter; for a scatter/gather
  -- one, MapTransfer returns one physical run at a time, so call it until the
  -- transfer is covered.
  local function StartTransfer(Irp)
    local t = ext.Pieces[ext.Index]
    local elements, va, left = {}, t.va, t.length
    while left > 0 do
      local logical, length = ops.MapTransfer(adapter, Irp.MdlAddress, ext.MapRegisterBase, va, left,
                                              ext.WriteToDevice)
      elements[#elements + 1] = { logical = logical, length = length }
      va, left = va + length, left - length
    end
    Irp.Transfers[#Irp.Transfers + 1] = { va = t.va, length = t.length, elements = #elements,
      map_registers = ADDRESS_AND_SIZE_TO_SPAN_PAGES(t.va, t.length) }
    ext.Hardware:program(elements, ext.WriteToDevice, Irp.ByteOffset + (t.va - ext.StartVa), function()
      local OldIrql = KeRaiseIrql(DISPATCH_LEVEL)  -- ISR -> DpcForIsr
      ext.DpcForIsr(Irp)
      KeLowerIrql(OldIrql)
    end)
  end

  local function AdapterControl(_, _, MapRegisterBase, Irp)
    ext.MapRegisterBase = MapRegisterBase
    ext.Index = 1
    StartTransfer(Irp)
    return DeallocateObjectKeepRegisters
  end

  function ext.DpcForIsr(Irp)
    local t = ext.Pieces[ext.Index]
    assert(ops.FlushAdapterBuffers(adapter, Irp.MdlAddress, ext.MapRegisterBase, t.va, t.length,
                                   ext.WriteToDevice), "FlushAdapterBuffers failed")
    Irp.IoStatus.Information = Irp.IoStatus.Information + t.length
    if ext.Index < #ext.Pieces then
      ext.Index = ext.Index + 1
      StartTransfer(Irp)
      return
    end
    ops.FreeMapRegisters(adapter, ext.MapRegisterBase, ext.MapRegistersNeeded)
    ext.MapRegisterBase = nil
    Irp.IoStatus.Status = STATUS_SUCCESS
    Irp.Complete(Irp)  -- IoCompleteRequest
  end

  -- IRP_MJ_READ / IRP_MJ_WRITE: split, then the seed 002 sequence.
  function ext.DispatchReadWrite(Irp)
    local Mdl = Irp.MdlAddress
    ext.StartVa = MmGetMdlVirtualAddress(Mdl)  -- an index into the MDL, not an address to use
    ext.WriteToDevice = Irp.MajorFunction == IRP_MJ_WRITE
    ext.Pieces = dma.split_transfer(Mdl, ext.NumberOfMapRegisters, ext.limits)
    ext.MapRegistersNeeded = 0
    for _, t in ipairs(ext.Pieces) do
      assert(ADDRESS_AND_SIZE_TO_SPAN_PAGES(t.va, t.length) == t.map_registers)
      assert(t.map_registers <= ext.NumberOfMapRegisters)
      ext.MapRegistersNeeded = math.max(ext.MapRegistersNeeded, t.map_registers)
    end
    Irp.Transfers = {}
    KeFlushIoBuffers(Mdl, not ext.WriteToDevice, TRUE)
    local OldIrql = KeRaiseIrql(DISPATCH_LEVEL)
    local status = ops.AllocateAdapterChannel(adapter, ext.DeviceObject, ext.MapRegistersNeeded,
                                              AdapterControl, Irp)
    KeLowerIrql(OldIrql)
    assert(NT_SUCCESS(status), "AllocateAdapterChannel failed")
    return STATUS_PENDING
  end

  function ext.Unload()
    ops.PutDmaAdapter(adapter)
  end
  return ext
end

-- An IRP for an MDL; `done(Irp)` runs when it completes.
local function NewIrp(MajorFunction, Mdl, ByteOffset, done)
  return { MajorFunction = MajorFunction, MdlAddress = Mdl, ByteOffset = ByteOffset,
           IoStatus = { Status = STATUS_PENDING, Information = 0 }, Complete = done or function() end }
end

local function show(t, i)
  print(("    %d: CurrentVa %s  Length %7d  map registers %3d  elements %2d"):format(
    i, dma.hex(t.va), t.length, t.map_registers, t.elements))
end

-- Runs one IRP to completion; returns the transfers performed.
local function Transfer(driver, MajorFunction, Mdl, ByteOffset)
  local Irp = NewIrp(MajorFunction, Mdl, ByteOffset)
  assert(driver.DispatchReadWrite(Irp) == STATUS_PENDING)
  m:run()
  assert(Irp.IoStatus.Status == STATUS_SUCCESS)
  assert(Irp.IoStatus.Information == MmGetMdlByteCount(Mdl))
  for i, t in ipairs(Irp.Transfers) do  -- performed as computed
    local c = driver.Pieces[i]
    assert(c.va == t.va and c.length == t.length and c.map_registers == t.map_registers)
  end
  return Irp.Transfers
end

-- ---- Part 1: 12 map registers needed, 5 available -------------------------------
print("Part 1: 12 map registers needed, NumberOfMapRegisters 5, no device limit")
local pkt = Driver("pkt0", { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = FALSE,
                             Dma32BitAddresses = TRUE, InterfaceType = PCIBus,
                             MaximumLength = 4 * PAGE_SIZE })
print(("  IoGetDmaAdapter: %s, MaximumLength %d -> NumberOfMapRegisters %d"):format(
  tostring(pkt.DmaAdapter), 4 * PAGE_SIZE, pkt.NumberOfMapRegisters))
assert(pkt.NumberOfMapRegisters == 5)

local b1 = m:buffer(11 * PAGE_SIZE, { offset = 0x100 })
local p1 = dma.pattern(b1.length, 4)
b1:write(0, p1)
local mdl1 = IoAllocateMdl(b1.va, b1.length)
MmBuildMdlForNonPagedPool(mdl1)
local va1, n1 = MmGetMdlVirtualAddress(mdl1), MmGetMdlByteCount(mdl1)
local span1 = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va1, n1)
print(("  buffer %d bytes at %s: ADDRESS_AND_SIZE_TO_SPAN_PAGES = %d > %d"):format(n1, dma.hex(va1),
  span1, pkt.NumberOfMapRegisters))
assert(span1 == 12)

local pieces1 = dma.split_transfer(mdl1, pkt.NumberOfMapRegisters)
print(("  dma.split_transfer: %d transfers"):format(#pieces1))
for i, t in ipairs(pieces1) do show(t, i) end
assert(#pieces1 == 3)

local w1 = Transfer(pkt, IRP_MJ_WRITE, mdl1, 0)
assert(pkt.Hardware.medium == p1, "the device did not store the buffer's bytes")
b1:fill(0)
local r1 = Transfer(pkt, IRP_MJ_READ, mdl1, 0)
assert(b1:compare(0, p1), "the buffer does not hold the pattern after the read")
assert(#w1 == 3 and #r1 == 3)
local st1 = pkt.DmaAdapter:stats()
assert(st1.map_transfers == 6 and st1.flushes == 6 and st1.map_registers_high_water == 5)
print(("  performed: write 3 transfers, read 3 transfers (MapTransfer %d, FlushAdapterBuffers %d, "
       .. "map registers high water %d); all %d bytes match"):format(st1.map_transfers, st1.flushes,
       st1.map_registers_high_water, n1))
IoFreeMdl(mdl1)
b1:free()
pkt.Unload()

-- ---- Part 2: the "AT" disk: at most 256 sectors a transfer ------------------------
print(("Part 2: the AT disk limit, %d sectors of %d bytes = %d bytes a transfer"):format(
  AT_MAX_SECTORS, SECTOR, AT_MAX_SECTORS * SECTOR))
local REQUEST = 1024 * 1024
local AT_LIMITS = { max_bytes = AT_MAX_SECTORS * SECTOR, alignment = SECTOR }
local disk = Driver("atdisk0", { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, ScatterGather = TRUE,
                                 Dma64BitAddresses = TRUE, InterfaceType = PCIBus,
                                 MaximumLength = REQUEST }, AT_LIMITS)
print(("  IoGetDmaAdapter: %s, NumberOfMapRegisters %d (64-bit scatter/gather: none used)"):format(
  tostring(disk.DmaAdapter), disk.NumberOfMapRegisters))

local b2 = m:buffer(REQUEST, { offset = 0x200 })  -- sector-aligned, not page-aligned
local p2 = dma.pattern(REQUEST, 44)
b2:write(0, p2)
local mdl2 = IoAllocateMdl(b2.va, b2.length)
MmProbeAndLockPages(mdl2, KernelMode, IoReadAccess)
local va2, n2 = MmGetMdlVirtualAddress(mdl2), MmGetMdlByteCount(mdl2)
local span2 = ADDRESS_AND_SIZE_TO_SPAN_PAGES(va2, n2)
assert(span2 <= disk.NumberOfMapRegisters)
local whole = dma.split_transfer(mdl2, disk.NumberOfMapRegisters)
print(("  %d bytes at %s spans %d pages: map registers alone allow %d transfer"):format(n2, dma.hex(va2),
  span2, #whole))
assert(#whole == 1)
local pieces2 = dma.split_transfer(mdl2, disk.NumberOfMapRegisters, AT_LIMITS)
print(("  dma.split_transfer with max_bytes = %d: %d transfers"):format(AT_LIMITS.max_bytes, #pieces2))
for i, t in ipairs(pieces2) do show(t, i) end
assert(#pieces2 == REQUEST // (AT_MAX_SECTORS * SECTOR) and #pieces2 == 8)

local w2 = Transfer(disk, IRP_MJ_WRITE, mdl2, 0)
assert(#w2 == 8)
for i, t in ipairs(w2) do assert(t.elements == pieces2[i].elements) end
assert(disk.Hardware.medium == p2, "the disk did not store the request's bytes")
MmUnlockPages(mdl2)
IoFreeMdl(mdl2)
local elements2 = 0
for _, t in ipairs(w2) do elements2 = elements2 + t.elements end
assert(disk.DmaAdapter:stats().map_transfers == elements2)  -- one MapTransfer per element
print(("  performed: write 8 transfers (MapTransfer %d times, once per scatter/gather element); "
       .. "all %d bytes match"):format(elements2, REQUEST))

-- ---- Part 3: partial-transfer IRPs with IoBuildPartialMdl ---------------------------
print("Part 3: a higher-level driver reads it back in partial-transfer IRPs (IoBuildPartialMdl)")
b2:fill(0)
local src = IoAllocateMdl(b2.va, b2.length)
MmProbeAndLockPages(src, KernelMode, IoWriteAccess)
local srcVa, srcLen = MmGetMdlVirtualAddress(src), MmGetMdlByteCount(src)
local PIECE = AT_MAX_SECTORS * SECTOR
local partial = IoAllocateMdl(srcVa, PIECE)  -- big enough for any piece at this byte offset
local partials, offset = 0, 0

local SendNextPartial
local function PartialComplete(Irp)  -- IoCompletion, at DISPATCH_LEVEL
  assert(Irp.IoStatus.Status == STATUS_SUCCESS and #Irp.Transfers == 1)
  partials = partials + 1
  offset = offset + Irp.IoStatus.Information
  print(("    partial IRP %d: MDL %s  Length %d  -> 1 transfer, %d elements"):format(partials,
    dma.hex(MmGetMdlVirtualAddress(partial)), MmGetMdlByteCount(partial), Irp.Transfers[1].elements))
  MmPrepareMdlForReuse(partial)
  if offset < srcLen then m:after(0, SendNextPartial) end  -- next one from a work item
end
SendNextPartial = function()  -- at PASSIVE_LEVEL
  local length = math.min(PIECE, srcLen - offset)
  IoBuildPartialMdl(src, partial, srcVa + offset, length)
  local Irp = NewIrp(IRP_MJ_READ, partial, offset, PartialComplete)
  assert(disk.DispatchReadWrite(Irp) == STATUS_PENDING)
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
disk.Unload()

print(("simulated time: %d ns"):format(m.now))
local leaks = m:check_leaks()
assert(#leaks == 0, leaks[1] and leaks[1].message)
