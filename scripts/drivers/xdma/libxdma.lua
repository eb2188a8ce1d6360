-- xdma/libxdma.lua: a Lua port of libxdma, the static kernel library of
-- Xilinx's XDMA Device Driver for Windows (the KMDF sample driver for the
-- "DMA/Bridge Subsystem for PCIe" IP), from the Xilinx XDMA_Windows release
-- as mirrored at github.com/yiyaowen/xdma_driver_win, commit 3670f57 (the
-- unmodified import): libxdma/device.c, dma_engine.c, interrupt.c,
-- pcie_common.h and the structures of reg.h, dma_engine.h, device.h,
-- interrupt.h. Function names, their order of WDK calls and register
-- writes are the C code's; the register blocks and descriptors are
-- declared once as dma.struct layouts and reached through them.
--
--   XDMA_DeviceOpen   MapBARs (every memory BAR, MmMapIoSpace), IdentifyBars
--                     (the config BAR is the one whose IRQ and config blocks
--                     carry the XDMA identifier; user BAR 0 if the config BAR
--                     is 1; a bypass BAR after it), GetRegisterModules,
--                     GetVersion, SetupInterrupts, WdfDeviceSetAlignment-
--                     Requirement(8 - 1), WdfDmaEnablerCreate(ScatterGather64-
--                     Duplex, 8 MiB), ProbeEngines
--   ProbeEngines      EngineCreate for each engine whose identifier answers:
--                     interrupt bits, the poll writeback common buffer, the
--                     alignments, the descriptor common buffer (its address in
--                     firstDescLo/Hi) and one WDFDMATRANSACTION per engine
--   XDMA_EngineProgramDma  EvtProgramDma: one DMA_DESCRIPTOR per S/G element
--                     (host address from the list, card address = the
--                     request's DeviceOffset + bytes transferred so far), the
--                     last with STOP | COMPLETED, OptimizeDescriptors (the
--                     adjacent counts for block fetches), EngineStart
--   EngineProcessTransfer  the engine's work on its interrupt (or after
--                     polling): statusRC, EngineStop, WdfDmaTransaction-
--                     DmaCompleted, then Unmark cancelable, Release, complete
--   interrupts        SetupInterrupts: MSI-X (24 vectors), multi-message MSI,
--                     else one line or MSI for all (EvtInterruptIsr reads
--                     channelIntRequest, masks what fired, queues the DPC;
--                     EvtInterruptDpc runs each engine's work and unmasks)
--
-- What differs from the C code, and why:
--   * AXI-ST (streaming) engines are not ported: EngineCreateRingBuffer,
--     EngineProcessRing, EngineRingSetup/Teardown/CopyBytesToMemory and
--     EnginePollRing serve C2H streaming engines only, and the model
--     (xdma/model.lua) is an AXI-MM IP; EngineCreate refuses an ST engine.
--   * GetNumMsiVectors and GetLineInterruptPin read PCI configuration space
--     through WdfFdoQueryForInterface(GUID_BUS_INTERFACE_STANDARD), which
--     dmalab does not model: GetNumMsiVectors reports STATUS_NOT_SUPPORTED
--     (as a failed query does; SetupInterrupts only logs it) and
--     GetLineInterruptPin INTA (1), the pin the model's line uses (with its
--     single-message MSI the pin is not read).
--   * SetupMsixInterrupts and SetupMultiMsiInterrupts are ported but not
--     reached: dmalab's devices have at most 8 interrupts, the C code needs
--     24 for either.
--   * The user event interrupts (XDMA_UserIsrRegister and the user ISR/DPC)
--     are ported; nothing raises them (the model has no user logic).
--   * Poll mode spins on the writeback word as the C code does; a spinning
--     CPU lets simulated time pass, so each turn of the loop runs the
--     machine's next event (m:step(), the lab's own) where the C code just
--     reads the volatile word again.
--   * Tracing (TraceVerbose/TraceInfo/...) and DumpDescriptor are left out;
--     what the traces would show is counted in the engine (misaligned,
--     errors, lastErrorStatus) and the IRQ context (spurious).
--   * ClearBeforeCompleted (the xdma table's, from DriverEntry's options):
--     EngineProcessTransfer zeroes the descriptor buffer after
--     WdfDmaTransactionDmaCompleted, as this release does. When the
--     transaction has another DMA operation to do (a request over 8 MiB, or
--     a list the framework splits), DmaCompleted has already programmed it
--     and started the engine, so its descriptors are zeroed before the
--     engine fetches them: MAGIC_STOPPED, then the error path releases a
--     transaction in state Transfer (bug check 0x10D). Xilinx's later
--     release zeroes them before DmaCompleted; ClearBeforeCompleted = true
--     does that.
--   * In poll mode the driver polls a request's first DMA operation only
--     (EnginePollTransfer once, after WdfDmaTransactionExecute): a request
--     the framework splits never completes, in C as here.
local dma = require "dma"
dma.export()

local lib = {}

-- ---- reg.h ---------------------------------------------------------------------------
local function BIT_N(n) return 1 << n end
local XDMA_ID_MASK, XDMA_ID = 0xFFF00000, 0x1FC00000
local XDMA_ID_ST_BIT = BIT_N(15)
local BLOCK_OFFSET = 0x1000
local IRQ_BLOCK_OFFSET, CONFIG_BLOCK_OFFSET = 2 * BLOCK_OFFSET, 3 * BLOCK_OFFSET
local SGDMA_BLOCK_OFFSET, SGDMA_COMMON_BLOCK_OFFSET = 4 * BLOCK_OFFSET, 6 * BLOCK_OFFSET
local ENGINE_OFFSET = 0x100
local XDMA_CTRL_RUN_BIT = BIT_N(0)
local XDMA_CTRL_IE_IDLE_STOPPED = BIT_N(6)
local XDMA_CTRL_NON_INCR_ADDR, XDMA_CTRL_POLL_MODE = BIT_N(25), BIT_N(26)
local XDMA_CTRL_IE_ALL = BIT_N(1) | BIT_N(2) | BIT_N(3) | BIT_N(4) | BIT_N(5) | (0x1f << 9) | (0x1f << 14)
                         | (0x1f << 19)
