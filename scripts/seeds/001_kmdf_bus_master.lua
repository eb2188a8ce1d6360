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

local here = (arg and arg[0] or ""):match("^(.*)seeds/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path
local bm = require "drivers.busmaster_hw"  -- the device's registers and descriptor table
local plumbing = require "drivers.plumbing"  -- device, queue and interrupt setup

local R = dma.busmaster_registers
local DESCRIPTOR = bm.DESCRIPTOR  -- the device's S/G entry: u64 address, u32 length, u32 reserved

local m = dma.machine { ram = { { 0, "1G" }, { "4G", "4G" } }, seed = 1, alloc = "scattered" }
print(m)
local hw = m:busmaster { name = "bm0", bandwidth = "1G", setup_latency = "2us", max_transfer = "64K",
                         max_sg = 16, address_width = 32, capacity = "16M" }

local Context = bm.kmdf.Context
local function dir_name(Direction) return Direction == WdfDmaDirectionWriteToDevice and "write" or "read" end

-- ---- phase 3: EvtProgramDma ---------------------------------------------------------
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = Context(Device)
  assert(KeGetCurrentIrql() == DISPATCH_LEVEL)
  local bytes = 0
  for i = 0, SgList.NumberOfElements - 1 do bytes = bytes + SgList.Elements[i].Length end
  ctx.Machine:write(ctx.TableVa, bm.table_bytes(SgList))  -- the list, into the shared common buffer
  local offset = ctx.DeviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Transfers = ctx.Transfers + 1
  print(("  (3) EvtProgramDma: %s transfer %d, %2d S/G elements, %6d bytes at medium offset %d; "
         .. "device started, interrupt enabled"):format(dir_name(Direction), ctx.Transfers,
         SgList.NumberOfElements, bytes, offset))
  -- under the interrupt lock: the table's address and count, then START (interrupt enabled)
  return bm.kmdf.start_locked(ctx, bm.control(R.MODE_SG, Direction == WdfDmaDirectionWriteToDevice),
                              bm.set_table, ctx.TableLogical, SgList.NumberOfElements, offset)
end

-- ---- phase 4: EvtInterruptIsr, EvtInterruptDpc ----------------------------------------
-- EvtInterruptIsr: ours? the volatile state (STATUS, BYTES_DONE) saved, the
-- interrupt acknowledged, EvtInterruptDpc queued.
local EvtInterruptIsr = bm.kmdf.isr(true, function(ctx, status)
  print(("  (4) EvtInterruptIsr at IRQL %d: STATUS 0x%x, %d bytes done; EvtInterruptDpc queued"):format(
    KeGetCurrentIrql(), status, ctx.BytesDone))
end)

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

-- ---- phase 2: the request handler (EvtIoWrite and EvtIoRead) ----------------------------
local function StartRequest(Queue, Request, Direction, Length)
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
  plumbing.kmdf_map_registers(ctx, ResourcesTranslated)
  ctx.TableBytes = bm.read(ctx, R.MAX_SG) * DESCRIPTOR
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
  plumbing.kmdf_unmap_registers(ctx)
  return STATUS_SUCCESS
end

local function EvtDriverDeviceAdd(_, DeviceInit)
  local callbacks = { EvtDevicePrepareHardware = EvtDevicePrepareHardware,
                      EvtDeviceReleaseHardware = EvtDeviceReleaseHardware }
  local status, Device, ctx = plumbing.kmdf_create_device(DeviceInit, callbacks, "DEVICE_CONTEXT")
  if not Device then return status end
  ctx.Machine = WdfDeviceWdmGetDeviceObject(Device).machine
  WdfDeviceSetAlignmentRequirement(Device, FILE_OCTA_ALIGNMENT)
  status = plumbing.kmdf_queue_and_interrupt(Device, ctx, StartRequest, EvtInterruptIsr, EvtInterruptDpc)
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
local Device = plumbing.kmdf_start(m, hw, "kmdf_bm", EvtDriverDeviceAdd)
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
plumbing.check_leaks(m)
print("no leaks")
