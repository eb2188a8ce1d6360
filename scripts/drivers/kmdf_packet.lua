-- kmdf_packet.lua: a KMDF driver for the built-in bus-master device
-- (m:busmaster) using the framework's Packet profile, written as the C
-- driver would be:
--   EvtDriverDeviceAdd        WdfDeviceCreate, a default sequential queue
--                             (EvtIoRead / EvtIoWrite), the WDFINTERRUPT
--   EvtDevicePrepareHardware  maps the registers; the first time, the DMA
--                             enabler (WdfDmaProfilePacket, or Packet64) and
--                             the one transaction every request reuses
--   EvtIoRead / EvtIoWrite    WdfDmaTransactionInitializeUsingRequest +
--                             WdfDmaTransactionExecute (the framework splits
--                             the request into transfers that fit its map
--                             registers and calls EvtProgramDma for each)
--   EvtProgramDma             programs one single-mode transfer (address,
--                             length, medium offset) under the interrupt lock
--   EvtInterruptIsr           ours? saves STATUS / BYTES_DONE, acknowledges,
--                             WdfInterruptQueueDpcForIsr
--   EvtInterruptDpc           WdfDmaTransactionDmaCompletedWithLength: FALSE
--                             means the framework already programmed the next
--                             transfer; TRUE ends the request
-- A device error ends the transaction with WdfDmaTransactionDmaCompletedFinal
-- and fails the request with STATUS_IO_DEVICE_ERROR; a short transfer is
-- completed with its length (the framework maps the rest again). A watchdog
-- (a kernel timer: the lab has no WDFTIMER) copes with a lost interrupt
-- (finished as the DPC would) and a hung device (reset, STATUS_IO_TIMEOUT),
-- as in wdm_packet.lua.
--
-- Usage:
--   local drv = require "drivers.kmdf_packet"
--   local status, Driver = drv.DriverEntry(nil, nil [, options])   -- WdfDriverCreate
--   local Device, st = m:wdf_add_device(Driver, hw)                  -- DeviceAdd + start
--   IoCallDriver(WdfDeviceWdmGetDeviceObject(Device), irp)
--   drv.Context(Device)          the DEVICE_CONTEXT (counters: Transfers, Errors,
--                                LostInterrupts, Timeouts; Adapter, DmaEnabler)
-- options: Dma64BitAddresses (Packet64 profile), MaximumLength (64 KiB).
local dma = require "dma"
dma.export()