local XDMA_BUSY_BIT = BIT_N(0)
local XDMA_STAT_EXPECTED_ZERO = XDMA_BUSY_BIT | BIT_N(4) | BIT_N(5) | BIT_N(3) | (0x1f << 9) | (0x1f << 19)
local XDMA_ENGINE_STOPPED_OK = 0
local XDMA_DESC_STOP_BIT, XDMA_DESC_COMPLETED_BIT, XDMA_DESC_EOP_BIT = BIT_N(0), BIT_N(1), BIT_N(4)
local XDMA_PERF_RUN, XDMA_PERF_CLEAR, XDMA_PERF_AUTO = BIT_N(0), BIT_N(1), BIT_N(2)
lib.XDMA_CTRL_NON_INCR_ADDR = XDMA_CTRL_NON_INCR_ADDR

local U32 = "ULONG"
local XDMA_ENGINE_REGS = dma.struct {
  { "identifier", U32 }, { "control", U32 }, { "controlW1S", U32 }, { "controlW1C", U32 },
  { "reserved_1", U32, 12 },
  { "status", U32 }, { "statusRC", U32 }, { "completedDescCount", U32 }, { "alignments", U32 },
  { "reserved_2", U32, 14 }, { "pollModeWbLo", U32 }, { "pollModeWbHi", U32 }, { "intEnableMask", U32 },
  { "intEnableMaskW1S", U32 }, { "intEnableMaskW1C", U32 }, { "reserved_3", U32, 9 }, { "perfCtrl", U32 },
  { "perfCycLo", U32 }, { "perfCycHi", U32 }, { "perfDatLo", U32 }, { "perfDatHi", U32 },
  { "perfPndLo", U32 },
  { "perfPndHi", U32 } }
local XDMA_IRQ_REGS = dma.struct {
  { "identifier", U32 }, { "userIntEnable", U32 }, { "userIntEnableW1S", U32 }, { "userIntEnableW1C", U32 },
  { "channelIntEnable", U32 }, { "channelIntEnableW1S", U32 }, { "channelIntEnableW1C", U32 },
  { "reserved_1", U32, 9 }, { "userIntRequest", U32 }, { "channelIntRequest", U32 },
  { "userIntPending", U32 },
  { "channelIntPending", U32 }, { "reserved_2", U32, 12 }, { "userVector", U32, 4 }, { "reserved_3", U32, 4 },
  { "channelVector", U32, 2 } }
local XDMA_CONFIG_REGS = dma.struct {
  { "identifier", U32 }, { "busDev", U32 }, { "pcieMPS", U32 }, { "pcieMRRS", U32 }, { "systemId", U32 },
  { "msiEnable", U32 }, { "pcieWidth", U32 }, { "pcieControl", U32 }, { "reserved_1", U32, 8 },
  { "userMPS", U32 },
  { "userMRRS", U32 }, { "reserved_2", U32, 6 }, { "writeFlushTimeout", U32 } }
local XDMA_SGDMA_REGS = dma.struct {
  { "identifier", U32 }, { "reserved_1", U32, 31 }, { "firstDescLo", U32 }, { "firstDescHi", U32 },
  { "firstDescAdj", U32 }, { "descCredits", U32 } }
local XDMA_SGDMA_COMMON_REGS = dma.struct {
  { "identifier", U32 }, { "reserved_1", U32, 3 }, { "control", U32 }, { "controlW1S", U32 },
  { "controlW1C", U32 }, { "reserved_2", U32 }, { "creditModeEnable", U32 }, { "creditModeEnableW1S", U32 },
  { "creditModeEnableW1C", U32 } }
assert(XDMA_ENGINE_REGS:offset("status") == 0x40 and XDMA_ENGINE_REGS:offset("perfCtrl") == 0xC0)
assert(XDMA_IRQ_REGS:offset("channelVector") == 0xA0 and XDMA_CONFIG_REGS:offset("writeFlushTimeout") == 0x60)
assert(XDMA_SGDMA_REGS:offset("firstDescLo") == 0x80)

-- The volatile register structures of the C code: regs.field reads and
-- regs.field = v writes the device register (READ/WRITE_REGISTER_ULONG);
-- regs:at(field, i) is the address of element i of an array field.
local function Registers(T, base)
  local offsets = {}
  return setmetatable({ base = base }, {
    __index = function(_, field)
      offsets[field] = offsets[field] or T:offset(field)
      return READ_REGISTER_ULONG(base + offsets[field])
    end,
    __newindex = function(_, field, v)
      offsets[field] = offsets[field] or T:offset(field)
      WRITE_REGISTER_ULONG(base + offsets[field], v & 0xFFFFFFFF)
    end,
  })
end
local function RegisterAt(T, base, field, i) return base + T:offset(field) + 4 * i end

-- ---- dma_engine.h / device.h / interrupt.h -----------------------------------------------
local H2C, C2H = 0, 1
local XDMA_MAX_NUM_CHANNELS, XDMA_MAX_NUM_BARS = 4, 3
local XDMA_MAX_CHAN_IRQ = 2 * XDMA_MAX_NUM_CHANNELS
local XDMA_MAX_TRANSFER_SIZE = 8 * 1024 * 1024
local XDMA_MAX_USER_IRQ = 16
local XMDA_MAX_NUM_IRQ = XDMA_MAX_USER_IRQ + XDMA_MAX_CHAN_IRQ
local EngineType_MM, EngineType_ST = 0, 1
local AddressMode_Contiguous, AddressMode_Fixed = 0, 1
local XDMA_ENG_IRQ_NUM, XDMA_DESC_MAGIC = 1, 0xAD4B0000
local XDMA_WB_COUNT_MASK, XDMA_WB_ERR_MASK = 0x00ffffff, BIT_N(31)
local v2017_1 = 6
lib.H2C, lib.C2H = H2C, C2H
lib.XDMA_MAX_NUM_CHANNELS, lib.XDMA_MAX_USER_IRQ = XDMA_MAX_NUM_CHANNELS, XDMA_MAX_USER_IRQ
lib.EngineType_MM, lib.EngineType_ST = EngineType_MM, EngineType_ST

