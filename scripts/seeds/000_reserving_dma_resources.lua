-- 000_reserving_dma_resources.lua: seed 000, "Reserving DMA resources"
-- (KMDF only). Page 003 is the same page in another translation: the same
-- procedure, so this script is the runnable form of both.
--
-- A framework driver whose enabler uses the Packet profile with DMA version
-- 3 (WdmDmaVersionOverride = 3: reservations need Windows 8's DMA v3)
-- reserves map registers once and runs every request with them:
--   (1) an I/O request arrives;
--   (2) the request handler calls WdfDmaTransactionCreate;
--   (3) ... and WdfDmaTransactionAllocateResources (having asked
--       WdfDmaTransactionGetTransferInfo, on the initialized transaction,
--       how many map registers the request needs);
--   (4) the framework calls EvtReserveDma once the registers and the
--       adapter are reserved;
--   (5) EvtReserveDma initializes the transaction
--       (WdfDmaTransactionInitializeUsingRequest),
--   (6) and executes it: the resources being reserved, the framework calls
--       EvtProgramDma at once, inside WdfDmaTransactionExecute;
--   (7) EvtInterruptDpc calls WdfDmaTransactionDmaCompleted, then
--       WdfDmaTransactionRelease (never before the transaction completes):
--       the map registers stay reserved;
--   (8) steps 5-7 repeat for every later request (from the request handler,
--       which finds the transaction reserved); when the reservation is no
--       longer needed the DPC calls WdfDmaTransactionFreeResources.
-- The device is the built-in bus master without scatter/gather, reaching
-- 32 bits, on a machine whose RAM lies above 4 GiB but for 256 KiB at 1 MiB
-- where the HAL keeps its map registers: every byte goes through the map
-- registers (bounce pages). The driver reserves 8 map
-- registers, fewer than the 16 it could get, so a request longer than
-- they map is split into several transfers, all with the same registers.
-- Six sizes are written and read back, every byte checked; the adapter's
-- statistics show one channel grant for the whole run and the registers
-- held between requests; nothing leaks.
--
-- The seed allows the same with a "system-mode profile": the second part
-- runs drivers/kmdf_uart.lua (WdfDmaProfileSystemDuplex on an SoC system
-- DMA controller) with its Reserve option: at D0Entry the TX transaction
-- reserves the adapter channel and all its map registers
-- (WdfDmaTransactionAllocateResources with the adapter's
-- NumberOfMapRegisters; EvtReserveDma), three writes use the reservation
-- (one channel grant for all), and D0Exit frees it
-- (WdfDmaTransactionFreeResources). Every byte is checked at the UART.
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local here = (arg and arg[0] or ""):match("^(.*)seeds/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path
local bm = require "drivers.busmaster_hw"  -- the device's registers
local plumbing = require "drivers.plumbing"  -- device, queue and interrupt setup

local R = dma.busmaster_registers
local RESERVED = 8

local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "4G" } }, seed = 3, alloc = "scattered" }
print(m)
local hw = m:busmaster { name = "pkt0", bandwidth = "1G", setup_latency = "2us", max_transfer = "64K",
                         address_width = 32, capacity = "16M" }

local Context = bm.kmdf.Context

local function held(ctx)
  return ctx.Adapter:stats().map_registers_held, m:run_stats().map_registers_in_use
end

-- EvtProgramDma: one single-mode transfer.
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = Context(Device)
  local e = SgList.Elements[0]
  local offset = ctx.DeviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Transfers = ctx.Transfers + 1
  if ctx.InExecute then ctx.ProgrammedInExecute = ctx.ProgrammedInExecute + 1 end
  -- under the interrupt lock: the single-mode registers, then START
  return bm.kmdf.start_locked(ctx, bm.control(R.MODE_SINGLE, Direction == WdfDmaDirectionWriteToDevice),
                              bm.set_single, e.Address, e.Length, offset)
end