local R = dma.busmaster_registers
local WATCHDOG = -100000              -- 10 ms, relative, in 100 ns units (KeSetTimer)
local STATUS_DEVICE_CONFIGURATION_ERROR = 0xC0000182  -- ntstatus.h (not among the lab's constants)

local driver = {}

local function DeviceContext(Device) return WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT") end
driver.Context = DeviceContext

local function reg_read(ctx, offset) return READ_REGISTER_ULONG(ctx.Registers + offset) end
local function reg_write(ctx, offset, value) WRITE_REGISTER_ULONG(ctx.Registers + offset, value) end

-- EvtProgramDma (DISPATCH_LEVEL): one transfer, one element.
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = DeviceContext(Device)
  local element = SgList.Elements[0]
  local offset = ctx.DeviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  local control = R.START | R.IRQ_ENABLE | R.MODE_SINGLE
  if Direction == WdfDmaDirectionWriteToDevice then control = control | R.TO_DEVICE end
  ctx.TransferLength = element.Length
  ctx.Busy = true
  ctx.InterruptClaimed = false
  KeSetTimer(ctx.Watchdog, WATCHDOG, ctx.WatchdogDpc)
  WdfInterruptAcquireLock(ctx.Interrupt)
  reg_write(ctx, R.ADDR_LO, element.Address & 0xFFFFFFFF)
  reg_write(ctx, R.ADDR_HI, element.Address >> 32)
  reg_write(ctx, R.LENGTH, element.Length)
  reg_write(ctx, R.OFFSET_LO, offset & 0xFFFFFFFF)
  reg_write(ctx, R.OFFSET_HI, offset >> 32)
  reg_write(ctx, R.CONTROL, control)
  WdfInterruptReleaseLock(ctx.Interrupt)
  return TRUE
end

-- The transaction is over: release it (kept for the next request) and
-- complete the request with the bytes transferred.
local function CompleteRequest(ctx, status)
  local request = ctx.Request
  local transferred = WdfDmaTransactionGetBytesTransferred(ctx.Transaction)
  ctx.Request = nil
  WdfDmaTransactionRelease(ctx.Transaction)
  WdfRequestCompleteWithInformation(request, status, transferred)
end

-- Ends the transfer the device finished (or gave up on); `failure` is the
-- status to fail the request with, if any.
local function FinishTransfer(ctx, failure)
  ctx.Busy = false
  if not failure and ctx.DeviceStatus & R.ERROR ~= 0 then failure = STATUS_IO_DEVICE_ERROR end
  if failure then
    ctx.Errors = ctx.Errors + 1
    WdfDmaTransactionDmaCompletedFinal(ctx.Transaction, ctx.BytesDone)
    CompleteRequest(ctx, failure)
    return
  end
  ctx.Transfers = ctx.Transfers + 1
  -- may run EvtProgramDma for the next transfer before it returns FALSE
  local done, status = WdfDmaTransactionDmaCompletedWithLength(ctx.Transaction, ctx.BytesDone)
  if done then CompleteRequest(ctx, status) end
end

-- EvtInterruptIsr (DIRQL): ours? save the device's state, acknowledge, DPC.
local function EvtInterruptIsr(Interrupt, _)
  local ctx = DeviceContext(WdfInterruptGetDevice(Interrupt))
  local status = reg_read(ctx, R.STATUS)
  if status & (R.DONE | R.ERROR) == 0 then return FALSE end
  ctx.DeviceStatus = status
  ctx.BytesDone = reg_read(ctx, R.BYTES_DONE)
  reg_write(ctx, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  ctx.InterruptClaimed = true
  WdfInterruptQueueDpcForIsr(Interrupt)
  return TRUE
end

-- EvtInterruptDpc (DISPATCH_LEVEL).
local function EvtInterruptDpc(_, Device)
  local ctx = DeviceContext(Device)
  if not ctx.Busy then return end  -- the watchdog got there first
  KeCancelTimer(ctx.Watchdog)
  FinishTransfer(ctx)
end

-- EvtInterruptSynchronize (DIRQL, holding the interrupt lock): what became
-- of the transfer the watchdog expired on (see wdm_packet.lua).
local function WatchdogSynchronize(_, ctx)
  if ctx.InterruptClaimed then return FALSE end
  local status = reg_read(ctx, R.STATUS)
  ctx.Hung = status & (R.DONE | R.ERROR) == 0
  if ctx.Hung then
    reg_write(ctx, R.CONTROL, R.RESET)
    ctx.BytesDone = 0
  else
    ctx.DeviceStatus = status
    ctx.BytesDone = reg_read(ctx, R.BYTES_DONE)
    reg_write(ctx, R.STATUS, R.DONE | R.ERROR | R.SHORT)
  end
  return TRUE
end

-- The watchdog's DPC: no interrupt in time. A lost interrupt is finished
-- as the DPC would; a hang fails the request with STATUS_IO_TIMEOUT.
local function WatchdogDpc(_, Device)
  local ctx = DeviceContext(Device)
  if not ctx.Busy or not KeReadStateTimer(ctx.Watchdog) then return end
  if not WdfInterruptSynchronize(ctx.Interrupt, WatchdogSynchronize, ctx) then return end
  if ctx.Hung then
    ctx.Timeouts = ctx.Timeouts + 1
    FinishTransfer(ctx, STATUS_IO_TIMEOUT)
  else
    ctx.LostInterrupts = ctx.LostInterrupts + 1
    FinishTransfer(ctx)
  end
end

-- EvtIoRead / EvtIoWrite: the request handler. The queue is sequential, so
-- the one transaction is free whenever a request is presented.
local function StartRequest(Queue, Request, Direction)
  local ctx = DeviceContext(WdfIoQueueGetDevice(Queue))
  local params = WdfRequestGetParameters(Request)
  ctx.DeviceOffset = params.Parameters.Read.DeviceOffset  -- Read and Write share the union
  ctx.Request = Request
  local status = WdfDmaTransactionInitializeUsingRequest(ctx.Transaction, Request, EvtProgramDma, Direction)
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(ctx.Transaction, nil) end
  if not NT_SUCCESS(status) then
    ctx.Request = nil
    WdfDmaTransactionRelease(ctx.Transaction)
    WdfRequestComplete(Request, status)
  end
end

local function EvtIoRead(Queue, Request, _) StartRequest(Queue, Request, WdfDmaDirectionReadFromDevice) end
local function EvtIoWrite(Queue, Request, _) StartRequest(Queue, Request, WdfDmaDirectionWriteToDevice) end

-- EvtDevicePrepareHardware: the registers; the first time, the DMA enabler
-- (its MaximumLength within the device's limit) and the transaction.
local function EvtDevicePrepareHardware(Device, _, ResourcesTranslated)
  local ctx = DeviceContext(Device)
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if desc.Type == CmResourceTypeMemory and not ctx.Registers then
      ctx.RegistersLength = desc.u.Memory.Length
      ctx.Registers = MmMapIoSpace(desc.u.Memory.Start, desc.u.Memory.Length, MmNonCached)
    end
  end
  if not ctx.Registers then return STATUS_DEVICE_CONFIGURATION_ERROR end
  if ctx.DmaEnabler then return STATUS_SUCCESS end
  local options = ctx.Options
  local config = WDF_DMA_ENABLER_CONFIG_INIT(
    options.Dma64BitAddresses and WdfDmaProfilePacket64 or WdfDmaProfilePacket,
    math.min(options.MaximumLength or 64 * 1024, reg_read(ctx, R.MAX_TRANSFER)))
  local status
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionReadFromDevice)
  status, ctx.Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

-- EvtDeviceReleaseHardware: unmap the registers.
local function EvtDeviceReleaseHardware(Device, _)
  local ctx = DeviceContext(Device)
  if ctx.Registers then MmUnmapIoSpace(ctx.Registers, ctx.RegistersLength) end
  ctx.Registers = nil
  return STATUS_SUCCESS
end

-- EvtDeviceD0Exit: no watchdog left; the device reset.
local function EvtDeviceD0Exit(Device, _)
  local ctx = DeviceContext(Device)
  KeCancelTimer(ctx.Watchdog)
  reg_write(ctx, R.CONTROL, R.RESET)
  return STATUS_SUCCESS
end

local function EvtDeviceD0Entry(_, _) return STATUS_SUCCESS end

-- EvtDriverDeviceAdd: the device, its queue, its interrupt, its watchdog.
local function EvtDriverDeviceAdd(Driver, DeviceInit)
  local callbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
  callbacks.EvtDevicePrepareHardware = EvtDevicePrepareHardware
  callbacks.EvtDeviceReleaseHardware = EvtDeviceReleaseHardware
  callbacks.EvtDeviceD0Entry = EvtDeviceD0Entry
  callbacks.EvtDeviceD0Exit = EvtDeviceD0Exit
  WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, callbacks)
  local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("DEVICE_CONTEXT")
  local status, Device = WdfDeviceCreate(DeviceInit, attributes)
  if not NT_SUCCESS(status) then return status end
  local ctx = DeviceContext(Device)
  ctx.Options = driver.options[Driver] or {}
  ctx.Transfers, ctx.Errors, ctx.LostInterrupts, ctx.Timeouts = 0, 0, 0, 0
  local queue_config = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
  queue_config.EvtIoRead = EvtIoRead
  queue_config.EvtIoWrite = EvtIoWrite
  status, ctx.Queue = WdfIoQueueCreate(Device, queue_config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local interrupt_config = WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, EvtInterruptDpc)
  status, ctx.Interrupt = WdfInterruptCreate(Device, interrupt_config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.Watchdog = KeInitializeTimer(nil)
  ctx.WatchdogDpc = KeInitializeDpc(nil, WatchdogDpc, Device)
  return STATUS_SUCCESS
end

-- Options of each WDFDRIVER (DriverEntry's third argument, the lab's own).
driver.options = setmetatable({}, { __mode = "k" })

-- DriverEntry: WdfDriverCreate -> status, WDFDRIVER.
function driver.DriverEntry(DriverObject, RegistryPath, options)
  local config = WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd)
  local status, Driver = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, config)
  if NT_SUCCESS(status) then driver.options[Driver] = options or {} end
  return status, Driver
end

return driver