local DMA_DESCRIPTOR = dma.struct {
  { "control", U32 }, { "numBytes", U32 }, { "srcAddrLo", U32 }, { "srcAddrHi", U32 }, { "dstAddrLo", U32 },
  { "dstAddrHi", U32 }, { "nextLo", U32 }, { "nextHi", U32 } }
local XDMA_POLL_WB = dma.struct { { "completedDescCount", U32 }, { "reserved_1", U32, 7 } }
lib.DMA_DESCRIPTOR = DMA_DESCRIPTOR

local STATUS_DEVICE_CONFIGURATION_ERROR, STATUS_DRIVER_INTERNAL_ERROR = 0xC0000182, 0xC0000183
local STATUS_INTERNAL_ERROR, STATUS_NOT_SUPPORTED = 0xC00000E5, 0xC00000BB

local function LowPart(pa) return pa & 0xFFFFFFFF end
local function HighPart(pa) return (pa >> 32) & 0xFFFFFFFF end
local function IrqContext(Interrupt) return WdfObjectGetTypedContext(Interrupt, "IRQ_CONTEXT") end
lib.GetIrqContext = IrqContext

-- ======================== device.c ============================================================

local function GetVersion(xdma) return xdma.configRegs.identifier & 0xff end

-- DeviceDefaultInitialize: bars, registers, engines (all disabled) and user events.
local function DeviceDefaultInitialize(xdma)
  xdma.numBars, xdma.bar, xdma.barLength = 0, {}, {}
  xdma.configBarIdx, xdma.userBarIdx, xdma.bypassBarIdx = 0, -1, -1
  xdma.configRegs, xdma.interruptRegs, xdma.sgdmaRegs = nil, nil, nil
  xdma.engines = {}
  for ch = 0, XDMA_MAX_NUM_CHANNELS - 1 do
    xdma.engines[ch] = { [H2C] = { enabled = false, poll = false },
                         [C2H] = { enabled = false, poll = false } }
  end
  xdma.channelInterrupts, xdma.userEvents = {}, {}
  for i = 0, XDMA_MAX_USER_IRQ - 1 do xdma.userEvents[i] = { work = nil, userData = nil } end
end

-- MapBARs: every memory resource, in order, is BAR numBars.
local function MapBARs(xdma, ResourcesTranslated)
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local resource = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if not resource then return STATUS_DEVICE_CONFIGURATION_ERROR end
    if resource.Type == CmResourceTypeMemory and xdma.numBars < XDMA_MAX_NUM_BARS then
      xdma.barLength[xdma.numBars] = resource.u.Memory.Length
      xdma.bar[xdma.numBars] = MmMapIoSpace(resource.u.Memory.Start, resource.u.Memory.Length, MmNonCached)
      if not xdma.bar[xdma.numBars] then return STATUS_DEVICE_CONFIGURATION_ERROR end
      xdma.numBars = xdma.numBars + 1
    end
  end
  return STATUS_SUCCESS
end

local function IsConfigBAR(xdma, idx)
  local irqRegs = Registers(XDMA_IRQ_REGS, xdma.bar[idx] + IRQ_BLOCK_OFFSET)
  local cfgRegs = Registers(XDMA_CONFIG_REGS, xdma.bar[idx] + CONFIG_BLOCK_OFFSET)
  local interruptID = irqRegs.identifier & XDMA_ID_MASK
  local configID = cfgRegs.identifier & XDMA_ID_MASK
  return interruptID == XDMA_ID and configID == XDMA_ID
end

local function FindConfigBAR(xdma)
  for i = 0, xdma.numBars - 1 do
    if IsConfigBAR(xdma, i) then return i end
  end
  return xdma.numBars
end

local function IdentifyBars(xdma)
  xdma.configBarIdx = FindConfigBAR(xdma)
  if xdma.configBarIdx == xdma.numBars then return STATUS_DRIVER_INTERNAL_ERROR end
  xdma.userBarIdx = xdma.configBarIdx == 1 and 0 or -1
  xdma.bypassBarIdx = xdma.numBars - xdma.configBarIdx == 2 and xdma.numBars - 1 or -1
  return STATUS_SUCCESS
end

local function GetRegisterModules(xdma)
  local configBarAddr = xdma.bar[xdma.configBarIdx]
  xdma.configRegs = Registers(XDMA_CONFIG_REGS, configBarAddr + CONFIG_BLOCK_OFFSET)
  xdma.interruptRegs = Registers(XDMA_IRQ_REGS, configBarAddr + IRQ_BLOCK_OFFSET)
  xdma.sgdmaRegs = Registers(XDMA_SGDMA_COMMON_REGS, configBarAddr + SGDMA_COMMON_BLOCK_OFFSET)
end

local SetupInterrupts, ProbeEngines, SetVectors

