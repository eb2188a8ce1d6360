-- 001_kmdf_bus_master.lua: seed 001, "Handling I/O requests in a KMDF driver
-- for a bus-master DMA device", its four phases in a framework driver for
-- the built-in bus-master device (scatter/gather, 32-bit addresses) on a
-- machine whose RAM lies below and above 4 GiB:
--   (1) EvtDriverDeviceAdd enables DMA transactions (WdfDmaEnablerCreate,
--       with the DMA-specific power callbacks); EvtDevicePrepareHardware
--       creates the memory device and driver share: a common buffer for
--       the device's descriptor table (WdfCommonBufferCreate; deleted in
--       EvtDeviceReleaseHardware);
--   (2) a request handler (EvtIoWrite / EvtIoRead) initializes the DMA
--       transaction made once in EvtDriverDeviceAdd (reused, so requests
--       keep working under low memory) and executes it; the framework
--       splits it into transfers and calls EvtProgramDma for each;
--   (3) EvtProgramDma programs the device for one transfer (the list into
--       the common buffer, the registers) and enables its interrupt;
--   (4) EvtInterruptIsr saves the volatile device state and queues
--       EvtInterruptDpc, which completes the transfer
--       (WdfDmaTransactionDmaCompleted); after the last one it completes
--       the transaction and the request.
-- A 200 KiB write, then a read back into a cleared buffer; every byte is
-- checked on the medium and in the buffer; nothing leaks.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local R = dma.busmaster_registers
local DESCRIPTOR = 16  -- the device's S/G entry: u64 address, u32 length, u32 reserved

local m = dma.machine { ram = { { 0, "1G" }, { "4G", "4G" } }, seed = 1, alloc = "scattered" }
print(m)
local hw = m:busmaster { name = "bm0", bandwidth = "1G", setup_latency = "2us", max_transfer = "64K",
                         max_sg = 16, address_width = 32, capacity = "16M" }

local function Context(Device) return WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT") end
local function reg_read(ctx, r) return READ_REGISTER_ULONG(ctx.Registers + r) end
local function reg_write(ctx, r, v) WRITE_REGISTER_ULONG(ctx.Registers + r, v) end
local function dir_name(Direction) return Direction == WdfDmaDirectionWriteToDevice and "write" or "read" end

