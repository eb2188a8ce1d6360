-- kmdf_plx_style.lua: a Lua port of the way the WDK's PLX9x5x KMDF sample
-- (general/PLX9x5x/sys: Init.c, Read.c, Write.c, IsrDpc.c) drives the DMA
-- of a PLX 9656, for the chip model of plx_model.lua:
--   EvtDriverDeviceAdd   WdfDeviceCreate; a sequential write queue and a
--                        sequential read queue (WdfDeviceConfigureRequest-
--                        Dispatching), so a read and a write can run at once
--                        on the chip's two channels (duplex); the
--                        WDFINTERRUPT (EvtInterruptEnable/Disable set INTCSR's
--                        PCI interrupt enable); then PLxInitializeDMA:
--                        WdfDeviceSetAlignmentRequirement(FILE_OCTA_ALIGNMENT),
--                        the enabler (WdfDmaProfileScatterGather64Duplex,
--                        version 3), WdfDmaEnablerSetMaximumScatterGather-
--                        Elements, a common buffer of DTEs for each direction,
--                        the read and the write transaction, created once and
--                        reused (Release and initialize again per request)
--   EvtDevicePrepareHardware   maps BAR0 (the registers)
--   EvtDeviceD0Entry / D0Exit  PLxInitWrite/PLxInitRead (DMADACn = 0) /
--                              PLxHardwareReset (software reset)
--   EvtIoWrite           WdfRequestRetrieveInputWdmMdl, WdfDmaTransaction-
--                        Initialize(MDL, MmGetMdlVirtualAddress, length), the
--                        request kept in the transaction's context, Execute
--   EvtIoRead            WdfDmaTransactionInitializeUsingRequest, Execute
--   EvtProgramDma        translates the SCATTER_GATHER_LIST into the chip's
--                        DMA_TRANSFER_ELEMENTs in the common buffer (local
--                        address = bytes transferred so far), then, holding
--                        the interrupt lock (WdfInterruptAcquireLock):
--                        DMAMODE (S/G, done interrupt, to PCI; clear-count
--                        mode on the read side), INTCSR (channel interrupt
--                        enable), DMADPR (the chain), DMACSR Enable|Start
--   EvtInterruptIsr      reads INTCSR; for each active channel saves DMACSR
--                        and writes it back with Clear; queues the DPC when
--                        a channel is done
--   EvtInterruptDpc      under the interrupt lock takes the saved state; a
--                        write: WdfDmaTransactionDmaCompleted; a read: the
--                        length from the clear-count DTEs (the sizes the chip
--                        did not zero are what it did not move),
--                        WdfDmaTransactionDmaCompletedWithLength; TRUE:
--                        Release, WdfRequestCompleteWithInformation(bytes)
-- SIMULATE_MEMORY_FRAGMENTATION (options.SimulateMemoryFragmentation): the
-- data goes through a chain of many small MDLs over scattered pool buffers
-- built at DeviceAdd (BuildMdlChain): a write copies the request's buffer
-- into the chain (CopyBufferToMdlChain) and initializes the write
-- transaction with the chain; a read initializes with the chain and copies
-- it back into the request's buffer when it completes (CopyMdlChainToBuffer).
--
-- Where this port differs from the sample, and why:
--   * Lengths: MaximumTransferLength 64 KiB (the sample's 8 KiB is "rather
--     arbitrary", options.MaximumTransferLength), requests up to the local
--     memory (4 MiB; the board's SRAM is 128 KiB), placed at the request's
--     DeviceOffset in it (the sample always starts at SRAM offset 0).
--   * The MDL chain covers the largest request, not one transfer (the
--     sample's 8 x 1 KiB chain cannot hold a request longer than 8 KiB), so
--     the DTE table is sized for the DTEs of the MDLs one transfer can touch.
--   * 64-bit: DMAMODE's DAC_CHAIN_LOAD is set, so the chip takes
--     PciAddressHigh from each DTE, and DMADPRHIn (a model extension) gets
--     the common buffer's HighPart. The sample sets neither, which is right
--     only while the S/G lists and the DTEs lie below 4 GiB.
--   * The DPC clears the read channel's saved DMACSR copy; the sample
--     clears Dma0Csr there (a slip, harmless since the ISR refreshes it).
--   * The port does not call WdfDeviceInitSetIoType (dmalab's devices
--     start with direct I/O, the sample's choice) and reaches the buffer
--     through the request's MDL and MmGetSystemAddressForMdlSafe rather
--     than WdfRequestRetrieveInput/OutputBuffer. The lab lacks a second BAR
--     for the SRAM (the local memory is reached by DMA only),
--     KeDelayExecutionThread (the reset is not held for 100 ms) and the
--     IOCTL that sets RequireSingleTransfer (options.RequireSingleTransfer
--     instead; no control queue).
--
-- Usage:
--   local drv = require "drivers.kmdf_plx_style"
--   local status, Driver = drv.DriverEntry(nil, nil, options)
--   local Device, st = m:wdf_add_device(Driver, plx_hw)   -- plx_model.new(m, ...)
--   IoCallDriver(WdfDeviceWdmGetDeviceObject(Device), irp)
--   drv.Context(Device)      the DEVICE_EXTENSION (counters, enabler, adapters)
-- options: SimulateMemoryFragmentation, MaximumTransferLength (64 KiB),
-- SramSize (4 MiB), MdlChainLength (per transfer, 8), RequireSingleTransfer.
local dma = require "dma"
dma.export()

-- sibling modules, loaded as drivers.X (scripts/ on the path) or
-- dma.drivers.X (installed)
local here = ((...) or "drivers."):match("^(.-)[^.]*$")
local plx = require(here .. "plx_model")
local plumbing = require(here .. "plumbing")  -- device creation, BAR mapping, DriverEntry
local R = plx.R

local STATUS_INVALID_BUFFER_SIZE = 0xC0000206
local DTE = R.DESC_SIZE                               -- sizeof(DMA_TRANSFER_ELEMENT): 32
local WDF_NO_CONTEXT = nil                            -- wdfcore.h (not among the lab's names)

local driver = {}

local function PLxGetDeviceContext(Device) return WdfObjectGetTypedContext(Device, "DEVICE_EXTENSION") end
local function PLxGetTransactionContext(Transaction)
  return WdfObjectGetTypedContext(Transaction, "TRANSACTION_CONTEXT")
end
driver.Context = PLxGetDeviceContext

local function READ_ULONG(devExt, reg) return READ_REGISTER_ULONG(devExt.Regs + reg) end
local function WRITE_ULONG(devExt, reg, v) WRITE_REGISTER_ULONG(devExt.Regs + reg, v) end
local function READ_UCHAR(devExt, reg) return READ_REGISTER_UCHAR(devExt.Regs + reg) end
local function WRITE_UCHAR(devExt, reg, v) WRITE_REGISTER_UCHAR(devExt.Regs + reg, v) end

-- The channels: 0 is the write (to device) side, 1 the read (from device) side.
local CHANNEL = {
  [0] = { MODE = R.DMAMODE0, DPR = R.DMADPR0, DPRHI = R.DMADPRHI0, CSR = R.DMACSR0, DAC = R.DMADAC0,
          INT_ENABLE = R.DMA0_INT_ENABLE, INT_ACTIVE = R.DMA0_INT_ACTIVE },
  [1] = { MODE = R.DMAMODE1, DPR = R.DMADPR1, DPRHI = R.DMADPRHI1, CSR = R.DMACSR1, DAC = R.DMADAC1,
          INT_ENABLE = R.DMA1_INT_ENABLE, INT_ACTIVE = R.DMA1_INT_ACTIVE },
}

-- ---- SIMULATE_MEMORY_FRAGMENTATION: MDL chains ------------------------------------

-- BuildMdlChain: `count` MDLs over small nonpaged buffers of `size` bytes at
-- varying byte offsets (scattered pages), linked through Mdl.Next.
local function BuildMdlChain(m, count, size)
  local chain = { buffers = {}, mdls = {} }
  local previous
  for i = 1, count do
    local b = m:buffer(size, { offset = (i * 0x1F0 + 0x30) % PAGE_SIZE })
    local mdl = IoAllocateMdl(b.va, size)
    MmBuildMdlForNonPagedPool(mdl)
    chain.buffers[i], chain.mdls[i] = b, mdl
    if previous then previous.Next = mdl end
    previous = mdl
  end
  chain.head = chain.mdls[1]
  chain.length = count * size
  return chain
end

-- DestroyMdlChain.
local function DestroyMdlChain(chain)
  for i = #chain.mdls, 1, -1 do
    IoFreeMdl(chain.mdls[i])
    chain.buffers[i]:free()
  end
end

-- The CPU copies `length` bytes between a buffer and an MDL chain, MDL by
-- MDL: into the chain with `toChain`, else out of it.
local function CopyMdlChain(m, chain, buffer, length, toChain)
  local mdl, at = chain.head, 0
  while mdl and at < length do
    local n = math.min(length - at, MmGetMdlByteCount(mdl))
    local system = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority)
    if toChain then m:write(system, m:read(buffer + at, n)) else m:write(buffer + at, m:read(system, n)) end
    at, mdl = at + n, mdl.Next
  end
end

-- CopyBufferToMdlChain(Buffer, Length, MdlChain).
local function CopyBufferToMdlChain(m, buffer, length, chain)
  CopyMdlChain(m, chain, buffer, length, true)
end

-- CopyMdlChainToBuffer(MdlChain, Buffer, Length).
local function CopyMdlChainToBuffer(m, chain, buffer, length)
  CopyMdlChain(m, chain, buffer, length, false)
end

-- The system address of a request's buffer (the lab has no
-- WdfRequestRetrieveInput/OutputBuffer: through its MDL).
local function RequestBuffer(Request, write)
  local status, mdl
  if write then status, mdl = WdfRequestRetrieveInputWdmMdl(Request)
  else status, mdl = WdfRequestRetrieveOutputWdmMdl(Request) end
  if not NT_SUCCESS(status) then return status end
  return status, MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), MmGetMdlByteCount(mdl)
end

-- ---- completion ------------------------------------------------------------------

-- PLxWriteRequestComplete.
local function PLxWriteRequestComplete(Transaction, Status)
  local request = PLxGetTransactionContext(Transaction).Request
  local bytesTransferred = WdfDmaTransactionGetBytesTransferred(Transaction)
  WdfDmaTransactionRelease(Transaction)
  WdfRequestCompleteWithInformation(request, Status, bytesTransferred)
end

-- PLxReadRequestComplete.
local function PLxReadRequestComplete(Transaction, Status)
  local devExt = PLxGetDeviceContext(WdfDmaTransactionGetDevice(Transaction))
  local request
  if not devExt.SimulateMemoryFragmentation then
    request = WdfDmaTransactionGetRequest(Transaction)
  else
    request = PLxGetTransactionContext(Transaction).Request
    local st, buffer, length = RequestBuffer(request, false)
    if NT_SUCCESS(st) then CopyMdlChainToBuffer(devExt.Machine, devExt.ReadMdlChain, buffer, length) end
  end
  local bytesTransferred = WdfDmaTransactionGetBytesTransferred(Transaction)
  WdfDmaTransactionRelease(Transaction)
  WdfRequestCompleteWithInformation(request, Status, bytesTransferred)
end

-- ---- EvtProgramDma ---------------------------------------------------------------

-- The two EvtProgramDma of the sample differ only in their channel, common
-- buffer, direction bit and the read side's clear-count mode.
local function ProgramDma(Transaction, Device, SgList, channel)
  local devExt = PLxGetDeviceContext(Device)
  local ch = CHANNEL[channel]
  local read = channel == 1
  local base = read and devExt.ReadCommonBufferBase or devExt.WriteCommonBufferBase
  local baseLA = read and devExt.ReadCommonBufferBaseLA or devExt.WriteCommonBufferBaseLA
  -- the offset of this DMA operation in the transaction: its local address
  local offset = PLxGetTransactionContext(Transaction).LocalBase
    + WdfDmaTransactionGetBytesTransferred(Transaction)
  local dteLA = (baseLA & 0xFFFFFFFF) + DTE
  local dtes = {}
  for i = 0, SgList.NumberOfElements - 1 do
    local e = SgList.Elements[i]
    local descPtr = R.DESC_PCI | (read and R.TO_PCI or 0) | (dteLA & R.DESC_ADDRESS_MASK)
    if i == SgList.NumberOfElements - 1 then descPtr = descPtr | R.END_OF_CHAIN end
    dtes[#dtes + 1] = string.pack("<I4I4I4I4I4I4I4I4", e.Address & 0xFFFFFFFF, offset, e.Length, descPtr,
                                  e.Address >> 32, 0, 0, 0)
    offset = offset + e.Length
    dteLA = dteLA + DTE
    if e.Address >> 32 ~= 0 then devExt.Stats.high_dtes = devExt.Stats.high_dtes + 1 end
  end
  devExt.Machine:write(base, table.concat(dtes))  -- the DTEs, stored into the common buffer
  devExt.Stats.dtes = devExt.Stats.dtes + SgList.NumberOfElements
  devExt.Stats.max_dtes = math.max(devExt.Stats.max_dtes, SgList.NumberOfElements)
  devExt.Stats[read and "read_dma" or "write_dma"] = devExt.Stats[read and "read_dma" or "write_dma"] + 1

  -- Start the DMA operation, holding the interrupt spin lock.
  WdfInterruptAcquireLock(devExt.Interrupt)
  local dmaMode = READ_ULONG(devExt, ch.MODE)
  dmaMode = dmaMode | R.SG_MODE | R.DONE_INT_ENABLE | R.INT_TO_PCI | R.DAC_CHAIN_LOAD
  if read then dmaMode = dmaMode | R.CLEAR_COUNT_MODE end
  WRITE_ULONG(devExt, ch.MODE, dmaMode)
  WRITE_ULONG(devExt, R.INTCSR, READ_ULONG(devExt, R.INTCSR) | R.PCI_INT_ENABLE | ch.INT_ENABLE)
  WRITE_ULONG(devExt, ch.DPRHI, baseLA >> 32)
  WRITE_ULONG(devExt, ch.DPR, R.DESC_PCI | R.TERM_COUNT_INT | (baseLA & R.DESC_ADDRESS_MASK))
  local dmaCsr = READ_UCHAR(devExt, ch.CSR)
  WRITE_UCHAR(devExt, ch.CSR, dmaCsr | R.CSR_ENABLE | R.CSR_START)
  WdfInterruptReleaseLock(devExt.Interrupt)
  return TRUE
end

local function PLxEvtProgramWriteDma(Transaction, Device, _, _, SgList)
  return ProgramDma(Transaction, Device, SgList, 0)
end

local function PLxEvtProgramReadDma(Transaction, Device, _, _, SgList)
  return ProgramDma(Transaction, Device, SgList, 1)
end

-- ---- requests ---------------------------------------------------------------------

-- WdfDmaTransactionSetSingleTransferRequirement(Transaction, RequireSingleTransfer),
-- before each initialization (Release resets it). Called only to set it:
-- the lab's binding takes no BOOLEAN (a FALSE would set it too).
local function SetSingleTransferRequirement(devExt, Transaction)
  if devExt.RequireSingleTransfer then WdfDmaTransactionSetSingleTransferRequirement(Transaction, TRUE) end
end

-- Checks a request against the local memory; its local address.
local function Validate(devExt, Request, Length)
  local offset = WdfRequestGetParameters(Request).Parameters.Read.DeviceOffset
  if Length > devExt.SramSize or offset + Length > devExt.SramSize then return STATUS_INVALID_BUFFER_SIZE end
  return STATUS_SUCCESS, offset
end

-- PLxEvtIoWrite's own part: initialized with direct parameters (the
-- sample's default), then executed.
local function WriteInitializeAndExecute(devExt, Transaction, Request, _, localBase)
  local status, mdl, virtualAddress, length
  if not devExt.SimulateMemoryFragmentation then
    status, mdl = WdfRequestRetrieveInputWdmMdl(Request)
    if NT_SUCCESS(status) then
      virtualAddress, length = MmGetMdlVirtualAddress(mdl), MmGetMdlByteCount(mdl)
    end
  else
    -- copy the request's memory into the heavily fragmented MDL chain
    local buffer
    status, buffer, length = RequestBuffer(Request, true)
    if NT_SUCCESS(status) then
      mdl = devExt.WriteMdlChain.head
      virtualAddress = MmGetMdlVirtualAddress(mdl)
      CopyBufferToMdlChain(devExt.Machine, buffer, length, devExt.WriteMdlChain)
    end
  end
  if NT_SUCCESS(status) then
    status = WdfDmaTransactionInitialize(Transaction, PLxEvtProgramWriteDma, WdfDmaDirectionWriteToDevice,
                                         mdl, virtualAddress, length)
  end
  if NT_SUCCESS(status) then
    local context = PLxGetTransactionContext(Transaction)
    context.Request, context.LocalBase = Request, localBase
    status = WdfDmaTransactionExecute(Transaction, WDF_NO_CONTEXT)
  end
  return status
end

-- PLxEvtIoRead's own part: initialized with the request (or the MDL
-- chain), then executed.
local function ReadInitializeAndExecute(devExt, Transaction, Request, Length, localBase)
  local context = PLxGetTransactionContext(Transaction)
  local status
  if not devExt.SimulateMemoryFragmentation then
    status = WdfDmaTransactionInitializeUsingRequest(Transaction, Request, PLxEvtProgramReadDma,
                                                     WdfDmaDirectionReadFromDevice)
  else
    -- the fragmented chain instead of the request's buffer; the request
    -- is not associated with the transaction: keep it in the context
    local mdl = devExt.ReadMdlChain.head
    status = WdfDmaTransactionInitialize(Transaction, PLxEvtProgramReadDma, WdfDmaDirectionReadFromDevice,
                                         mdl, MmGetMdlVirtualAddress(mdl), Length)
    context.Request = Request
  end
  if NT_SUCCESS(status) then
    context.LocalBase = localBase
    status = WdfDmaTransactionExecute(Transaction, WDF_NO_CONTEXT)
  end
  return status
end

-- PLxEvtIoWrite and PLxEvtIoRead: what they do alike around their own part
-- (`InitializeAndExecute(devExt, Transaction, Request, Length, localBase)`,
-- which returns the status): the request checked against the local memory,
-- the transaction of `side` ("Write" or "Read") given the single-transfer
-- requirement; on failure the transaction released and the request
-- completed with the status.
local function RequestHandler(side, InitializeAndExecute)
  return function(Queue, Request, Length)
    local devExt = PLxGetDeviceContext(WdfIoQueueGetDevice(Queue))
    local Transaction = devExt[side .. "DmaTransaction"]
    local status, localBase = Validate(devExt, Request, Length)
    if NT_SUCCESS(status) then
      SetSingleTransferRequirement(devExt, Transaction)
      status = InitializeAndExecute(devExt, Transaction, Request, Length, localBase)
    end
    if not NT_SUCCESS(status) then
      devExt.Stats.failed = devExt.Stats.failed + 1
      WdfDmaTransactionRelease(Transaction)
      WdfRequestComplete(Request, status)
    end
  end
end

local PLxEvtIoWrite = RequestHandler("Write", WriteInitializeAndExecute)
local PLxEvtIoRead = RequestHandler("Read", ReadInitializeAndExecute)

-- ---- interrupt ----------------------------------------------------------------------

-- PLxEvtInterruptIsr (DIRQL).
local function PLxEvtInterruptIsr(Interrupt, _)
  local devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt))
  local isRecognized = false
  local intCsr = READ_ULONG(devExt, R.INTCSR)
  for channel = 0, 1 do
    local ch = CHANNEL[channel]
    if intCsr & ch.INT_ACTIVE ~= 0 then           -- channel 0: write side; 1: read side
      devExt.IntCsr = devExt.IntCsr | ch.INT_ACTIVE
      devExt.DmaCsr[channel] = READ_UCHAR(devExt, ch.CSR) | R.CSR_CLEAR
      WRITE_UCHAR(devExt, ch.CSR, devExt.DmaCsr[channel])  -- clear this interrupt
      isRecognized = true
    end
  end
  if isRecognized and (devExt.DmaCsr[0] & R.CSR_DONE ~= 0 or devExt.DmaCsr[1] & R.CSR_DONE ~= 0) then
    devExt.Stats.isr = devExt.Stats.isr + 1
    WdfInterruptQueueDpcForIsr(devExt.Interrupt)    -- a read or a write or both is done
  end
  return isRecognized