-- XDMA_DeviceOpen(wdfDevice, xdma, ResourcesRaw, ResourcesTranslated).
function lib.XDMA_DeviceOpen(wdfDevice, xdma, ResourcesRaw, ResourcesTranslated)
  DeviceDefaultInitialize(xdma)
  xdma.wdfDevice = wdfDevice
  xdma.machine = WdfDeviceWdmGetDeviceObject(wdfDevice).machine
  local status = MapBARs(xdma, ResourcesTranslated)
  if not NT_SUCCESS(status) then return status end
  status = IdentifyBars(xdma)
  if not NT_SUCCESS(status) then return status end
  GetRegisterModules(xdma)
  xdma.version = GetVersion(xdma)
  xdma.versionMismatch = xdma.version ~= v2017_1           -- the C code traces a warning
  status = SetupInterrupts(xdma, ResourcesRaw, ResourcesTranslated)
  if not NT_SUCCESS(status) then return status end
  -- WDF DMA Enabler - at least 8 bytes alignment
  WdfDeviceSetAlignmentRequirement(xdma.wdfDevice, 8 - 1)
  local dmaConfig = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather64Duplex, XDMA_MAX_TRANSFER_SIZE)
  status, xdma.dmaEnabler = WdfDmaEnablerCreate(xdma.wdfDevice, dmaConfig, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  return ProbeEngines(xdma)
end

-- XDMA_DeviceClose: the vectors reset, the BARs unmapped.
function lib.XDMA_DeviceClose(xdma)
  if xdma and xdma.interruptRegs then SetVectors(xdma, { 0, 0, 0, 0 }, { 0, 0 }) end
  for i = 0, (xdma.numBars or 0) - 1 do
    if xdma.bar[i] then
      MmUnmapIoSpace(xdma.bar[i], xdma.barLength[i])
      xdma.bar[i] = nil
    end
  end
end

-- ======================== dma_engine.c ========================================================

local function DirectionToString(dir) return dir == H2C and "H2C" or "C2H" end
lib.DirectionToString = DirectionToString

local function Descriptors(engine, n)
  local va = WdfCommonBufferGetAlignedVirtualAddress(engine.descBuffer)
  return DMA_DESCRIPTOR:array(engine.parentDevice.machine, va, n)
end

local function EngineCreateDescriptorBuffer(engine)
  local bufferSize = (XDMA_MAX_TRANSFER_SIZE // PAGE_SIZE + 2) * DMA_DESCRIPTOR.size
  local status
  status, engine.descBuffer = WdfCommonBufferCreate(engine.parentDevice.dmaEnabler, bufferSize,
                                                    WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local descBufferLA = WdfCommonBufferGetAlignedLogicalAddress(engine.descBuffer)
  RtlZeroMemory(WdfCommonBufferGetAlignedVirtualAddress(engine.descBuffer), bufferSize)
  engine.sgdma.firstDescLo = LowPart(descBufferLA)
  engine.sgdma.firstDescHi = HighPart(descBufferLA)
  engine.sgdma.firstDescAdj = 0
  return status
end

local function EngineConfigureInterrupt(engine, index)
  engine.irqBitMask = ((1 << XDMA_ENG_IRQ_NUM) - 1) << (index * XDMA_ENG_IRQ_NUM)
  local interrupt = engine.parentDevice.channelInterrupts[index]
  if interrupt then IrqContext(interrupt).engine = engine end
  local regVal = XDMA_CTRL_IE_ALL
  if engine.type == EngineType_ST and engine.dir == C2H then regVal = regVal | XDMA_CTRL_IE_IDLE_STOPPED end
  engine.regs.intEnableMaskW1S = regVal
  engine.regs.controlW1S = regVal
end

local function EngineStatus(engine, clear)
  if clear then return engine.regs.statusRC end
  return engine.regs.status
end

function lib.EngineStart(engine) engine.regs.controlW1S = XDMA_CTRL_RUN_BIT end
function lib.EngineStop(engine) engine.regs.controlW1C = XDMA_CTRL_RUN_BIT end

-- The descriptor buffer and the poll writeback buffer zeroed.
local function ClearDescriptors(engine)
  RtlZeroMemory(WdfCommonBufferGetAlignedVirtualAddress(engine.descBuffer),
                WdfCommonBufferGetLength(engine.descBuffer))
  if engine.poll then
    RtlZeroMemory(WdfCommonBufferGetAlignedVirtualAddress(engine.pollWbBuffer),
                  WdfCommonBufferGetLength(engine.pollWbBuffer))
  end
end

-- EngineProcessTransfer: service an SGDMA engine (its work on interrupt or after polling).
local function EngineProcessTransfer(engine)
  local request = WdfDmaTransactionGetRequest(engine.dmaTransaction)
  if not request then return end                         -- "Interrupt but no request pending?"
  local engineStatus = EngineStatus(engine, true)
  lib.EngineStop(engine)
  if engine.parentDevice.ClearBeforeCompleted then ClearDescriptors(engine) end
  if engineStatus & XDMA_STAT_EXPECTED_ZERO == XDMA_ENGINE_STOPPED_OK then
    -- (the C code keeps the statuses only to trace them: the request is
    -- completed with WdfDmaTransactionRelease's)
    local completed = WdfDmaTransactionDmaCompleted(engine.dmaTransaction)
    local bytesTransferred = WdfDmaTransactionGetBytesTransferred(engine.dmaTransaction)
    if completed then
      WdfRequestUnmarkCancelable(request)
      local status = WdfDmaTransactionRelease(engine.dmaTransaction)
      WdfRequestCompleteWithInformation(request, status, bytesTransferred)
    end
  else                                                   -- still busy, or any sign of errors
    engine.errors = (engine.errors or 0) + 1
    engine.lastErrorStatus = engineStatus
    WdfRequestUnmarkCancelable(request)
    WdfDmaTransactionRelease(engine.dmaTransaction)
    WdfRequestComplete(request, STATUS_INTERNAL_ERROR)
  end
  -- clear descriptor buffer (and the poll writeback buffer): after
  -- WdfDmaTransactionDmaCompleted, which has programmed the next DMA
  -- operation of a split transaction already (see the header)
  if not engine.parentDevice.ClearBeforeCompleted then ClearDescriptors(engine) end
end

local function DescriptorIsAligned(engine, desc)
  if engine.addressMode == AddressMode_Fixed then
    local dataPathWidth = (1 << (6 + engine.parentDevice.configRegs.pcieWidth)) // 8
    local addrMask = dataPathWidth - 1
    return desc.dstAddrLo & addrMask == desc.srcAddrLo & addrMask
  end
  return desc.dstAddrLo % engine.alignAddr == 0 and desc.numBytes % engine.alignLength == 0
         and desc.srcAddrLo % engine.alignAddr == 0
end

-- OptimizeDescriptors: the adjacent counts of the block fetches (PCIe MRRS,
-- no block across 4 KiB, the descriptors left).
local function OptimizeDescriptors(engine, desc, numDesc)
  local size = DMA_DESCRIPTOR.size
  local mrrsBytes = 1 << (engine.parentDevice.configRegs.pcieMRRS + 7)
  local adjMax = mrrsBytes // size - 1
  local adjTotal = numDesc - 1
  local adjTo4k = (0x1000 - (engine.sgdma.firstDescLo & 0xFFF)) // size - 1
  local firstAdj = math.min(adjTotal, adjMax)
  engine.sgdma.firstDescAdj = math.min(adjTo4k, firstAdj)
  local nextAdjMax = adjMax - 1
  for i = 0, numDesc - 1 do
    local nextAdjTotal = i ~= adjTotal and adjTotal - (i + 1) or 0
    local nextAdjTo4k = (0x1000 - (desc[i].nextLo & 0xFFF)) // size - 1
    local nextAdj = math.min(nextAdjTotal, nextAdjMax)
    if nextAdj > nextAdjTo4k then nextAdj = nextAdjTo4k end
    desc[i].control = desc[i].control | (nextAdj << 8)
    if nextAdjMax ~= 0 then nextAdjMax = nextAdjMax - 1 else nextAdjMax = adjMax end
  end
end

local function EngineExists(xdma, dir, channel)
  local offset = dir * BLOCK_OFFSET + channel * ENGINE_OFFSET
  local engineRegs = Registers(XDMA_ENGINE_REGS, xdma.bar[xdma.configBarIdx] + offset)
  local engineID = engineRegs.identifier
  return engineID & XDMA_ID_MASK == XDMA_ID
end

local function EngineGetAlignments(engine)
  local alignments = engine.regs.alignments
  if alignments ~= 0 then
    engine.alignAddr = (alignments & 0x00ff0000) >> 16
    engine.alignLength = (alignments & 0x0000ff00) >> 8
    engine.alignAddrBits = alignments & 0x000000ff
  else
    engine.alignAddr, engine.alignLength, engine.alignAddrBits = 1, 1, 64
  end
end

local function EngineCreatePollWriteBackBuffer(engine)
  local status
  status, engine.pollWbBuffer = WdfCommonBufferCreate(engine.parentDevice.dmaEnabler, XDMA_POLL_WB.size,
                                                      WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  local wbBufferLA = WdfCommonBufferGetAlignedLogicalAddress(engine.pollWbBuffer)
  RtlZeroMemory(WdfCommonBufferGetAlignedVirtualAddress(engine.pollWbBuffer), XDMA_POLL_WB.size)
  engine.regs.pollModeWbLo = LowPart(wbBufferLA)
  engine.regs.pollModeWbHi = HighPart(wbBufferLA)
  return status
end

local function EngineCreate(xdma, engine, dir, channel, engineIndex)
  engine.parentDevice, engine.channel, engine.dir = xdma, channel, dir
  local offset = dir * BLOCK_OFFSET + channel * ENGINE_OFFSET
  local configBarAddr = xdma.bar[xdma.configBarIdx]
  engine.regs = Registers(XDMA_ENGINE_REGS, configBarAddr + offset)
  engine.sgdma = Registers(XDMA_SGDMA_REGS, configBarAddr + offset + SGDMA_BLOCK_OFFSET)
  engine.type = engine.regs.identifier & XDMA_ID_ST_BIT ~= 0 and EngineType_ST or EngineType_MM
  engine.addressMode = engine.regs.control & XDMA_CTRL_NON_INCR_ADDR ~= 0 and AddressMode_Fixed
                       or AddressMode_Contiguous
  EngineConfigureInterrupt(engine, engineIndex)
  local status = EngineCreatePollWriteBackBuffer(engine)
  if not NT_SUCCESS(status) then return status end
  EngineGetAlignments(engine)
  status = EngineCreateDescriptorBuffer(engine)
  if not NT_SUCCESS(status) then return status end
  status, engine.dmaTransaction = WdfDmaTransactionCreate(xdma.dmaEnabler, WDF_NO_OBJECT_ATTRIBUTES)
  if not NT_SUCCESS(status) then return status end
  if engine.type == EngineType_ST and engine.dir == C2H then
    return STATUS_NOT_SUPPORTED                        -- the streaming ring is not ported (see the header)
  end
  engine.work = EngineProcessTransfer
  engine.enabled = true
  return status
end

-- XDMA_EngineProgramDma: EvtProgramDma (Transaction, Device, Context = the engine, Direction, SgList).
function lib.XDMA_EngineProgramDma(Transaction, _, context, Direction, SgList)
  local request = WdfDmaTransactionGetRequest(Transaction)
  local params = WdfRequestGetParameters(request)
  local deviceOffset = Direction == WdfDmaDirectionWriteToDevice and params.Parameters.Write.DeviceOffset
                       or params.Parameters.Read.DeviceOffset
  local engine = context
  local n = SgList.NumberOfElements
  local descriptor = Descriptors(engine, n)
  local descBufferLA = WdfCommonBufferGetAlignedLogicalAddress(engine.descBuffer)
  -- offset into the transaction (if it is split)
  deviceOffset = deviceOffset + WdfDmaTransactionGetBytesTransferred(Transaction)
  for i = 0, n - 1 do
    local d, e = descriptor[i], SgList.Elements[i]
    d.control = XDMA_DESC_MAGIC
    d.numBytes = e.Length
    if Direction == WdfDmaDirectionWriteToDevice then   -- source is host memory
      d.srcAddrLo, d.srcAddrHi = LowPart(e.Address), HighPart(e.Address)
      d.dstAddrLo, d.dstAddrHi = LowPart(deviceOffset), HighPart(deviceOffset)
    else                                                -- destination is host memory
      d.srcAddrLo, d.srcAddrHi = LowPart(deviceOffset), HighPart(deviceOffset)
      d.dstAddrLo, d.dstAddrHi = LowPart(e.Address), HighPart(e.Address)
    end
    descBufferLA = descBufferLA + DMA_DESCRIPTOR.size
    if i + 1 < n then                                   -- non-last descriptor(s)
      d.nextLo, d.nextHi = LowPart(descBufferLA), HighPart(descBufferLA)
    else                                                -- last: stop and request an interrupt
      d.nextLo, d.nextHi = 0, 0
      d.control = d.control | XDMA_DESC_STOP_BIT | XDMA_DESC_COMPLETED_BIT
      if engine.type == EngineType_ST then d.control = d.control | XDMA_DESC_EOP_BIT end
    end
    if engine.addressMode == AddressMode_Contiguous then deviceOffset = deviceOffset + e.Length end
    if not DescriptorIsAligned(engine, d) then engine.misaligned = (engine.misaligned or 0) + 1 end
  end
  OptimizeDescriptors(engine, descriptor, n)
  if engine.poll then engine.numDescriptors = n end
  lib.EngineStart(engine)
  return TRUE
end

ProbeEngines = function(xdma)
  local engineIndex = 0
  for dir = H2C, C2H do
    for ch = 0, XDMA_MAX_NUM_CHANNELS - 1 do
      if EngineExists(xdma, dir, ch) then
        local status = EngineCreate(xdma, xdma.engines[ch][dir], dir, ch, engineIndex)
        if not NT_SUCCESS(status) then return status end
        engineIndex = engineIndex + 1
      end
    end
  end
  return STATUS_SUCCESS
end

function lib.EngineEnableInterrupt(engine)
  engine.parentDevice.interruptRegs.channelIntEnableW1S = engine.irqBitMask
end

function lib.EngineDisableInterrupt(engine)
  engine.parentDevice.interruptRegs.channelIntEnableW1C = engine.irqBitMask
end

-- EnginePollTransfer: spin on the writeback word until the engine has
-- completed the descriptors of the transfer, then process it.
function lib.EnginePollTransfer(engine)
  local m = engine.parentDevice.machine
  local writeback_data = XDMA_POLL_WB:at(m, WdfCommonBufferGetAlignedVirtualAddress(engine.pollWbBuffer))
  local expected = engine.numDescriptors
  local actual
  repeat
    actual = writeback_data.completedDescCount
    if actual & XDMA_WB_ERR_MASK ~= 0 then return STATUS_INTERNAL_ERROR end
    actual = actual & XDMA_WB_COUNT_MASK
    if actual > expected then actual = expected | XDMA_WB_ERR_MASK end
    -- the spinning CPU lets the simulated time pass (see the header)
    if expected ~= actual then assert(m:step(), "EnginePollTransfer: the engine will never complete") end
  until expected == actual
  EngineProcessTransfer(engine)
  return STATUS_SUCCESS
end

function lib.EngineStartPerf(engine)
  engine.regs.perfCtrl = XDMA_PERF_CLEAR
  engine.regs.perfCtrl = XDMA_PERF_AUTO | XDMA_PERF_RUN
end

-- EngineGetPerf: the XDMA_PERF_DATA counters.
function lib.EngineGetPerf(engine)
  local r = engine.regs
  return { clockCycleCount = (r.perfCycHi << 32) + r.perfCycLo,
           dataCycleCount = (r.perfDatHi << 32) + r.perfDatLo,
           pendingCount = (r.perfPndHi << 32) + r.perfPndHi }   -- sic: the C code adds perfPndHi twice
end

function lib.XDMA_EngineSetPollMode(engine, pollMode)
  if engine.enabled then
    if pollMode then
      engine.regs.controlW1S = XDMA_CTRL_POLL_MODE
      engine.regs.controlW1C = XDMA_CTRL_IE_ALL
    else
      engine.regs.controlW1C = XDMA_CTRL_POLL_MODE
      engine.regs.controlW1S = XDMA_CTRL_IE_ALL
    end
    engine.poll = pollMode
  end
end

-- ======================== pcie_common.h (reduced: see the header) ============================

local function GetNumMsiVectors(_) return STATUS_NOT_SUPPORTED, 0 end
local function GetLineInterruptPin(_) return STATUS_SUCCESS, 1 end

-- ======================== interrupt.c =========================================================

local function BuildVectorReg(a, b, c, d)
  return (a & 0x1f) | (b & 0x1f) << 8 | (c & 0x1f) << 16 | (d & 0x1f) << 24
end

SetVectors = function(xdma, user, channel)
  local base = xdma.interruptRegs.base
  for i = 0, 3 do WRITE_REGISTER_ULONG(RegisterAt(XDMA_IRQ_REGS, base, "userVector", i), user[i + 1]) end
  for i = 0, 1 do
    WRITE_REGISTER_ULONG(RegisterAt(XDMA_IRQ_REGS, base, "channelVector", i), channel[i + 1])
  end
end

-- ---- line/msi interrupt callback functions ----
local function EvtInterruptEnable(Interrupt, _)
  local irq = IrqContext(Interrupt)
  irq.regs.channelIntEnableW1S = 0xFFFFFFFF
  irq.regs.userIntEnableW1S = 0xFFFFFFFF
  return STATUS_SUCCESS
end

local function EvtInterruptDisable(Interrupt, _)
  local irq = IrqContext(Interrupt)
  irq.regs.channelIntEnableW1C = 0xFFFFFFFF
  irq.regs.userIntEnableW1C = 0xFFFFFFFF
  return STATUS_SUCCESS
end

local function EvtInterruptIsr(Interrupt, _)
  local irq = IrqContext(Interrupt)
  local chIrq = irq.regs.channelIntRequest
  if chIrq ~= 0 then
    irq.channelIrqPending = irq.channelIrqPending | chIrq  -- remember fired channel interrupts
    irq.regs.channelIntEnableW1C = chIrq                  -- disable fired channel interrupts
  end
  local userIrq = irq.regs.userIntRequest
  if userIrq ~= 0 then
    irq.userIrqPending = irq.userIrqPending | userIrq
    irq.regs.userIntEnableW1C = userIrq
  end
  if chIrq == 0 and userIrq == 0 then
    irq.spurious = (irq.spurious or 0) + 1
    return FALSE
  end
  WdfInterruptQueueDpcForIsr(Interrupt)
  return TRUE
end

local function EvtInterruptDpc(interrupt, _)
  local irq = IrqContext(interrupt)
  for dir = H2C, C2H do
    for channel = 0, XDMA_MAX_NUM_CHANNELS - 1 do
      local engine = irq.xdma.engines[channel][dir]
      if engine.enabled and irq.channelIrqPending & engine.irqBitMask ~= 0 then engine.work(engine) end
    end
  end
  for i = 0, XDMA_MAX_USER_IRQ - 1 do
    local userEvent = irq.xdma.userEvents[i]
    if irq.userIrqPending & BIT_N(i) ~= 0 and userEvent.work then userEvent.work(i, userEvent.userData) end
  end
  -- re-enable interrupts
  WdfInterruptAcquireLock(interrupt)
  irq.regs.channelIntEnableW1S = irq.channelIrqPending
  irq.channelIrqPending = 0
  irq.regs.userIntEnableW1S = irq.userIrqPending
  irq.userIrqPending = 0
  WdfInterruptReleaseLock(interrupt)
end

-- ---- MSI-X interrupt callback functions ----
local function EvtChannelInterruptEnable(Interrupt, _)
  lib.EngineEnableInterrupt(IrqContext(Interrupt).engine)
  return STATUS_SUCCESS
end

local function EvtChannelInterruptDisable(Interrupt, _)
  lib.EngineDisableInterrupt(IrqContext(Interrupt).engine)
  return STATUS_SUCCESS
end

local function EvtChannelInterruptIsr(Interrupt, _)
  lib.EngineDisableInterrupt(IrqContext(Interrupt).engine)
  return WdfInterruptQueueDpcForIsr(Interrupt)
end

local function EvtChannelInterruptDpc(interrupt, _)
  local irq = IrqContext(interrupt)
  irq.engine.work(irq.engine)
  WdfInterruptAcquireLock(interrupt)
  lib.EngineEnableInterrupt(irq.engine)
  WdfInterruptReleaseLock(interrupt)
end

local function EvtUserInterruptEnable(Interrupt, _)
  local irq = IrqContext(Interrupt)
  irq.regs.userIntEnableW1S = BIT_N(irq.eventId)
  return STATUS_SUCCESS
end

local function EvtUserInterruptDisable(Interrupt, _)
  local irq = IrqContext(Interrupt)
  irq.regs.userIntEnableW1C = BIT_N(irq.eventId)
  return STATUS_SUCCESS
end

local function EvtUserInterruptIsr(Interrupt, MessageID)
  IrqContext(Interrupt).regs.userIntEnableW1C = BIT_N(MessageID)
  return WdfInterruptQueueDpcForIsr(Interrupt)
end

local function EvtUserInterruptDpc(interrupt, _)
  local irq = IrqContext(interrupt)
  local userEvent = irq.xdma.userEvents[irq.eventId]
  if userEvent.work then userEvent.work(irq.eventId, userEvent.userData) end
  WdfInterruptAcquireLock(interrupt)
  irq.regs.userIntEnableW1S = BIT_N(irq.eventId)
  WdfInterruptReleaseLock(interrupt)
end

-- ---- setup ----
-- A WDFINTERRUPT of ISR/DPC/enable/disable for the raw and translated
-- descriptors, with an IRQ_CONTEXT; returns the status, the interrupt, its context.
local function CreateInterrupt(xdma, isr, dpc, enable, disable, resource, translatedResource)
  local config = WDF_INTERRUPT_CONFIG_INIT(isr, dpc)
  config.InterruptRaw = resource
  config.InterruptTranslated = translatedResource
  config.EvtInterruptEnable = enable
  config.EvtInterruptDisable = disable
  local status, interrupt = WdfInterruptCreate(xdma.wdfDevice, config,
                                               WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("IRQ_CONTEXT"))
  if not NT_SUCCESS(status) then return status end
  local irqContext = IrqContext(interrupt)
  irqContext.regs, irqContext.xdma = xdma.interruptRegs, xdma
  irqContext.channelIrqPending, irqContext.userIrqPending = 0, 0
  return status, interrupt, irqContext
end

local function SetupUserInterrupt(xdma, index, resource, translatedResource)
  local status, interrupt, irqContext = CreateInterrupt(xdma, EvtUserInterruptIsr, EvtUserInterruptDpc,
    EvtUserInterruptEnable, EvtUserInterruptDisable, resource, translatedResource)
  if not NT_SUCCESS(status) then return status end
  xdma.userEvents[index].irq = interrupt
  irqContext.eventId = index                         -- msg Id = irq index = event id
  return status
end

local function SetupChannelInterrupt(xdma, index, resource, translatedResource)
  local status, interrupt = CreateInterrupt(xdma, EvtChannelInterruptIsr, EvtChannelInterruptDpc,
    EvtChannelInterruptEnable, EvtChannelInterruptDisable, resource, translatedResource)
  if not NT_SUCCESS(status) then return status end
  xdma.channelInterrupts[index] = interrupt
  return status
end

local function SetupDeviceInterrupt(xdma, resource, translatedResource)
  local status
  status, xdma.lineInterrupt = CreateInterrupt(xdma, EvtInterruptIsr, EvtInterruptDpc, EvtInterruptEnable,
                                               EvtInterruptDisable, resource, translatedResource)
  return status
end

local function SetupSingleInterrupt(xdma, ResourcesRaw, ResourcesTranslated)
  local status, vectorValue = STATUS_INTERNAL_ERROR, 0
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local resource = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    local resourceRaw = WdfCmResourceListGetDescriptor(ResourcesRaw, i)
    if resource.Type == CmResourceTypeInterrupt then
      status = SetupDeviceInterrupt(xdma, resourceRaw, resource)
      if not NT_SUCCESS(status) then return status end
      if resource.Flags & CM_RESOURCE_INTERRUPT_MESSAGE == 0 then   -- LINE interrupt
        status, vectorValue = GetLineInterruptPin(xdma.wdfDevice)
        if not NT_SUCCESS(status) then return status end
        vectorValue = vectorValue - 1                  -- Windows: A=1 .. D=4; XDMA: A=0 .. D=3
      end
      status = STATUS_SUCCESS
      break
    end
  end
  SetVectors(xdma, { vectorValue, vectorValue, vectorValue, vectorValue }, { vectorValue, vectorValue })
  return status
end

local MSI_VECTORS_USER = { BuildVectorReg(0, 1, 2, 3), BuildVectorReg(4, 5, 6, 7),
                           BuildVectorReg(8, 9, 10, 11), BuildVectorReg(12, 13, 14, 15) }
local MSI_VECTORS_CHANNEL = { BuildVectorReg(16, 17, 18, 19), BuildVectorReg(20, 21, 22, 23) }

local function SetupMsixInterrupts(xdma, ResourcesRaw, ResourcesTranslated)
  local status, interruptCount = STATUS_SUCCESS, 0
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    if interruptCount >= XMDA_MAX_NUM_IRQ then break end
    local resource = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    local resourceRaw = WdfCmResourceListGetDescriptor(ResourcesRaw, i)
    if resource.Type == CmResourceTypeInterrupt then
      if interruptCount < XDMA_MAX_USER_IRQ then     -- the first 16 to user events, the next 8 to the engines
        status = SetupUserInterrupt(xdma, interruptCount, resourceRaw, resource)
      else
        status = SetupChannelInterrupt(xdma, interruptCount - XDMA_MAX_USER_IRQ, resourceRaw, resource)
      end
      if not NT_SUCCESS(status) then return status end
      interruptCount = interruptCount + 1
    end
  end
  SetVectors(xdma, MSI_VECTORS_USER, MSI_VECTORS_CHANNEL)
  return status
end

local function SetupMultiMsiInterrupts(xdma, ResourcesRaw, ResourcesTranslated, numVectors)
  local status = STATUS_INTERNAL_ERROR
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local resource = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    local resourceRaw = WdfCmResourceListGetDescriptor(ResourcesRaw, i)
    if resource.Type == CmResourceTypeInterrupt then
      resource.u.MessageInterrupt.Raw.MessageCount = numVectors
      resourceRaw.u.MessageInterrupt.Raw.MessageCount = numVectors
      for _ = 0, XDMA_MAX_USER_IRQ - 1 do
        status = SetupUserInterrupt(xdma, 0, resourceRaw, resource)
        if not NT_SUCCESS(status) then return status end
      end
      for n = 0, 2 * XDMA_MAX_NUM_CHANNELS - 1 do
        status = SetupChannelInterrupt(xdma, n, resourceRaw, resource)
        if not NT_SUCCESS(status) then return status end
      end
      status = STATUS_SUCCESS
      break
    end
  end
  SetVectors(xdma, MSI_VECTORS_USER, MSI_VECTORS_CHANNEL)
  return status
end

local function CountInterruptResources(ResourcesTranslated)
  local n = 0
  for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
    local resource = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
    if not resource then return STATUS_DEVICE_CONFIGURATION_ERROR, n end
    if resource.Type == CmResourceTypeInterrupt then n = n + 1 end
  end
  return STATUS_SUCCESS, n
end

SetupInterrupts = function(xdma, ResourcesRaw, ResourcesTranslated)
  local _, numIrqResources = CountInterruptResources(ResourcesTranslated)
  local _, numMsiVectors = GetNumMsiVectors(xdma.wdfDevice)      -- failures are only traced
  local status
  if numIrqResources >= XMDA_MAX_NUM_IRQ then                    -- msi-x
    status = SetupMsixInterrupts(xdma, ResourcesRaw, ResourcesTranslated)
  elseif numMsiVectors >= XMDA_MAX_NUM_IRQ then                  -- multi-message MSI
    status = SetupMultiMsiInterrupts(xdma, ResourcesRaw, ResourcesTranslated, numMsiVectors)
  else                                                           -- line or single-message MSI
    status = SetupSingleInterrupt(xdma, ResourcesRaw, ResourcesTranslated)
  end
  return status
end

function lib.XDMA_UserIsrRegister(xdma, eventId, handler, userData)
  if eventId >= XDMA_MAX_USER_IRQ then return STATUS_INVALID_PARAMETER end
  xdma.userEvents[eventId].work = handler
  xdma.userEvents[eventId].userData = userData
  return STATUS_SUCCESS
end

return lib