-- Steps 5 and 6: initialize and execute the reserved transaction.
local function InitializeAndExecute(ctx, Request, where)
  local status = WdfDmaTransactionInitializeUsingRequest(ctx.Transaction, Request, EvtProgramDma,
                                                         ctx.Direction)
  if NT_SUCCESS(status) then
    ctx.InExecute, ctx.Transfers, ctx.ProgrammedInExecute = true, 0, 0
    status = WdfDmaTransactionExecute(ctx.Transaction, nil)
    ctx.InExecute = false
  end
  print(("    (5)(6) %s: initialize + execute -> 0x%x; EvtProgramDma ran %d time(s) inside "
         .. "WdfDmaTransactionExecute"):format(where, status, ctx.ProgrammedInExecute))
  assert(NT_SUCCESS(status) and ctx.ProgrammedInExecute == 1, "EvtProgramDma did not run at once")
end

-- Step 4: EvtReserveDma, at DISPATCH_LEVEL, once the resources are reserved.
local function EvtReserveDma(Transaction, Context_)
  local ctx = Context(WdfDmaTransactionGetDevice(Transaction))
  assert(KeGetCurrentIrql() == DISPATCH_LEVEL)
  local h = held(ctx)
  print(("    (4) EvtReserveDma: %d map registers and the adapter reserved"):format(h))
  ctx.Reservations = ctx.Reservations + 1
  InitializeAndExecute(ctx, Context_, "in EvtReserveDma")
end

-- Steps 1-3 (the first request) or 5-6 (the later ones): EvtIoWrite and
-- EvtIoRead.
local function RequestHandler(Queue, Request, Direction, Length)
  local Device = WdfIoQueueGetDevice(Queue)
  local ctx = Context(Device)
  ctx.Direction = Direction
  ctx.DeviceOffset = WdfRequestGetParameters(Request).Parameters.Read.DeviceOffset
  ctx.Request = Request
  local what = Direction == WdfDmaDirectionWriteToDevice and "write" or "read"
  print(("  (1) request: %s of %d bytes"):format(what, Length))
  if ctx.Transaction then
    InitializeAndExecute(ctx, Request, "(8) in the request handler, the transaction reserved")
    return
  end
  local status
  status, ctx.Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  assert(NT_SUCCESS(status), "WdfDmaTransactionCreate failed")
  print(("    (2) WdfDmaTransactionCreate -> %s"):format(tostring(ctx.Transaction)))
  status = WdfDmaTransactionInitializeUsingRequest(ctx.Transaction, Request, EvtProgramDma, Direction)
  assert(NT_SUCCESS(status), "WdfDmaTransactionInitializeUsingRequest failed")
  local registers = WdfDmaTransactionGetTransferInfo(ctx.Transaction)
  print(("    (3) WdfDmaTransactionGetTransferInfo: this request needs %d map registers; "
         .. "WdfDmaTransactionAllocateResources(%d)"):format(registers, RESERVED))
  local before = ctx.Reservations
  status = WdfDmaTransactionAllocateResources(ctx.Transaction, Direction, RESERVED, EvtReserveDma, Request)
  print(("    (3) ... -> 0x%x (EvtReserveDma %s)"):format(status,
    ctx.Reservations > before and "ran inside it: the registers were free" or "will run when they are"))
  assert(NT_SUCCESS(status), "WdfDmaTransactionAllocateResources failed")
end

-- EvtInterruptIsr: ours? STATUS saved, the interrupt acknowledged, EvtInterruptDpc queued.
local EvtInterruptIsr = bm.kmdf.isr()