end

-- PLxEvtInterruptDpc (DISPATCH_LEVEL).
local function PLxEvtInterruptDpc(Interrupt, _)
  local devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt))
  local writeInterrupt, readInterrupt = false, false
  devExt.Stats.dpc = devExt.Stats.dpc + 1
  WdfInterruptAcquireLock(Interrupt)
  if devExt.IntCsr & R.DMA0_INT_ACTIVE ~= 0 and devExt.DmaCsr[0] & R.CSR_DONE ~= 0 then
    devExt.IntCsr = devExt.IntCsr & ~R.DMA0_INT_ACTIVE
    devExt.DmaCsr[0] = 0
    writeInterrupt = true
  end
  if devExt.IntCsr & R.DMA1_INT_ACTIVE ~= 0 and devExt.DmaCsr[1] & R.CSR_DONE ~= 0 then
    devExt.IntCsr = devExt.IntCsr & ~R.DMA1_INT_ACTIVE
    devExt.DmaCsr[1] = 0                            -- the sample clears Dma0Csr here
    readInterrupt = true
  end
  WdfInterruptReleaseLock(Interrupt)

  if writeInterrupt then
    local Transaction = devExt.WriteDmaTransaction
    -- may program the next DMA operation of the request before it returns
    local transactionComplete, status = WdfDmaTransactionDmaCompleted(Transaction)
    if transactionComplete then PLxWriteRequestComplete(Transaction, status) end
  end

  if readInterrupt then
    local Transaction = devExt.ReadDmaTransaction
    -- "DMA Clear-Count Mode": the chip zeroed the size of every DTE it
    -- finished; what is left is what it did not move
    local length = WdfDmaTransactionGetCurrentDmaTransferLength(Transaction)
    local at = devExt.ReadCommonBufferBase
    while true do
      local size, descPtr = string.unpack("<I4I4", devExt.Machine:read(at + 8, 8))
      length = length - size
      if descPtr & R.END_OF_CHAIN ~= 0 then break end
      at = at + DTE
    end
    local transactionComplete, status = WdfDmaTransactionDmaCompletedWithLength(Transaction, length)
    if transactionComplete then PLxReadRequestComplete(Transaction, status) end
  end
