-- kmdf_sg.lua: a KMDF driver for the built-in bus-master device
-- (m:busmaster) using the framework's ScatterGather profile and the
-- device's scatter/gather mode:
--   EvtDriverDeviceAdd        WdfDeviceCreate, a default sequential queue,
--                             the WDFINTERRUPT
--   EvtDevicePrepareHardware  maps the registers; the first time, the DMA
--                             enabler (WdfDmaProfileScatterGather, or
--                             ScatterGather64; at most MAX_SG elements a
--                             transfer) and the device's descriptor table
--                             in a common buffer (WdfCommonBufferCreate)
--   EvtIoRead / EvtIoWrite    creates a transaction for the request
--                             (WdfDmaTransactionCreate), initializes it with
--                             the request and executes it
--   EvtProgramDma             writes the SCATTER_GATHER_LIST into the
--                             descriptor table (u64 address, u32 length,
--                             u32 reserved) and starts the device in S/G mode
--   EvtInterruptIsr           ours? saves STATUS / BYTES_DONE, acknowledges,
--                             WdfInterruptQueueDpcForIsr
--   EvtInterruptDpc           WdfDmaTransactionDmaCompletedWithLength; TRUE
--                             completes the request and deletes the
--                             transaction (WdfObjectDelete)
-- Errors, short transfers, lost interrupts and hangs as in kmdf_packet.lua.
--
-- Usage as kmdf_packet.lua; options: Dma64BitAddresses (ScatterGather64),
-- MaximumLength (1 MiB, capped by the device's MAX_TRANSFER).
local dma = require "dma"
dma.export()

local R = dma.busmaster_registers
local DESCRIPTOR = 16                 -- u64 address, u32 length, u32 reserved
local WATCHDOG = -100000              -- 10 ms, relative, in 100 ns units (KeSetTimer)
local STATUS_DEVICE_CONFIGURATION_ERROR = 0xC0000182  -- ntstatus.h (not among the lab's constants)

local driver = {}

local function DeviceContext(Device) return WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT") end
local function TransactionContext(Transaction)
  return WdfObjectGetTypedContext(Transaction, "TRANSACTION_CONTEXT")
end
driver.Context = DeviceContext

local function reg_read(ctx, offset) return READ_REGISTER_ULONG(ctx.Registers + offset) end
local function reg_write(ctx, offset, value) WRITE_REGISTER_ULONG(ctx.Registers + offset, value) end

-- EvtProgramDma (DISPATCH_LEVEL): the list into the descriptor table, then start.
local function EvtProgramDma(Transaction, Device, _, Direction, SgList)
  local ctx = DeviceContext(Device)
  local offset = TransactionContext(Transaction).DeviceOffset
    + WdfDmaTransactionGetBytesTransferred(Transaction)
  local parts = {}
  for i = 0, SgList.NumberOfElements - 1 do
    local e = SgList.Elements[i]
    parts[#parts + 1] = string.pack("<I8I4I4", e.Address, e.Length, 0)
  end
  ctx.Machine:write(ctx.TableVa, table.concat(parts))  -- the CPU's stores into the common buffer
  local control = R.START | R.IRQ_ENABLE | R.MODE_SG
  if Direction == WdfDmaDirectionWriteToDevice then control = control | R.TO_DEVICE end
  ctx.Current = Transaction
  ctx.Elements = ctx.Elements + SgList.NumberOfElements
  ctx.Busy = true
  ctx.InterruptClaimed = false
  KeSetTimer(ctx.Watchdog, WATCHDOG, ctx.WatchdogDpc)
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

-- The transaction is over: complete its request, delete it.
local function CompleteRequest(ctx, Transaction, status)
  local request = WdfDmaTransactionGetRequest(Transaction)
  local transferred = WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Current = nil
  WdfObjectDelete(Transaction)
  WdfRequestCompleteWithInformation(request, status, transferred)
end

-- Ends the transfer; `failure` is the status to fail the request with, if any.
local function FinishTransfer(ctx, failure)
  local Transaction = ctx.Current
  ctx.Busy = false
  if not failure and ctx.DeviceStatus & R.ERROR ~= 0 then failure = STATUS_IO_DEVICE_ERROR end
  if failure then
    ctx.Errors = ctx.Errors + 1
    WdfDmaTransactionDmaCompletedFinal(Transaction, ctx.BytesDone)
    CompleteRequest(ctx, Transaction, failure)
    return
  end
  ctx.Transfers = ctx.Transfers + 1
  local done, status = WdfDmaTransactionDmaCompletedWithLength(Transaction, ctx.BytesDone)
  if done then CompleteRequest(ctx, Transaction, status) end
end

-- EvtInterruptIsr (DIRQL).
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

-- EvtInterruptSynchronize (DIRQL): see kmdf_packet.lua.
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

-- The watchdog's DPC.
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

-- EvtIoRead / EvtIoWrite: a new transaction for each request.
local function StartRequest(Queue, Request, Direction)
  local ctx = DeviceContext(WdfIoQueueGetDevice(Queue))
  local status, Transaction = WdfDmaTransactionCreate(ctx.DmaEnabler,
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("TRANSACTION_CONTEXT"))
  if not NT_SUCCESS(status) then
    WdfRequestComplete(Request, status)
    return
  end
  local params = WdfRequestGetParameters(Request)
  TransactionContext(Transaction).DeviceOffset = params.Parameters.Read.DeviceOffset
  status = WdfDmaTransactionInitializeUsingRequest(Transaction, Request, EvtProgramDma, Direction)
  if NT_SUCCESS(status) then status = WdfDmaTransactionExecute(Transaction, nil) end
  if not NT_SUCCESS(status) then
    WdfObjectDelete(Transaction)
    WdfRequestComplete(Request, status)
  end
end

local function EvtIoRead(Queue, Request, _) StartRequest(Queue, Request, WdfDmaDirectionReadFromDevice) end
local function EvtIoWrite(Queue, Request, _) StartRequest(Queue, Request, WdfDmaDirectionWriteToDevice) end

-- EvtDevicePrepareHardware: the registers; the first time, the enabler and
-- the descriptor table.
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
  ctx.MaxSg = reg_read(ctx, R.MAX_SG)
  local config = WDF_DMA_ENABLER_CONFIG_INIT(
    options.Dma64BitAddresses and WdfDmaProfileScatterGather64 or WdfDmaProfileScatterGather,
    math.min(options.MaximumLength or 1024 * 1024, reg_read(ctx, R.MAX_TRANSFER)))
  local status
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  WdfDmaEnablerSetMaximumScatterGatherElements(ctx.DmaEnabler, ctx.MaxSg)
  ctx.Adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionReadFromDevice)
  ctx.TableBytes = ctx.MaxSg * DESCRIPTOR
  status, ctx.Table = WdfCommonBufferCreate(ctx.DmaEnabler, ctx.TableBytes, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.TableVa = WdfCommonBufferGetAlignedVirtualAddress(ctx.Table)
  ctx.TableLogical = WdfCommonBufferGetAlignedLogicalAddress(ctx.Table)
  return STATUS_SUCCESS
end

local function EvtDeviceReleaseHardware(Device, _)
  local ctx = DeviceContext(Device)
  if ctx.Registers then MmUnmapIoSpace(ctx.Registers, ctx.RegistersLength) end
  ctx.Registers = nil
  return STATUS_SUCCESS
end

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
  ctx.Machine = WdfDeviceWdmGetDeviceObject(Device).machine
  ctx.Transfers, ctx.Errors, ctx.LostInterrupts, ctx.Timeouts, ctx.Elements = 0, 0, 0, 0, 0
  -- the device reads its table at 16-byte alignment
  WdfDeviceSetAlignmentRequirement(Device, FILE_OCTA_ALIGNMENT)
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

driver.options = setmetatable({}, { __mode = "k" })

-- DriverEntry: WdfDriverCreate -> status, WDFDRIVER.
function driver.DriverEntry(DriverObject, RegistryPath, options)
  local config = WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd)
  local status, Driver = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, config)
  if NT_SUCCESS(status) then driver.options[Driver] = options or {} end
  return status, Driver
end

return driver