-- ---- phase 3: EvtProgramDma ---------------------------------------------------------
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = Context(Device)
  assert(KeGetCurrentIrql() == DISPATCH_LEVEL)
  local parts, bytes = {}, 0
  for i = 0, SgList.NumberOfElements - 1 do
    local e = SgList.Elements[i]
    parts[#parts + 1] = string.pack("<I8I4I4", e.Address, e.Length, 0)
    bytes = bytes + e.Length
  end
  ctx.Machine:write(ctx.TableVa, table.concat(parts))  -- the list, into the shared common buffer
  local offset = ctx.DeviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Transfers = ctx.Transfers + 1
  print(("  (3) EvtProgramDma: %s transfer %d, %2d S/G elements, %6d bytes at medium offset %d; "
         .. "device started, interrupt enabled"):format(dir_name(Direction), ctx.Transfers,
         SgList.NumberOfElements, bytes, offset))
  local control = R.START | R.IRQ_ENABLE | R.MODE_SG
  if Direction == WdfDmaDirectionWriteToDevice then control = control | R.TO_DEVICE end
  WdfInterruptAcquireLock(ctx.Interrupt)
  reg_write(ctx, R.DESC_LO, ctx.TableLogical & 0xFFFFFFFF)
  reg_write(ctx, R.DESC_HI, ctx.TableLogical >> 32)
  reg_write(ctx, R.DESC_COUNT, SgList.NumberOfElements)
  reg_write(ctx, R.OFFSET_LO, offset & 0xFFFFFFFF)
  reg_write(ctx, R.OFFSET_HI, offset >> 32)
  reg_write(ctx, R.CONTROL, control)
  WdfInterruptReleaseLock(ctx.Interrupt)
  return TRUE
end

-- ---- phase 4: EvtInterruptIsr, EvtInterruptDpc ----------------------------------------
local function EvtInterruptIsr(Interrupt, _)
  local ctx = Context(WdfInterruptGetDevice(Interrupt))
  local status = reg_read(ctx, R.STATUS)
  if status & (R.DONE | R.ERROR) == 0 then return FALSE end
  ctx.DeviceStatus, ctx.BytesDone = status, reg_read(ctx, R.BYTES_DONE)  -- the volatile state
  reg_write(ctx, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  print(("  (4) EvtInterruptIsr at IRQL %d: STATUS 0x%x, %d bytes done; EvtInterruptDpc queued"):format(
    KeGetCurrentIrql(), status, ctx.BytesDone))
  WdfInterruptQueueDpcForIsr(Interrupt)
  return TRUE
end

local function EvtInterruptDpc(_, Device)
  local ctx = Context(Device)
  assert(ctx.DeviceStatus & R.ERROR == 0, "device error")
  local done, status = WdfDmaTransactionDmaCompleted(ctx.Transaction)
  print(("  (4) EvtInterruptDpc: WdfDmaTransactionDmaCompleted -> %s%s"):format(tostring(done),
    done and "" or " (the next transfer was programmed inside it)"))
  if done then
    local request = ctx.Request
    local bytes = WdfDmaTransactionGetBytesTransferred(ctx.Transaction)
    ctx.Request = nil
    WdfDmaTransactionRelease(ctx.Transaction)  -- kept for the next request
    print(("  (4) the transaction is complete: %d bytes; WdfRequestCompleteWithInformation"):format(bytes))
    WdfRequestCompleteWithInformation(request, status, bytes)
  end
end

-- ---- phase 2: the request handlers ---------------------------------------------------
local function StartRequest(Queue, Request, Length, Direction)
  local ctx = Context(WdfIoQueueGetDevice(Queue))
  ctx.DeviceOffset = WdfRequestGetParameters(Request).Parameters.Read.DeviceOffset
  ctx.Request = Request
  ctx.Transfers = 0
  local status = WdfDmaTransactionInitializeUsingRequest(ctx.Transaction, Request, EvtProgramDma, Direction)
  print(("  (2) EvtIo%s: %d bytes; WdfDmaTransactionInitializeUsingRequest (the transaction made in "
         .. "EvtDriverDeviceAdd) -> 0x%x; WdfDmaTransactionExecute"):format(
         Direction == WdfDmaDirectionWriteToDevice and "Write" or "Read", Length, status))
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(ctx.Transaction, nil) end
  if not NT_SUCCESS(status) then
    WdfDmaTransactionRelease(ctx.Transaction)
    WdfRequestComplete(Request, status)
  end
end

local function EvtIoWrite(Queue, Request, Length)
  StartRequest(Queue, Request, Length, WdfDmaDirectionWriteToDevice)
end
local function EvtIoRead(Queue, Request, Length)
  StartRequest(Queue, Request, Length, WdfDmaDirectionReadFromDevice)
end

-- ---- phase 1: EvtDriverDeviceAdd, EvtDevicePrepareHardware ---------------------------------
local power_calls = {}
local function power_callback(name)
  return function(_)
    power_calls[#power_calls + 1] = name
    return STATUS_SUCCESS
  end
end

local function EvtDevicePrepareHardware(Device, _, ResourcesTranslated)
  local ctx = Context(Device)
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if desc.Type == CmResourceTypeMemory then
      ctx.Registers = MmMapIoSpace(desc.u.Memory.Start, desc.u.Memory.Length, MmNonCached)
      ctx.RegistersLength = desc.u.Memory.Length
    end
  end
  ctx.TableBytes = reg_read(ctx, R.MAX_SG) * DESCRIPTOR
  local status
  status, ctx.CommonBuffer = WdfCommonBufferCreate(ctx.DmaEnabler, ctx.TableBytes, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.TableVa = WdfCommonBufferGetAlignedVirtualAddress(ctx.CommonBuffer)
  ctx.TableLogical = WdfCommonBufferGetAlignedLogicalAddress(ctx.CommonBuffer)
  print(("  (1) EvtDevicePrepareHardware: registers mapped; WdfCommonBufferCreate: %d bytes for %d "
         .. "descriptors, va %s, logical %s"):format(ctx.TableBytes, ctx.TableBytes // DESCRIPTOR,
         dma.hex(ctx.TableVa), dma.hex(ctx.TableLogical)))
  return STATUS_SUCCESS
end

local function EvtDeviceReleaseHardware(Device, _)
  local ctx = Context(Device)
  WdfObjectDelete(ctx.CommonBuffer)
  ctx.CommonBuffer = nil
  MmUnmapIoSpace(ctx.Registers, ctx.RegistersLength)
  return STATUS_SUCCESS
end

local function EvtDriverDeviceAdd(_, DeviceInit)
  local callbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
  callbacks.EvtDevicePrepareHardware = EvtDevicePrepareHardware
  callbacks.EvtDeviceReleaseHardware = EvtDeviceReleaseHardware
  WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, callbacks)
  local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("DEVICE_CONTEXT")
  local status, Device = WdfDeviceCreate(DeviceInit, attributes)
  if not NT_SUCCESS(status) then return status end
  local ctx = Context(Device)
  ctx.Machine = WdfDeviceWdmGetDeviceObject(Device).machine
  WdfDeviceSetAlignmentRequirement(Device, FILE_OCTA_ALIGNMENT)
  local queue = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
  queue.EvtIoWrite, queue.EvtIoRead = EvtIoWrite, EvtIoRead
  status = WdfIoQueueCreate(Device, queue, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local interrupt = WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, EvtInterruptDpc)
  status, ctx.Interrupt = WdfInterruptCreate(Device, interrupt, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather, 64 * 1024)
  config.EvtDmaEnablerFill = power_callback("EvtDmaEnablerFill")
  config.EvtDmaEnablerEnable = power_callback("EvtDmaEnablerEnable")
  config.EvtDmaEnablerSelfManagedIoStart = power_callback("EvtDmaEnablerSelfManagedIoStart")
  config.EvtDmaEnablerSelfManagedIoStop = power_callback("EvtDmaEnablerSelfManagedIoStop")
  config.EvtDmaEnablerDisable = power_callback("EvtDmaEnablerDisable")
  config.EvtDmaEnablerFlush = power_callback("EvtDmaEnablerFlush")
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  WdfDmaEnablerSetMaximumScatterGatherElements(ctx.DmaEnabler, 16)  -- the device's MAX_SG
  status, ctx.Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  print(("  (1) EvtDriverDeviceAdd: WdfDmaEnablerCreate -> %s; fragment length %d; "
         .. "WdfDmaTransactionCreate -> %s"):format(tostring(ctx.DmaEnabler),
         WdfDmaEnablerGetFragmentLength(ctx.DmaEnabler, WdfDmaDirectionWriteToDevice),
         tostring(ctx.Transaction)))
  return status
end

-- ---- the scenario ---------------------------------------------------------------------------
print("phase 1: device add and start")
local _, Driver = WdfDriverCreate(dma.driver { name = "kmdf_bm" }, nil, WDF_NO_OBJECT_ATTRIBUTES,
                                  WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
local Device, started = m:wdf_add_device(Driver, hw)
assert(Device and started == STATUS_SUCCESS, "the device did not start")
print("  power-up ran the enabler's callbacks: " .. table.concat(power_calls, ", "))
local ctx = Context(Device)
local fdo = WdfDeviceWdmGetDeviceObject(Device)
local adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionWriteToDevice)

local LENGTH, OFFSET, MEDIUM = 200 * 1024, 0x234, 4096
local buffer = m:buffer(LENGTH, { offset = OFFSET })
local pattern = dma.pattern(LENGTH, 1)
buffer:write(0, pattern)

local function send(major)
  local irp = m:irp { major = major, buffer = buffer, device_offset = MEDIUM }
  assert(IoCallDriver(fdo, irp) == STATUS_PENDING)
  m:run()
  assert(irp.done and irp.IoStatus.Status == STATUS_SUCCESS and irp.IoStatus.Information == LENGTH)
  return ctx.Transfers
end

print(("phase 2-4: IRP_MJ_WRITE of %d bytes (buffer at byte offset 0x%x, %d pages)"):format(LENGTH, OFFSET,
  ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer.va, LENGTH)))
local writes = send(IRP_MJ_WRITE)
assert(hw:medium_read(MEDIUM, LENGTH) == pattern, "the medium does not hold the buffer's bytes")
print(("  the medium holds all %d bytes"):format(LENGTH))

buffer:fill(0)
print(("phase 2-4: IRP_MJ_READ of %d bytes into the cleared buffer"):format(LENGTH))
local reads = send(IRP_MJ_READ)
local same, at = buffer:compare(0, pattern)
assert(same, ("byte %s differs after the read"):format(tostring(at)))
print(("  the buffer holds all %d bytes"):format(LENGTH))

local fragment = WdfDmaEnablerGetFragmentLength(ctx.DmaEnabler, WdfDmaDirectionWriteToDevice)
local expected = (LENGTH + fragment - 1) // fragment
assert(writes == expected and reads == expected, "one transfer per fragment")
local a, s = adapter:stats(), m:run_stats()
print(("transfers: %d write, %d read (fragment length %d); interrupts %d, DPCs %d"):format(writes, reads,
  fragment, s.interrupts, s.dpcs))
print(("adapter: %d bytes mapped, %d bounced (the pages above 4 GiB), map registers high-water %d"):format(
  a.bytes_mapped, a.bytes_bounced, a.map_registers_high_water))
print(("simulated time %d ns; all %d bytes match (write and read)"):format(m.now, LENGTH))

-- stop: power-down (the enabler's callbacks), ReleaseHardware (the common buffer goes)
power_calls = {}
assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
print("removal ran: " .. table.concat(power_calls, ", "))
buffer:free()
local leaks = m:check_leaks()
assert(#leaks == 0, leaks[1] and leaks[1].message)
print("no leaks")
