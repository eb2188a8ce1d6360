-- kmdf_uart.lua: a KMDF driver for the UART (m:uart) on an SoC system DMA
-- controller, using the framework's system-mode DMA (WdfDmaProfileSystemDuplex):
--   EvtDriverDeviceAdd        WdfDeviceCreate, a default sequential queue
--                             (EvtIoWrite), the DMA enabler
--   EvtDevicePrepareHardware  maps the registers; finds the two CmResourceTypeDma
--                             descriptors (TX and RX request lines) and gives
--                             each direction its system adapter with
--                             WdfDmaEnablerConfigureSystemProfile: TX in demand
--                             mode toward the DATA register (the FIFO), RX
--                             looped (LoopedTransfer) into a receive ring in a
--                             common buffer; the two transactions
--   EvtDeviceD0Entry          starts the looping receive: the RX transaction
--                             over the ring, executed once; a periodic timer's
--                             DPC reads ReadDmaCounter and takes what arrived
--   EvtIoWrite                the TX transaction over the request:
--                             EvtDmaTransactionConfigureDmaChannel, then
--                             EvtProgramDma (the UART's TX DMA request
--                             enabled), EvtDmaTransactionDmaTransferComplete at
--                             the controller's terminal count:
--                             WdfDmaTransactionDmaCompleted ends the request or
--                             the framework maps the next piece
--   EvtDeviceD0Exit           WdfDmaTransactionCancel stops the ring
--                             (DmaCancelled), WdfDmaTransactionDmaCompletedFinal
-- options.Reserve: the TX transaction reserves the channel once
-- (WdfDmaTransactionAllocateResources, EvtReserveDma) and every write uses
-- it, as seed 000 allows for a system profile; freed at D0Exit.
--
-- Usage:
--   local drv = require "drivers.kmdf_uart"
--   local status, Driver = drv.DriverEntry(dma.driver{...}, nil [, options])
--   local Device = m:wdf_add_device(Driver, uart)
--   drv.Context(Device)   the DEVICE_CONTEXT: Received (the bytes the ring
--                         delivered), Counters, ChannelConfigurations, TxCompletions
local dma = require "dma"
dma.export()

local plumbing = require(((...) or "drivers."):match("^(.-)[^.]*$") .. "plumbing")

local R = dma.uart_registers
local RING = 256            -- bytes in the receive ring
local POLL_MS = 1           -- the ring is read every millisecond

local driver = {}
local function Context(Device) return WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT") end
driver.Context = Context

local function read(ctx, offset) return READ_REGISTER_ULONG(ctx.Registers + offset) end
local function write(ctx, offset, value) WRITE_REGISTER_ULONG(ctx.Registers + offset, value) end

-- ---- transmit ----------------------------------------------------------------------------