-- Step 7 (and the end of 8): complete the transfer; at the end of the
-- transaction release it (the registers stay reserved), or free the
-- reservation when the driver no longer needs it.
local function EvtInterruptDpc(_, Device)
  local ctx = Context(Device)
  assert(ctx.DeviceStatus & R.ERROR == 0, "device error")
  local done, status = WdfDmaTransactionDmaCompleted(ctx.Transaction)
  if not done then return end  -- the next transfer, with the same registers, is programmed
  local bytes = WdfDmaTransactionGetBytesTransferred(ctx.Transaction)
  WdfDmaTransactionRelease(ctx.Transaction)
  local h, in_use = held(ctx)
  print(("    (7) EvtInterruptDpc: %d transfer(s) done; WdfDmaTransactionRelease; map registers still "
         .. "held: %d (machine: %d in use)"):format(ctx.Transfers, h, in_use))
  assert(h == RESERVED, "the reservation did not survive the release")
  if ctx.FreeWhenDone then
    WdfDmaTransactionFreeResources(ctx.Transaction)
    h, in_use = held(ctx)
    print(("    (8) no longer needed: WdfDmaTransactionFreeResources; map registers held: %d (machine: %d)")
          :format(h, in_use))
    assert(h == 0 and in_use == 0)
    WdfObjectDelete(ctx.Transaction)
    ctx.Transaction = nil
  end
  local request = ctx.Request
  ctx.Request = nil
  WdfRequestCompleteWithInformation(request, status, bytes)
end

-- EvtDevicePrepareHardware / EvtDeviceReleaseHardware: the registers.
local EvtDevicePrepareHardware, EvtDeviceReleaseHardware = plumbing.kmdf_register_callbacks(Context)

-- The device, its queue (RequestHandler), its interrupt, then the DMA
-- enabler: the Packet profile, DMA version 3.
local function EvtDriverDeviceAdd(_, DeviceInit)
  local callbacks = { EvtDevicePrepareHardware = EvtDevicePrepareHardware,
                      EvtDeviceReleaseHardware = EvtDeviceReleaseHardware }
  local status, Device, ctx = plumbing.kmdf_create_device(DeviceInit, callbacks, "DEVICE_CONTEXT")
  if not Device then return status end
  ctx.Reservations = 0
  status = plumbing.kmdf_queue_and_interrupt(Device, ctx, RequestHandler, EvtInterruptIsr, EvtInterruptDpc)
  if not NT_SUCCESS(status) then return status end
  local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 64 * 1024)
  config.WdmDmaVersionOverride = 3
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionWriteToDevice)
  print(("EvtDriverDeviceAdd: %s"):format(tostring(ctx.DmaEnabler)))
  return STATUS_SUCCESS
end

-- ---- the scenario ---------------------------------------------------------------------------
local Device = plumbing.kmdf_start(m, hw, "kmdf_reserve", EvtDriverDeviceAdd)
local ctx = Context(Device)
local fdo = WdfDeviceWdmGetDeviceObject(Device)

local SIZES = { 24 * 1024, 100 * 1024, 3, 4096, 64 * 1024 + 1, 200 * 1024 }
local total, offset, expected = 0, 0, 0
for k, len in ipairs(SIZES) do
  local b = m:buffer(len, { offset = (k * 0x321) % PAGE_SIZE })
  local data = dma.pattern(len, k)
  b:write(0, data)
  -- at most RESERVED pages a transfer: the first piece up to the page end
  local va, left, pieces = b.va, len, 0
  while left > 0 do
    local n = math.min(left, RESERVED * PAGE_SIZE - BYTE_OFFSET(va))
    va, left, pieces = va + n, left - n, pieces + 1
  end
  for _, major in ipairs { IRP_MJ_WRITE, IRP_MJ_READ } do
    if major == IRP_MJ_READ then b:fill(0) end
    ctx.FreeWhenDone = k == #SIZES and major == IRP_MJ_READ
    local irp = m:irp { major = major, buffer = b, device_offset = offset }
    assert(IoCallDriver(fdo, irp) == STATUS_PENDING)
    m:run()
    assert(irp.done and irp.IoStatus.Status == STATUS_SUCCESS and irp.IoStatus.Information == len)
    assert(ctx.Transfers == pieces, ("%d transfers, expected %d"):format(ctx.Transfers, pieces))
    expected = expected + pieces
  end
  assert(hw:medium_read(offset, len) == data, "the medium differs")
  local same, at = b:compare(0, data)
  assert(same, ("byte %s differs after the read"):format(tostring(at)))
  print(("  %d bytes written and read back in %d transfer(s) each: every byte matches"):format(len, pieces))
  total, offset = total + len, offset + len + 512
  b:free()