end

-- PLxEvtInterruptEnable / Disable (DIRQL): INTCSR's PCI interrupt enable.
local function PLxEvtInterruptEnable(Interrupt, _)
  local devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt))
  WRITE_ULONG(devExt, R.INTCSR, READ_ULONG(devExt, R.INTCSR) | R.PCI_INT_ENABLE)
  return STATUS_SUCCESS
end

local function PLxEvtInterruptDisable(Interrupt, _)
  local devExt = PLxGetDeviceContext(WdfInterruptGetDevice(Interrupt))
  WRITE_ULONG(devExt, R.INTCSR, READ_ULONG(devExt, R.INTCSR) & ~R.PCI_INT_ENABLE)
  return STATUS_SUCCESS
end

-- ---- initialization -------------------------------------------------------------------

-- PLxInitializeDMA (from EvtDriverDeviceAdd).
local function PLxInitializeDMA(devExt)
  WdfDeviceSetAlignmentRequirement(devExt.Device, FILE_OCTA_ALIGNMENT)  -- DTEs: 16-byte aligned
  local dmaConfig = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather64Duplex,
                                                devExt.MaximumTransferLength)
  dmaConfig.WdmDmaVersionOverride = 3  -- for WdfDmaTransactionSetSingleTransferRequirement
  local status
  status, devExt.DmaEnabler = WdfDmaEnablerCreate(devExt.Device, dmaConfig, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  -- the chip has no limit of its own: the DTE buffers are the bound
  WdfDmaEnablerSetMaximumScatterGatherElements(devExt.DmaEnabler,
    math.min(devExt.WriteTransferElements, devExt.ReadTransferElements))
  devExt.WriteAdapter = WdfDmaEnablerWdmGetDmaAdapter(devExt.DmaEnabler, WdfDmaDirectionWriteToDevice)
  devExt.ReadAdapter = WdfDmaEnablerWdmGetDmaAdapter(devExt.DmaEnabler, WdfDmaDirectionReadFromDevice)

  for _, side in ipairs { "Write", "Read" } do
    devExt[side .. "CommonBufferSize"] = DTE * devExt[side .. "TransferElements"]
    local buffer
    status, buffer = WdfCommonBufferCreate(devExt.DmaEnabler, devExt[side .. "CommonBufferSize"],
                                           WDF_NO_OBJECT_ATTRIBUTES)
    if not NT_SUCCESS(status) then return status end
    devExt[side .. "CommonBuffer"] = buffer
    devExt[side .. "CommonBufferBase"] = WdfCommonBufferGetAlignedVirtualAddress(buffer)
    devExt[side .. "CommonBufferBaseLA"] = WdfCommonBufferGetAlignedLogicalAddress(buffer)
    devExt.Machine:write(devExt[side .. "CommonBufferBase"], ("\0"):rep(devExt[side .. "CommonBufferSize"]))
  end

  -- one transaction per direction, created now and reused by every request
  status, devExt.ReadDmaTransaction = WdfDmaTransactionCreate(devExt.DmaEnabler,
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("TRANSACTION_CONTEXT"))
  if not NT_SUCCESS(status) then return status end
  status, devExt.WriteDmaTransaction = WdfDmaTransactionCreate(devExt.DmaEnabler,
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("TRANSACTION_CONTEXT"))
  if not NT_SUCCESS(status) then return status end

  if devExt.SimulateMemoryFragmentation then
    devExt.WriteMdlChain = BuildMdlChain(devExt.Machine, devExt.MdlChainTotal, devExt.MdlBufferSize)
    devExt.ReadMdlChain = BuildMdlChain(devExt.Machine, devExt.MdlChainTotal, devExt.MdlBufferSize)
  end
  return STATUS_SUCCESS
end

-- A sequential queue whose `callback` ("EvtIoWrite" or "EvtIoRead") is
-- `EvtIo`, the requests of `RequestType` dispatched to it. Returns the
-- status and the queue.
local function CreateQueue(devExt, callback, EvtIo, RequestType)
  local queueConfig = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchSequential)
  queueConfig[callback] = EvtIo
  local status, queue = WdfIoQueueCreate(devExt.Device, queueConfig, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  return WdfDeviceConfigureRequestDispatching(devExt.Device, queue, RequestType), queue
end

-- PLxInitializeDeviceExtension (from EvtDriverDeviceAdd): sizes, queues,
-- interrupt, DMA.
local function PLxInitializeDeviceExtension(devExt, options)
  devExt.SramSize = options.SramSize or 4 * 1024 * 1024
  devExt.MaximumTransferLength = math.min(options.MaximumTransferLength or 64 * 1024, devExt.SramSize)
  devExt.SimulateMemoryFragmentation = options.SimulateMemoryFragmentation and true or false
  devExt.RequireSingleTransfer = options.RequireSingleTransfer and true or false
  local dteCount
  if not devExt.SimulateMemoryFragmentation then
    -- the DTEs of one transfer of MaximumTransferLength, at any byte offset
    dteCount = BYTES_TO_PAGES(ROUND_TO_PAGES(devExt.MaximumTransferLength) + PAGE_SIZE)
  else
    -- MDL_CHAIN_LENGTH buffers make one transfer; a transfer can touch one
    -- more, each spanning at most BYTES_TO_PAGES(size) + 1 pages
    local perTransfer = options.MdlChainLength or 8
    devExt.MdlBufferSize = devExt.MaximumTransferLength // perTransfer
    devExt.MdlChainTotal = (devExt.SramSize + devExt.MdlBufferSize - 1) // devExt.MdlBufferSize
    dteCount = (perTransfer + 1) * (BYTES_TO_PAGES(devExt.MdlBufferSize) + 1) + 1
  end
  devExt.WriteTransferElements, devExt.ReadTransferElements = dteCount, dteCount

  -- Channel 0 is the "to device" channel (writes), channel 1 the "from
  -- device" one (reads): one sequential queue each, so that a read and a
  -- write run at once while each queue presents one request at a time.
  local status
  status, devExt.WriteQueue = CreateQueue(devExt, "EvtIoWrite", PLxEvtIoWrite, WdfRequestTypeWrite)
  if not NT_SUCCESS(status) then return status end
  status, devExt.ReadQueue = CreateQueue(devExt, "EvtIoRead", PLxEvtIoRead, WdfRequestTypeRead)
  if not NT_SUCCESS(status) then return status end

  -- PLxInterruptCreate
  local interruptConfig = WDF_INTERRUPT_CONFIG_INIT(PLxEvtInterruptIsr, PLxEvtInterruptDpc)
  interruptConfig.EvtInterruptEnable = PLxEvtInterruptEnable
  interruptConfig.EvtInterruptDisable = PLxEvtInterruptDisable
  interruptConfig.AutomaticSerialization = TRUE
  status, devExt.Interrupt = WdfInterruptCreate(devExt.Device, interruptConfig, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end

  return PLxInitializeDMA(devExt)
end

-- PlxEvtDeviceCleanup: the MDL chains go (the framework calls it when
-- m:wdf_remove_device deletes the device).
local function PlxEvtDeviceCleanup(Device)
  local devExt = PLxGetDeviceContext(Device)
  if devExt.WriteMdlChain then DestroyMdlChain(devExt.WriteMdlChain) end
  if devExt.ReadMdlChain then DestroyMdlChain(devExt.ReadMdlChain) end
  devExt.WriteMdlChain, devExt.ReadMdlChain = nil, nil
end

-- PLxEvtDevicePrepareHardware / PLxPrepareHardware: BAR0, the registers
-- (devExt.Regs), the first memory range that holds them;
-- PLxEvtDeviceReleaseHardware unmaps them.
local PLxEvtDevicePrepareHardware, PLxEvtDeviceReleaseHardware =
  plumbing.kmdf_register_callbacks(PLxGetDeviceContext, "Regs", R.REGISTERS)

-- PLxEvtDeviceD0Entry: PLxInitWrite and PLxInitRead.
local function PLxEvtDeviceD0Entry(Device, _)
  local devExt = PLxGetDeviceContext(Device)
  WRITE_ULONG(devExt, R.DMADAC0, 0)
  devExt.DmaCsr[0] = 0
  WRITE_ULONG(devExt, R.DMADAC1, 0)
  devExt.DmaCsr[1] = 0
  return STATUS_SUCCESS
end

-- PLxEvtDeviceD0Exit: PLxShutdown, PLxHardwareReset (the interrupt is
-- already disabled).
local function PLxEvtDeviceD0Exit(Device, _)
  local devExt = PLxGetDeviceContext(Device)
  local cntrl = READ_ULONG(devExt, R.CNTRL)
  WRITE_ULONG(devExt, R.CNTRL, cntrl | R.SOFTWARE_RESET)
  WRITE_ULONG(devExt, R.CNTRL, cntrl & ~R.SOFTWARE_RESET)
  return STATUS_SUCCESS
end

-- PLxEvtDeviceAdd.
local function PLxEvtDeviceAdd(Driver, DeviceInit)
  local pnpPowerCallbacks = { EvtDevicePrepareHardware = PLxEvtDevicePrepareHardware,
    EvtDeviceReleaseHardware = PLxEvtDeviceReleaseHardware, EvtDeviceD0Entry = PLxEvtDeviceD0Entry,
    EvtDeviceD0Exit = PLxEvtDeviceD0Exit }
  local status, device, devExt = plumbing.kmdf_create_device(DeviceInit, pnpPowerCallbacks,
                                                             "DEVICE_EXTENSION", PlxEvtDeviceCleanup)
  if not device then return status end
  devExt.Device = device
  devExt.Machine = WdfDeviceWdmGetDeviceObject(device).machine
  devExt.IntCsr, devExt.DmaCsr = 0, { [0] = 0, [1] = 0 }
  devExt.Stats = { read_dma = 0, write_dma = 0, dtes = 0, max_dtes = 0, high_dtes = 0, isr = 0, dpc = 0,
                   failed = 0 }
  return PLxInitializeDeviceExtension(devExt, driver.options[Driver] or {})
end

-- DriverEntry: WdfDriverCreate -> status, WDFDRIVER (driver.options: each
-- WDFDRIVER's options).
return plumbing.kmdf_driver_entry(driver, PLxEvtDeviceAdd)