-- EvtDmaTransactionConfigureDmaChannel: the framework holds the channel and
-- is about to map this piece; nothing to change on this controller.
local function EvtConfigureDmaChannel(_, Device, _, _, Offset, Length)
  local ctx = Context(Device)
  ctx.ChannelConfigurations[#ctx.ChannelConfigurations + 1] = { offset = Offset, length = Length }
  return TRUE
end

-- EvtProgramDma: the controller is programmed; let the UART ask for bytes.
local function EvtProgramDmaTx(_, Device, _, _, _)
  local ctx = Context(Device)
  write(ctx, R.CONTROL, read(ctx, R.CONTROL) | R.TX_DMA)
  return TRUE
end

-- EvtDmaTransactionDmaTransferComplete (DISPATCH_LEVEL): the controller
-- moved the piece into the UART's FIFO.
local function EvtTxComplete(Transaction, Device, _, _, Status)
  local ctx = Context(Device)
  ctx.TxCompletions[#ctx.TxCompletions + 1] = { status = Status, at = ctx.Machine.now }
  write(ctx, R.CONTROL, read(ctx, R.CONTROL) & ~R.TX_DMA)
  local done, status = WdfDmaTransactionDmaCompleted(Transaction)
  if not done then return end  -- the framework mapped the next piece
  local request, bytes = ctx.Request, WdfDmaTransactionGetBytesTransferred(Transaction)
  ctx.Request = nil
  WdfDmaTransactionRelease(Transaction)
  WdfRequestCompleteWithInformation(request, Status == DmaComplete and status or STATUS_CANCELLED, bytes)
end

-- Initializes and executes the TX transaction over the request.
local function StartTx(ctx, Request)
  local t = ctx.TxTransaction
  local status = WdfDmaTransactionInitializeUsingRequest(t, Request, EvtProgramDmaTx,
                                                         WdfDmaDirectionWriteToDevice)
  if NT_SUCCESS(status) then
    WdfDmaTransactionSetChannelConfigurationCallback(t, EvtConfigureDmaChannel, nil)
    WdfDmaTransactionSetTransferCompleteCallback(t, EvtTxComplete, nil)
    ctx.Request = Request
    status = WdfDmaTransactionExecute(t, nil)
  end
  if not NT_SUCCESS(status) then
    ctx.Request = nil
    WdfRequestComplete(Request, status)
  end
end

-- EvtIoWrite (through the queue plumbing).
local function StartRequest(Queue, Request, _, _)
  StartTx(Context(WdfIoQueueGetDevice(Queue)), Request)
end

-- EvtReserveDma: the channel is the TX transaction's until FreeResources.
local function EvtReserveDma(Transaction, _)
  local ctx = Context(WdfDmaTransactionGetDevice(Transaction))
  ctx.Reserved = true
end

-- ---- receive -----------------------------------------------------------------------------

-- EvtProgramDma of the ring: the UART may now raise its RX request.
local function EvtProgramDmaRx(_, Device, _, _, _)
  local ctx = Context(Device)
  write(ctx, R.CONTROL, read(ctx, R.CONTROL) | R.RX_DMA)
  return TRUE
end

-- The ring's transfer ends only by cancel (LoopedTransfer).
local function EvtRxComplete(Transaction, Device, _, _, Status)
  local ctx = Context(Device)
  ctx.RxStatus = Status
  WdfDmaTransactionDmaCompletedFinal(Transaction, 0)
  WdfDmaTransactionRelease(Transaction)
end

-- The poll DPC: the bytes between the last position and the controller's.
local function PollDpc(_, Device)
  local ctx = Context(Device)
  local left = ctx.RxAdapter:ReadDmaCounter()
  local pos = (RING - left) % RING
  ctx.Counters[#ctx.Counters + 1] = left
  while ctx.RxPos ~= pos do
    local n = (pos > ctx.RxPos and pos or RING) - ctx.RxPos
    ctx.Received[#ctx.Received + 1] = ctx.Machine:read(ctx.RingVa + ctx.RxPos, n)
    ctx.RxPos = (ctx.RxPos + n) % RING
  end
end

-- ---- PnP and power -----------------------------------------------------------------------

-- The CmResourceTypeDma descriptors, in order (TX first), and the FIFO's
-- physical address (the DATA register of the memory range).
local function DmaDescriptors(ResourcesTranslated)
  local found, fifo = {}, nil
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if desc.Type == CmResourceTypeDma then found[#found + 1] = desc end
    if desc.Type == CmResourceTypeMemory then fifo = desc.u.Memory.Start + R.DATA end
  end
  return found, fifo
end

local function EvtDevicePrepareHardware(Device, _, ResourcesTranslated)
  local ctx = Context(Device)
  if not plumbing.kmdf_map_registers(ctx, ResourcesTranslated) then
    return plumbing.STATUS_DEVICE_CONFIGURATION_ERROR
  end
  local dmas, fifo = DmaDescriptors(ResourcesTranslated)
  if #dmas < 2 or not fifo then return plumbing.STATUS_DEVICE_CONFIGURATION_ERROR end
  local tx = WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(fifo, Width8Bits, dmas[1])
  tx.DemandMode = TRUE
  local status = WdfDmaEnablerConfigureSystemProfile(ctx.DmaEnabler, tx, WdfDmaDirectionWriteToDevice)
  if not NT_SUCCESS(status) then return status end
  local rx = WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(fifo, Width8Bits, dmas[2])
  rx.DemandMode, rx.LoopedTransfer = TRUE, TRUE
  status = WdfDmaEnablerConfigureSystemProfile(ctx.DmaEnabler, rx, WdfDmaDirectionReadFromDevice)
  if not NT_SUCCESS(status) then return status end
  ctx.RxAdapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionReadFromDevice)
  status, ctx.Ring = WdfCommonBufferCreate(ctx.DmaEnabler, RING, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  ctx.RingVa = WdfCommonBufferGetAlignedVirtualAddress(ctx.Ring)
  ctx.RingMdl = IoAllocateMdl(ctx.RingVa, RING)
  MmBuildMdlForNonPagedPool(ctx.RingMdl)
  status, ctx.TxTransaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  status, ctx.RxTransaction = WdfDmaTransactionCreate(ctx.DmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

local function EvtDeviceReleaseHardware(Device, _)
  local ctx = Context(Device)
  if ctx.RingMdl then IoFreeMdl(ctx.RingMdl) end
  ctx.RingMdl = nil
  plumbing.kmdf_unmap_registers(ctx)
  return STATUS_SUCCESS
end

local function EvtDeviceD0Entry(Device, _)
  local ctx = Context(Device)
  local t = ctx.RxTransaction
  local status = WdfDmaTransactionInitialize(t, EvtProgramDmaRx, WdfDmaDirectionReadFromDevice, ctx.RingMdl,
                                             ctx.RingVa, RING)
  if not NT_SUCCESS(status) then return status end
  WdfDmaTransactionSetTransferCompleteCallback(t, EvtRxComplete, nil)
  status = WdfDmaTransactionExecute(t, nil)
  if not NT_SUCCESS(status) then return status end
  KeSetTimerEx(ctx.Poll, -10000 * POLL_MS, POLL_MS, ctx.PollDpc)
  if ctx.Options.Reserve then
    local adapter = WdfDmaEnablerWdmGetDmaAdapter(ctx.DmaEnabler, WdfDmaDirectionWriteToDevice)
    status = WdfDmaTransactionAllocateResources(ctx.TxTransaction, WdfDmaDirectionWriteToDevice,
                                                adapter.NumberOfMapRegisters, EvtReserveDma, nil)
  end
  return status
end

local function EvtDeviceD0Exit(Device, _)
  local ctx = Context(Device)
  KeCancelTimer(ctx.Poll)
  PollDpc(nil, Device)
  ctx.RxCancelled = WdfDmaTransactionCancel(ctx.RxTransaction)
  write(ctx, R.CONTROL, 0)
  if ctx.Reserved then
    WdfDmaTransactionFreeResources(ctx.TxTransaction)
    ctx.Reserved = false
  end
  return STATUS_SUCCESS
end

local function EvtDriverDeviceAdd(Driver, DeviceInit)
  local callbacks = { EvtDevicePrepareHardware = EvtDevicePrepareHardware,
                      EvtDeviceReleaseHardware = EvtDeviceReleaseHardware,
                      EvtDeviceD0Entry = EvtDeviceD0Entry, EvtDeviceD0Exit = EvtDeviceD0Exit }
  local status, Device, ctx = plumbing.kmdf_create_device(DeviceInit, callbacks, "DEVICE_CONTEXT")
  if not Device then return status end
  ctx.Options = driver.options[Driver] or {}
  ctx.Received, ctx.Counters, ctx.ChannelConfigurations, ctx.TxCompletions = {}, {}, {}, {}
  ctx.RxPos = 0
  ctx.Machine = WdfDeviceWdmGetDeviceObject(Device).machine
  ctx.Poll = KeInitializeTimer(nil)
  ctx.PollDpc = KeInitializeDpc(nil, PollDpc, Device)
  local queue_config = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
  queue_config.EvtIoWrite = function(Queue, Request, Length)
    StartRequest(Queue, Request, WdfDmaDirectionWriteToDevice, Length)
  end
  status, ctx.Queue = WdfIoQueueCreate(Device, queue_config, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileSystemDuplex, 16 * PAGE_SIZE)
  status, ctx.DmaEnabler = WdfDmaEnablerCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
  return status
end

plumbing.kmdf_driver_entry(driver, EvtDriverDeviceAdd)

return driver