end

local a, s = ctx.Adapter:stats(), m:run_stats()
print(("%d requests, %d bytes each way, %d transfers; EvtReserveDma ran %d time(s)"):format(2 * #SIZES, total,
  expected, ctx.Reservations))
print(("adapter: %d channel grant(s) (the reservation), %d map transfers, %d bytes bounced, "
       .. "map registers high-water %d, held now %d"):format(a.channel_grants, a.map_transfers,
       a.bytes_bounced, a.map_registers_high_water, a.map_registers_held))
print(("machine: %d interrupts, %d DPCs, simulated time %d ns"):format(s.interrupts, s.dpcs, m.now))
assert(ctx.Reservations == 1 and a.channel_grants == 1, "one reservation served every request")
assert(a.map_registers_high_water == RESERVED and a.map_registers_held == 0)
assert(a.bytes_bounced == 2 * total, "RAM above 4 GiB: every byte bounced for a 32-bit device")

assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
plumbing.check_leaks(m)
print("no leaks")

-- ---- the same with a system-mode profile ---------------------------------------------------
do
  local sm = dma.machine { seed = 3 }
  local soc = sm:soc_dma { instance = 0, channels = 4, lines = 16 }
  local uart = sm:uart { name = "uart0", baud = 2000000 }
  uart:connect_dma(soc, { tx = 2, rx = 5 })
  local uart_drv = require "drivers.kmdf_uart"
  local _, Driver = uart_drv.DriverEntry(dma.driver { name = "\\Driver\\kmdf_uart" }, nil, { Reserve = true })
  local UartDevice, started = sm:wdf_add_device(Driver, uart)
  assert(UartDevice and started == STATUS_SUCCESS, "the UART did not start")
  local uctx = uart_drv.Context(UartDevice)
  local adapter = WdfDmaEnablerWdmGetDmaAdapter(uctx.DmaEnabler, WdfDmaDirectionWriteToDevice)
  print(("system profile: EvtReserveDma %s; the TX adapter's channel and %d map registers reserved")
        :format(uctx.Reserved and "ran" or "did not run", adapter:stats().map_registers_held))
  assert(uctx.Reserved)
  local sent = {}
  for k, len in ipairs { 1000, 20000, 3 } do
    local data = dma.pattern(len, 40 + k)
    local b = sm:buffer(len)
    b:write(0, data)
    local irp = sm:irp { major = IRP_MJ_WRITE, buffer = b }
    assert(IoCallDriver(WdfDeviceWdmGetDeviceObject(UartDevice), irp) == STATUS_PENDING)
    sm:run_until(sm.now + (len + 32) * 5000)
    assert(irp.done and irp.IoStatus.Status == STATUS_SUCCESS and irp.IoStatus.Information == len)
    sent[#sent + 1] = data
    print(("  write of %d bytes with the reserved channel: done, reserved registers still held: %d")
          :format(len, adapter:stats().map_registers_held))
    b:free()
  end
  assert(uart:sent() == table.concat(sent), "the UART's wire differs")
  assert(adapter:stats().channel_grants == 1, "one reservation served every write")
  assert(sm:wdf_remove_device(UartDevice) == STATUS_SUCCESS)
  print(("  %d bytes on the UART's wire, every byte checked; 1 channel grant; D0Exit freed the "
         .. "reservation (held now %d)"):format(#uart:sent(), adapter:stats().map_registers_held))
  plumbing.check_leaks(sm)
end
