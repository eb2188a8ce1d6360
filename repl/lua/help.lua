-- dma.help: the one table of what every exported name does: each WDK call
-- and macro, each lab function and method, each object type, each family
-- of constants; with the signature (WDK argument names), what it returns,
-- the IRQL it may be called at, a one-line purpose and the page it follows.
-- help() in the REPL reads it, README's "API reference" is generated from
-- it (`make readme-api`; tests/lua/help_spec.lua checks both, and that
-- every exported name has an entry).
local H = {}

local DDI = "https://learn.microsoft.com/windows-hardware/drivers/ddi/"
local README = "README.md#"

local entries = {}   -- in the order written: groups as in README
local by_name = {}

local function add(e)
  e.name = e.name or e.signature:match("^[%w_.:]+")
  entries[#entries + 1] = e
  by_name[e.name] = e
  local short = e.name:match("[:.]([%w_]+)$")
  if short and not by_name[short] then by_name[short] = e end
end

-- A WDK call or macro: the page is DDI/<header>/nf-<header>-<name>, or the
-- page given when `header` has a '/' in it.
local function wdk(group, header, signature, returns, irql, purpose)
  local name = signature:match("^[%w_]+")
  local ref = header:find("/") and DDI .. header or DDI .. header .. "/nf-" .. header .. "-" .. name:lower()
  add { group = group, kind = "wdk", signature = signature, returns = returns, irql = irql,
        purpose = purpose, ref = ref }
end

-- A DMA_OPERATIONS member, called as adapter:Name(...) or
-- adapter.DmaOperations.Name(adapter, ...).
local function op(signature, returns, irql, purpose, callback_type)
  local name = signature:match("^[%w_]+")
  add { group = "DMA adapters (WDM)", kind = "wdk", name = "DMA_ADAPTER:" .. name,
        signature = "adapter:" .. signature, returns = returns, irql = irql, purpose = purpose,
        ref = DDI .. "wdm/nc-wdm-" .. callback_type:lower() }
end

-- A function or method of the lab's own (snake_case): no IRQL checks.
local function lab(group, name, signature, returns, purpose, section)
  add { group = group, kind = "lab", name = name, signature = signature, returns = returns,
        irql = "any (the lab's own: not checked)", purpose = purpose, ref = README .. section }
end

-- An object type (a Lua class).
local function class(name, purpose, ref)
  add { group = "Object types", kind = "type", name = name, signature = name, purpose = purpose,
        irql = "-", ref = ref }
end

-- A family of constants: every exported name matching `pattern`.
local families = {}
local function constants(group, pattern, what, ref)
  families[#families + 1] = { group = group, pattern = pattern, purpose = what, ref = ref, kind = "constant" }
end

local PASSIVE, DISPATCH, LE_DISPATCH = "PASSIVE_LEVEL", "DISPATCH_LEVEL", "<= DISPATCH_LEVEL"
local ANY = "any"

---------------------------------------------------------------------------
-- MDLs and pages
local G = "MDLs and pages"
wdk(G, "wdm", "IoAllocateMdl(VirtualAddress, Length)", "Mdl", LE_DISPATCH,
    "allocates an MDL describing a virtual range (pages not yet locked)")
wdk(G, "wdm", "IoFreeMdl(Mdl)", "nothing", LE_DISPATCH, "frees an MDL (its pages must be unlocked)")
wdk(G, "wdm", "MmBuildMdlForNonPagedPool(MemoryDescriptorList)", "nothing", LE_DISPATCH,
    "fills the MDL's PFN array for a nonpaged buffer")
wdk(G, "wdm", "MmAllocatePagesForMdl(LowAddress, HighAddress, SkipBytes, TotalBytes)", "Mdl or nil", LE_DISPATCH,
    "an MDL of physical pages between the addresses, not mapped")
wdk(G, "wdm", "MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, CacheType, Flags)",
    "Mdl or nil", LE_DISPATCH, "MmAllocatePagesForMdl with a cache type and flags")
wdk(G, "wdm", "MmFreePagesFromMdl(MemoryDescriptorList)", "nothing", LE_DISPATCH,
    "gives the pages back (unmap first: 0xC4/0xB8), then IoFreeMdl")
wdk(G, "wdm", "MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, CacheType, RequestedAddress, "
    .. "BugCheckOnFailure, Priority)", "BaseAddress or nil", LE_DISPATCH,
    "maps the MDL's pages into system space (mdl.MappedSystemVa; twice: 0xC4/0xB2)")
wdk(G, "wdm", "MmUnmapLockedPages(BaseAddress, MemoryDescriptorList)", "nothing", LE_DISPATCH, "removes the mapping")
wdk(G, "wdm", "MmInitializeMdl(MemoryDescriptorList, BaseVa, Length)", "nothing", ANY,
    "describes a new range with the MDL (within its PFN slots; MdlFlags 0)")
wdk(G, "wdm", "MmProbeAndLockPages(MemoryDescriptorList, AccessMode, Operation)", "nothing (raises on failure)",
    LE_DISPATCH, "locks the pages of a (pageable) buffer and fills the PFN array")
wdk(G, "wdm", "MmUnlockPages(MemoryDescriptorList)", "nothing", LE_DISPATCH, "unlocks pages locked by MmProbeAndLockPages")
wdk(G, "wdm", "IoBuildPartialMdl(SourceMdl, TargetMdl, VirtualAddress, Length)", "nothing", LE_DISPATCH,
    "makes TargetMdl describe part of SourceMdl's range")
wdk(G, "wdm", "MmPrepareMdlForReuse(Mdl)", "nothing", LE_DISPATCH, "resets a partial MDL for another IoBuildPartialMdl")
wdk(G, "wdm", "MmGetSystemAddressForMdlSafe(Mdl, Priority)", "VirtualAddress, or nil", LE_DISPATCH,
    "the system virtual address of the MDL's buffer")
wdk(G, "wdm", "MmGetMdlVirtualAddress(Mdl)", "VirtualAddress", ANY, "StartVa + ByteOffset: where the buffer starts")
wdk(G, "wdm", "MmGetMdlByteCount(Mdl)", "Length", ANY, "the length of the buffer the MDL describes")
wdk(G, "wdm", "MmGetMdlByteOffset(Mdl)", "offset", ANY, "the buffer's offset in its first page")
wdk(G, "wdm", "MmGetMdlBaseVa(Mdl)", "StartVa", ANY, "the page-aligned start of the buffer")
wdk(G, "wdm", "MmGetMdlPfnArray(Mdl)", "{ pfn, ... }", ANY, "the physical page numbers, one per spanned page")
wdk(G, "wdm", "BYTES_TO_PAGES(Size)", "pages", ANY, "pages needed for Size bytes (the current machine's page size)")
wdk(G, "wdm", "ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size)", "pages", ANY, "pages a range at Va of Size bytes touches")
wdk(G, "wdm", "BYTE_OFFSET(Va)", "offset", ANY, "Va's offset within its page")
wdk(G, "wdm", "PAGE_ALIGN(Va)", "Va", ANY, "Va rounded down to its page")
wdk(G, "wdm", "ROUND_TO_PAGES(Size)", "Size", ANY, "Size rounded up to whole pages")
wdk(G, "ntdef", "NT_SUCCESS(Status)", "boolean", ANY, "true for success and informational NTSTATUS values")
wdk(G, "wdm", "KeFlushIoBuffers(Mdl, ReadOperation, DmaOperation)", "nothing", LE_DISPATCH,
    "makes CPU caches and DMA agree on the MDL's pages (non-coherent machines)")

---------------------------------------------------------------------------
-- DMA adapters
G = "DMA adapters (WDM)"
wdk(G, "wdm", "IoGetDmaAdapter(PhysicalDeviceObject, DeviceDescription)",
    "adapter, NumberOfMapRegisters (nil, 0 when refused)", PASSIVE,
    "the DMA adapter for a device described by a DEVICE_DESCRIPTION table")
wdk(G, "wdm", "IoAllocateAdapterChannel(AdapterObject, DeviceObject, NumberOfMapRegisters, ExecutionRoutine, Context)",
    "NTSTATUS", DISPATCH, "AllocateAdapterChannel as a global")
wdk(G, "wdm", "IoMapTransfer(AdapterObject, Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)",
    "LogicalAddress, Length", DISPATCH, "MapTransfer as a global")
wdk(G, "wdm", "IoFlushAdapterBuffers(AdapterObject, Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)",
    "TRUE", DISPATCH, "FlushAdapterBuffers as a global")
wdk(G, "wdm", "IoFreeMapRegisters(AdapterObject, MapRegisterBase, NumberOfMapRegisters)", "nothing", DISPATCH,
    "FreeMapRegisters as a global")
wdk(G, "wdm", "IoFreeAdapterChannel(AdapterObject)", "nothing", DISPATCH, "FreeAdapterChannel as a global")
wdk(G, "wdm/nc-wdm-pput_dma_adapter", "PutDmaAdapter(DmaAdapter)", "nothing", PASSIVE,
    "gives the adapter back (adapter:PutDmaAdapter() too)")
op("AllocateAdapterChannel(DeviceObject, NumberOfMapRegisters, ExecutionRoutine, Context)", "NTSTATUS", DISPATCH,
   "queues ExecutionRoutine(DeviceObject, Irp, MapRegisterBase, Context) for the channel and map registers",
   "PALLOCATE_ADAPTER_CHANNEL")
op("FreeAdapterChannel()", "nothing", DISPATCH, "releases the channel (and registers the routine kept)",
   "PFREE_ADAPTER_CHANNEL")
op("FreeMapRegisters(MapRegisterBase, NumberOfMapRegisters)", "nothing", DISPATCH,
   "frees map registers kept with DeallocateObjectKeepRegisters", "PFREE_MAP_REGISTERS")
op("MapTransfer(Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)", "LogicalAddress, Length", DISPATCH,
   "maps (part of) a transfer for the device, bouncing pages above its ceiling", "PMAP_TRANSFER")
op("FlushAdapterBuffers(Mdl, MapRegisterBase, CurrentVa, Length, WriteToDevice)", "TRUE", DISPATCH,
   "ends a mapped transfer: copies bounced data back on reads", "PFLUSH_ADAPTER_BUFFERS")
op("GetScatterGatherList(DeviceObject, Mdl, CurrentVa, Length, ExecutionRoutine, Context, WriteToDevice)",
   "NTSTATUS", DISPATCH, "builds an S/G list and calls ExecutionRoutine(DeviceObject, Irp, ScatterGather, Context)",
   "PGET_SCATTER_GATHER_LIST")
op("BuildScatterGatherList(DeviceObject, Mdl, CurrentVa, Length, ExecutionRoutine, Context, WriteToDevice, "
   .. "ScatterGatherBuffer, ScatterGatherLength)", "NTSTATUS", DISPATCH,
   "GetScatterGatherList into a caller's buffer", "PBUILD_SCATTER_GATHER_LIST")
op("PutScatterGatherList(ScatterGather, WriteToDevice)", "nothing", DISPATCH,
   "frees an S/G list and its map registers", "PPUT_SCATTER_GATHER_LIST")
op("CalculateScatterGatherList(Mdl, CurrentVa, Length)", "NTSTATUS, ScatterGatherListSize, NumberOfMapRegisters",
   DISPATCH, "the size and map registers an S/G list would need", "PCALCULATE_SCATTER_GATHER_LIST_SIZE")
op("AllocateCommonBuffer(Length, CacheEnabled)", "VirtualAddress, LogicalAddress", PASSIVE,
   "memory the CPU and the device share, below the device's ceiling", "PALLOCATE_COMMON_BUFFER")
op("FreeCommonBuffer(Length, LogicalAddress, VirtualAddress, CacheEnabled)", "nothing", PASSIVE,
   "frees a common buffer", "PFREE_COMMON_BUFFER")
op("GetDmaAlignment()", "bytes", PASSIVE,
   "the alignment DMA buffers need: 1 for a bus master, the unit (DmaWidth) of a system DMA channel",
   "PGET_DMA_ALIGNMENT")
op("PutDmaAdapter()", "nothing", PASSIVE, "gives the adapter back", "PPUT_DMA_ADAPTER")
-- version 3 (DEVICE_DESCRIPTION_VERSION3 adapters only)
op("InitializeDmaTransferContext(DmaTransferContext)", "NTSTATUS, DmaTransferContext", LE_DISPATCH,
   "v3: makes (nil) or re-initialises the transfer context every ...Ex allocation needs",
   "PINITIALIZE_DMA_TRANSFER_CONTEXT")
op("AllocateAdapterChannelEx(DeviceObject, DmaTransferContext, NumberOfMapRegisters, Flags, ExecutionRoutine, "
   .. "ExecutionContext)", "NTSTATUS, MapRegisterBase (without a routine)", DISPATCH,
   "v3: AllocateAdapterChannel under a context; DMA_SYNCHRONOUS_CALLBACK: now or STATUS_INSUFFICIENT_RESOURCES, "
   .. "and a nil routine hands the channel over until FreeAdapterObject", "PALLOCATE_ADAPTER_CHANNEL_EX")
op("FreeAdapterObject(AllocationAction)", "nothing", LE_DISPATCH,
   "v3: frees the channel held without a routine (DeallocateObject: with its registers)", "PFREE_ADAPTER_OBJECT")
op("CancelAdapterChannel(DeviceObject, DmaTransferContext)", "BOOLEAN", LE_DISPATCH,
   "v3: withdraws a waiting ...Ex allocation (TRUE: its routine never runs; FALSE once granted)",
   "PCANCEL_ADAPTER_CHANNEL")
op("MapTransferEx(Mdl, MapRegisterBase, Offset, DeviceOffset, Length, WriteToDevice, ScatterGatherBuffer, "
   .. "ScatterGatherBufferLength, DmaCompletionRoutine, CompletionContext)", "NTSTATUS, Length, ScatterGatherList",
   LE_DISPATCH, "v3: maps an MDL chain from Offset into a whole S/G list, as far as the buffer and registers go; "
   .. "on a system DMA channel one element, programmed, the routine called at its end", "PMAP_TRANSFER_EX")
op("FlushAdapterBuffersEx(Mdl, MapRegisterBase, Offset, Length, WriteToDevice)", "NTSTATUS", LE_DISPATCH,
   "v3: ends what MapTransferEx mapped (read bounces copied back)", "PFLUSH_ADAPTER_BUFFERS_EX")
op("CancelMappedTransfer(DmaTransferContext)", "NTSTATUS", LE_DISPATCH,
   "v3: cancels the context's transfer (a system transfer stops: DmaCancelled); the next MapTransferEx is "
   .. "STATUS_CANCELLED; the flush is still owed", "PCANCEL_MAPPED_TRANSFER")
op("GetDmaTransferInfo(Mdl, Offset, Length, WriteOnly, TransferInfo)", "NTSTATUS, TransferInfo (.V1 filled)",
   LE_DISPATCH, "v3: MapRegisterCount, ScatterGatherElementCount, ScatterGatherListSize of a transfer",
   "PGET_DMA_TRANSFER_INFO")
op("GetDmaAdapterInfo(AdapterInfo)", "NTSTATUS, AdapterInfo (.V1 filled)", LE_DISPATCH,
   "v3: ReadDmaCounterAvailable, ScatterGatherLimit, DmaAddressWidth, Flags, MinimumTransferUnit",
   "PGET_DMA_ADAPTER_INFO")
op("ConfigureAdapterChannel(FunctionNumber, Context)", "NTSTATUS", LE_DISPATCH,
   "v3: a system DMA controller's function with a ULONG Context (SYSDMA_CONFIGURE_MODE, _CYCLE; "
   .. "a bus master: STATUS_NOT_IMPLEMENTED)", "PCONFIGURE_ADAPTER_CHANNEL")
op("GetScatterGatherListEx(DeviceObject, DmaTransferContext, Mdl, Offset, Length, Flags, ExecutionRoutine, Context, "
   .. "WriteToDevice, DmaCompletionRoutine, CompletionContext)", "NTSTATUS, ScatterGatherList (without a routine)",
   DISPATCH, "v3: GetScatterGatherList under a context, from an Offset into the chain", "PGET_SCATTER_GATHER_LIST_EX")
op("BuildScatterGatherListEx(DeviceObject, DmaTransferContext, Mdl, Offset, Length, Flags, ExecutionRoutine, "
   .. "Context, WriteToDevice, ScatterGatherBuffer, ScatterGatherLength, DmaCompletionRoutine, CompletionContext)",
   "NTSTATUS, ScatterGatherList (without a routine)", DISPATCH,
   "v3: GetScatterGatherListEx into a caller's buffer (STATUS_BUFFER_TOO_SMALL if short)",
   "PBUILD_SCATTER_GATHER_LIST_EX")
op("AllocateCommonBufferEx(MaximumAddress, Length, CacheEnabled, PreferredNode)", "VirtualAddress, LogicalAddress",
   PASSIVE, "v3: a common buffer at or below MaximumAddress (nil: the ceiling); FreeCommonBuffer frees it",
   "PALLOCATE_COMMON_BUFFER_EX")
op("ReadDmaCounter()", "bytes", DISPATCH, "bytes a system DMA transfer has still to move (0 on a bus master)",
   "PREAD_DMA_COUNTER")
lab(G, "DMA_ADAPTER:stats", "adapter:stats()", "{ map_transfers, bytes_mapped, bytes_bounced, ... }",
    "the adapter's counters: transfers, bounces, flushes, grants, waits, map register high-water", "dma-adapters-wdm")
lab(G, "dma.split_transfer", "dma.split_transfer(mdl, NumberOfMapRegisters [, { max_bytes=, alignment=, "
    .. "max_elements=, va=, length= }])", "{ { va=, length=, map_registers=, elements= }, ... }",
    "the transfers a driver must perform for an MDL under the device's limits", "dmasplit_transfer")

---------------------------------------------------------------------------
-- IRQL, DPCs, timers, interrupts
G = "IRQL, DPCs, timers, interrupts"
wdk(G, "wdm", "KeGetCurrentIrql()", "KIRQL", ANY, "the current IRQL of the current machine's CPU")
wdk(G, "wdm", "KeRaiseIrql(NewIrql)", "OldIrql", "<= NewIrql", "raises the IRQL (raising to a lower level is an error)")
wdk(G, "wdm", "KeLowerIrql(NewIrql)", "nothing", ">= NewIrql", "lowers the IRQL back to what KeRaiseIrql returned")
wdk(G, "wdm", "KeRaiseIrqlToDpcLevel()", "OldIrql", LE_DISPATCH, "KeRaiseIrql(DISPATCH_LEVEL)")
wdk(G, "wdm", "KeInitializeDpc(Dpc, DeferredRoutine, DeferredContext)", "Dpc", ANY,
    "a DPC object (pass nil for Dpc); DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2)")
wdk(G, "wdm", "KeInsertQueueDpc(Dpc, SystemArgument1, SystemArgument2)", "BOOLEAN", "<= HIGH_LEVEL",
    "queues the DPC (FALSE if already queued)")
wdk(G, "wdm", "KeRemoveQueueDpc(Dpc)", "BOOLEAN", ANY, "takes a queued DPC off its queue")
wdk(G, "wdm", "KeSetImportanceDpc(Dpc, Importance)", "nothing", ANY, "where the DPC goes in its queue")
wdk(G, "wdm", "KeSetTargetProcessorDpc(Dpc, Number)", "nothing", ANY, "the CPU whose queue gets the DPC")
wdk(G, "wdm", "IoInitializeDpcRequest(DeviceObject, DpcRoutine)", "nothing", PASSIVE, "the device's DpcForIsr")
wdk(G, "wdm", "IoRequestDpc(DeviceObject, Irp, Context)", "nothing", "DIRQL (from the ISR)", "queues the DpcForIsr")
wdk(G, "wdm", "KeInitializeTimer(Timer)", "Timer", LE_DISPATCH, "a kernel timer (pass nil)")
wdk(G, "wdm", "KeSetTimer(Timer, DueTime, Dpc)", "BOOLEAN (TRUE if it was set)", LE_DISPATCH,
    "sets the timer (negative DueTime: relative, 100 ns units)")
wdk(G, "wdm", "KeSetTimerEx(Timer, DueTime, Period, Dpc)", "BOOLEAN", LE_DISPATCH, "a periodic timer (Period in ms)")
wdk(G, "wdm", "KeCancelTimer(Timer)", "BOOLEAN (TRUE if it was set)", LE_DISPATCH, "cancels the timer")
wdk(G, "wdm", "KeReadStateTimer(Timer)", "BOOLEAN", ANY, "TRUE if the timer expired since it was set")
wdk(G, "wdm", "IoConnectInterrupt(ServiceRoutine, ServiceContext, SpinLock, Vector, Irql, SynchronizeIrql, "
    .. "InterruptMode, ShareVector, ProcessorEnableMask, FloatingSave)", "NTSTATUS, InterruptObject", PASSIVE,
    "connects ServiceRoutine(Interrupt, ServiceContext) to an interrupt line")
wdk(G, "wdm", "IoDisconnectInterrupt(InterruptObject)", "nothing", PASSIVE, "disconnects the ISR")
wdk(G, "wdm", "IoConnectInterruptEx(Parameters)", "NTSTATUS, InterruptObject or InterruptMessageTable", PASSIVE,
    "connects an ISR: CONNECT_FULLY_SPECIFIED (vector and IRQL given), CONNECT_LINE_BASED (the PDO's line), "
    .. "CONNECT_MESSAGE_BASED (each message, MessageID to the ISR; a FallBackServiceRoutine for a line)")
wdk(G, "wdm", "IoDisconnectInterruptEx(Parameters)", "nothing", PASSIVE,
    "disconnects what IoConnectInterruptEx connected (Version, ConnectionContext)")
wdk(G, "wdm", "KeSynchronizeExecution(Interrupt, SynchronizeRoutine, SynchronizeContext)", "BOOLEAN", "<= DIRQL",
    "runs SynchronizeRoutine(SynchronizeContext) at the interrupt's IRQL")

---------------------------------------------------------------------------
-- Spin locks, events, work items
G = "Spin locks, events, work items"
local LE_APC = "<= APC_LEVEL"
wdk(G, "wdm", "KeInitializeSpinLock(SpinLock)", "SpinLock", ANY, "a spin lock (pass nil)")
wdk(G, "wdm", "KeAcquireSpinLock(SpinLock)", "OldIrql", LE_DISPATCH,
    "acquires the lock, raising to DISPATCH_LEVEL (0xC4: 0x42 above it, 0x4000B if held)")
wdk(G, "wdm", "KeReleaseSpinLock(SpinLock, NewIrql)", "nothing", DISPATCH,
    "releases the lock and lowers to NewIrql (0xC4: 0x32 not at DISPATCH_LEVEL, 0x4000B if not held)")
wdk(G, "wdm", "KeAcquireSpinLockAtDpcLevel(SpinLock)", "nothing", ">= DISPATCH_LEVEL",
    "acquires the lock without raising (0xC4/0x40 below DISPATCH_LEVEL)")
wdk(G, "wdm", "KeReleaseSpinLockFromDpcLevel(SpinLock)", "nothing", ">= DISPATCH_LEVEL",
    "releases the lock without lowering (0xC4/0x41 below DISPATCH_LEVEL)")
wdk(G, "wdm", "KeInitializeEvent(Event, Type, State)", "Event", ANY,
    "an event (pass nil): NotificationEvent or SynchronizationEvent")
wdk(G, "wdm", "KeSetEvent(Event, Increment, Wait)", "LONG (the previous state)", LE_DISPATCH,
    "signals the event (0xC4/0x80 above DISPATCH_LEVEL)")
wdk(G, "wdm", "KeClearEvent(Event)", "nothing", LE_DISPATCH, "sets the event not signalled")
wdk(G, "wdm", "KeResetEvent(Event)", "LONG (the previous state)", LE_DISPATCH, "sets the event not signalled")
wdk(G, "wdm", "KeReadStateEvent(Event)", "LONG", LE_DISPATCH, "1 if the event is signalled")
wdk(G, "wdm", "KeWaitForSingleObject(Object, WaitReason, WaitMode, Alertable, Timeout)",
    "STATUS_SUCCESS or STATUS_TIMEOUT", LE_APC .. " (a zero Timeout: " .. LE_DISPATCH .. ")",
    "waits for the event, running the simulated clock (Timeout nil: for ever; 100 ns units, negative relative)")
wdk(G, "wdm", "KeStallExecutionProcessor(MicroSeconds)", "nothing", ANY,
    "the CPU spins at its IRQL while the simulated clock runs that long (devices progress; "
    .. "its DPCs wait if at DISPATCH_LEVEL)")
wdk(G, "wdm", "IoAllocateWorkItem(DeviceObject)", "IO_WORKITEM", LE_DISPATCH, "a work item of the device")
wdk(G, "wdm", "IoQueueWorkItem(IoWorkItem, WorkerRoutine, QueueType, Context)", "nothing", LE_DISPATCH,
    "WorkerRoutine(DeviceObject, Context) runs at PASSIVE_LEVEL on the simulated worker")
wdk(G, "wdm", "IoFreeWorkItem(IoWorkItem)", "nothing", LE_DISPATCH, "frees the work item")

---------------------------------------------------------------------------
-- Pool and memory routines
G = "Pool and memory routines"
wdk(G, "wdm", "ExAllocatePool2(Flags, NumberOfBytes, Tag)", "address or 0", LE_DISPATCH,
    "tagged pool (POOL_FLAG_NON_PAGED/PAGED), zeroed unless POOL_FLAG_UNINITIALIZED; tracked (0xC4/0x62 if never freed)")
wdk(G, "wdm", "ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag)", "address or 0", LE_DISPATCH,
    "tagged pool, not zeroed (Tag: 'Tag1' or an integer)")
wdk(G, "wdm", "ExAllocatePoolZero(PoolType, NumberOfBytes, Tag)", "address or 0", LE_DISPATCH, "tagged pool, zeroed")
wdk(G, "wdm", "ExFreePool(P)", "nothing", LE_DISPATCH,
    "frees pool (0xC4: 0x10 not pool, 0x13 freed already, 0x11/0x12 at a bad IRQL)")
wdk(G, "wdm", "ExFreePoolWithTag(P, Tag)", "nothing", LE_DISPATCH, "frees pool; a wrong tag is 0xC2/0x0A")
wdk(G, "wdm", "RtlZeroMemory(Destination, Length)", "nothing", ANY, "zeroes simulated memory")
wdk(G, "wdm", "RtlFillMemory(Destination, Length, Fill)", "nothing", ANY, "fills simulated memory")
wdk(G, "wdm", "RtlCopyMemory(Destination, Source, Length)", "nothing", ANY, "copies simulated memory")
wdk(G, "wdm", "RtlMoveMemory(Destination, Source, Length)", "nothing", ANY, "copies overlapping ranges")
wdk(G, "wdm", "RtlCompareMemory(Source1, Source2, Length)", "SIZE_T", ANY, "how many leading bytes match")

---------------------------------------------------------------------------
-- Device registers
G = "Device registers"
wdk(G, "wdm", "MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType)", "BaseAddress", LE_DISPATCH,
    "maps a device's registers")
wdk(G, "wdm", "MmMapIoSpaceEx(PhysicalAddress, NumberOfBytes, Protect)", "BaseAddress", LE_DISPATCH,
    "maps a device's registers (Protect: PAGE_READWRITE plus PAGE_NOCACHE...; checked, not enforced)")
wdk(G, "wdm", "MmUnmapIoSpace(BaseAddress, NumberOfBytes)", "nothing", LE_DISPATCH, "unmaps them")
for _, width in ipairs { "UCHAR", "USHORT", "ULONG", "ULONG64" } do
  wdk(G, "wdm", ("READ_REGISTER_%s(Register)"):format(width), "value", ANY, "reads a device register")
  wdk(G, "wdm", ("WRITE_REGISTER_%s(Register, Value)"):format(width), "nothing", ANY, "writes a device register")
  wdk(G, "wdm", ("READ_REGISTER_BUFFER_%s(Register, Count)"):format(width), "{ value, ... }", ANY,
      "reads Count values from a register")
  wdk(G, "wdm", ("WRITE_REGISTER_BUFFER_%s(Register, Buffer, Count)"):format(width), "nothing", ANY,
      "writes Count values to a register")
end
for _, width in ipairs { "UCHAR", "USHORT", "ULONG" } do
  wdk(G, "wdm", ("READ_PORT_%s(Port)"):format(width), "value", ANY,
      "reads an I/O port (u.Port.Start of a CmResourceTypePort resource; no mapping)")
  wdk(G, "wdm", ("WRITE_PORT_%s(Port, Value)"):format(width), "nothing", ANY, "writes an I/O port")
  wdk(G, "wdm", ("READ_PORT_BUFFER_%s(Port, Buffer, Count)"):format(width), "nothing (Buffer filled)", ANY,
      "reads Count values from the same port into Buffer[1..Count]")
  wdk(G, "wdm", ("WRITE_PORT_BUFFER_%s(Port, Buffer, Count)"):format(width), "nothing", ANY,
      "writes Buffer[1..Count] to the same port")
end

---------------------------------------------------------------------------
-- Drivers, devices, IRPs
G = "Drivers, devices, IRPs"
wdk(G, "wdm", "IoCreateDevice(DriverObject, DeviceExtensionSize, DeviceName, DeviceType, DeviceCharacteristics, "
    .. "Exclusive)", "NTSTATUS, DeviceObject", PASSIVE, "creates a device object of the driver")
add { group = G, kind = "wdk", signature = "CTL_CODE(DeviceType, Function, Method, Access)", returns = "IoControlCode",
      irql = ANY, purpose = "an IOCTL code: (DeviceType << 16) | (Access << 14) | (Function << 2) | Method",
      ref = "https://learn.microsoft.com/windows-hardware/drivers/kernel/defining-i-o-control-codes" }
wdk(G, "wdm", "IoCallDriver(DeviceObject, Irp)", "NTSTATUS", LE_DISPATCH,
    "sends the IRP to the device's driver, or passes a driver's IRP down its stack")
wdk(G, "wdm", "IoMarkIrpPending(Irp)", "nothing", LE_DISPATCH, "marks the IRP pending (return STATUS_PENDING)")
wdk(G, "wdm", "IoStartPacket(DeviceObject, Irp, Key, CancelFunction)", "nothing", LE_DISPATCH,
    "StartIo now, or queues the IRP")
wdk(G, "wdm", "IoStartNextPacket(DeviceObject, Cancelable)", "nothing", DISPATCH, "StartIo for the next queued IRP")
wdk(G, "wdm", "IoCompleteRequest(Irp, PriorityBoost)", "nothing", LE_DISPATCH, "completes the IRP")
wdk(G, "wdm", "IoCancelIrp(Irp)", "BOOLEAN", LE_DISPATCH,
    "sets Irp.Cancel and runs its cancel routine at DISPATCH_LEVEL (TRUE if it had one)")
wdk(G, "wdm", "IoSetCancelRoutine(Irp, CancelRoutine)", "the previous routine or nil", LE_DISPATCH,
    "CancelRoutine(DeviceObject, Irp) runs when the IRP is cancelled, holding the cancel spin lock")
wdk(G, "wdm", "IoAcquireCancelSpinLock()", "Irql", LE_DISPATCH, "takes the cancel spin lock (DISPATCH_LEVEL)")
wdk(G, "wdm", "IoReleaseCancelSpinLock(Irql)", "nothing", DISPATCH,
    "releases it (a cancel routine passes Irp.CancelIrql)")
wdk(G, "wdm", "IoCreateSymbolicLink(SymbolicLinkName, DeviceName)", "NTSTATUS", PASSIVE,
    "a name for the device (STATUS_OBJECT_NAME_COLLISION if taken)")
wdk(G, "wdm", "IoDeleteSymbolicLink(SymbolicLinkName)", "NTSTATUS", PASSIVE, "removes the name")
wdk(G, "wdm", "IoRegisterDeviceInterface(PhysicalDeviceObject, InterfaceClassGuid, ReferenceString)",
    "NTSTATUS, SymbolicLinkName", PASSIVE, "a device interface (a GUID string), disabled until enabled")
wdk(G, "wdm", "IoSetDeviceInterfaceState(SymbolicLinkName, Enable)", "NTSTATUS", PASSIVE,
    "enables or disables the interface")
wdk(G, "wdm", "IoGetDeviceInterfaces(InterfaceClassGuid, PhysicalDeviceObject, Flags)",
    "NTSTATUS, { SymbolicLinkName, ... }", PASSIVE, "the class's enabled interfaces (of the device if given)")
wdk(G, "wdm", "RtlInitUnicodeString(DestinationString, SourceString)", "nothing", "<= DISPATCH_LEVEL",
    "fills a UNICODE_STRING table: Buffer, Length, MaximumLength (bytes of UTF-16)")
wdk(G, "wdm", "IoGetCurrentIrpStackLocation(Irp)", "{ MajorFunction, MinorFunction, DeviceObject, Parameters }",
    LE_DISPATCH, "the driver's stack location of the IRP")
wdk(G, "wdm", "IoDeleteDevice(DeviceObject)", "nothing", PASSIVE,
    "deletes the device (refused while attached 0xC9/0x201, its DpcForIsr queued 0xC7/1, or in use)")
wdk(G, "wdm", "IoAttachDeviceToDeviceStack(SourceDevice, TargetDevice)", "the device attached to, or nil",
    PASSIVE, "puts SourceDevice on top of TargetDevice's stack (StackSize: the one beneath's + 1)")
wdk(G, "wdm", "IoAttachDevice(SourceDevice, TargetDevice, AttachedDevice)", "NTSTATUS, AttachedDevice", PASSIVE,
    "IoAttachDeviceToDeviceStack by the target's name (STATUS_OBJECT_NAME_NOT_FOUND); no AttachedDevice "
    .. "argument in Lua")
wdk(G, "wdm", "IoDetachDevice(TargetDevice)", "nothing", PASSIVE,
    "the device on top of TargetDevice leaves it (nothing attached: 0xC9/0x202)")
wdk(G, "wdm", "IoGetAttachedDeviceReference(DeviceObject)", "DeviceObject", LE_DISPATCH,
    "the top of the device's stack, referenced (ObDereferenceObject it)")
wdk(G, "wdm", "ObReferenceObject(Object)", "nothing", LE_DISPATCH, "takes a reference on a device object")
wdk(G, "wdm", "ObDereferenceObject(Object)", "nothing", LE_DISPATCH,
    "releases one (none left: 0x18 REFERENCE_BY_POINTER)")
wdk(G, "wdm", "IoSetCompletionRoutineEx(DeviceObject, Irp, CompletionRoutine, Context, InvokeOnSuccess, "
    .. "InvokeOnError, InvokeOnCancel)", "NTSTATUS", LE_DISPATCH, "IoSetCompletionRoutine for a driver that may unload")
wdk(G, "wdm", "IoSkipCurrentIrpStackLocation(Irp)", "nothing", LE_DISPATCH,
    "the driver beneath gets this driver's stack location (IoCallDriver next)")
wdk(G, "wdm", "IoCopyCurrentIrpStackLocationToNext(Irp)", "nothing", LE_DISPATCH,
    "copies the stack location to the next-lower one, not the completion routine")
wdk(G, "wdm", "IoSetCompletionRoutine(Irp, CompletionRoutine, Context, InvokeOnSuccess, InvokeOnError, "
    .. "InvokeOnCancel)", "nothing", LE_DISPATCH,
    "CompletionRoutine(DeviceObject, Irp, Context) runs as the driver beneath completes the IRP; "
    .. "STATUS_MORE_PROCESSING_REQUIRED keeps it")

---------------------------------------------------------------------------
-- KMDF
G = "KMDF"
local function wdf(header, signature, returns, irql, purpose) wdk(G, header, signature, returns, irql, purpose) end
wdf("wdfdriver", "WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd)", "WDF_DRIVER_CONFIG", ANY, "a driver configuration")
wdf("wdfdriver", "WdfDriverCreate(DriverObject, RegistryPath, DriverAttributes, DriverConfig)", "NTSTATUS, WDFDRIVER",
    PASSIVE, "the framework driver object")
wdf("wdfdriver", "WdfDriverWdmGetDriverObject(Driver)", "DRIVER_OBJECT", LE_DISPATCH, "the WDM driver object")
wdf("wdfdriver", "WdfGetDriver()", "WDFDRIVER", ANY,
    "the caller's WDFDRIVER: the current machine's only one (an error if it has none or several)")
wdf("wdfobject", "WDF_OBJECT_ATTRIBUTES_INIT()", "WDF_OBJECT_ATTRIBUTES", ANY, "empty object attributes")
wdf("wdfobject", "WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(ContextTypeName)", "WDF_OBJECT_ATTRIBUTES", ANY,
    "attributes with a context type (a name: each object gets a Lua table)")
wdf("wdfobject", "WdfObjectReference(Handle)", "nothing", LE_DISPATCH,
    "one more reference on the object (the lab counts it; the object still goes when deleted)")
wdf("wdfobject", "WdfObjectDereference(Handle)", "nothing", LE_DISPATCH,
    "releases a reference (0x10D/0x7 if none was taken)")
wdf("wdfobject", "WdfObjectGetTypedContext(Handle, ContextTypeName)", "context table", ANY,
    "the object's context of that type")
wdf("wdfobject", "WdfObjectDelete(Object)", "nothing", LE_DISPATCH, "deletes the object and its children")
wdf("wdfpdo", "WDF_PNPPOWER_EVENT_CALLBACKS_INIT()", "WDF_PNPPOWER_EVENT_CALLBACKS", ANY, "empty PnP/power callbacks")
wdf("wdfdevice", "WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, PnpPowerEventCallbacks)", "nothing", PASSIVE,
    "EvtDevicePrepareHardware, EvtDeviceD0Entry... for the device")
wdf("wdfdevice", "WdfDeviceCreate(DeviceInit, DeviceAttributes)", "NTSTATUS, WDFDEVICE", PASSIVE,
    "the framework device")
wdf("wdfdevice", "WdfDeviceInitSetIoType(DeviceInit, IoType)", "nothing", PASSIVE,
    "how reads and writes reach the driver: WdfDeviceIoBuffered, WdfDeviceIoDirect, WdfDeviceIoNeither")
wdf("wdfdevice", "WdfDeviceInitSetExclusive(DeviceInit, IsExclusive)", "nothing", PASSIVE,
    "one open file at a time (a second create gets STATUS_ACCESS_DENIED)")
wdf("wdfdevice", "WdfDeviceInitSetFileObjectConfig(DeviceInit, FileObjectConfig, FileObjectAttributes)", "nothing",
    PASSIVE, "EvtDeviceFileCreate, EvtFileCleanup, EvtFileClose for the device's files")
wdf("wdfdevice", "WDF_FILEOBJECT_CONFIG_INIT(EvtDeviceFileCreate, EvtFileClose, EvtFileCleanup)",
    "WDF_FILEOBJECT_CONFIG", ANY, "a file object configuration")
wdf("wdfdevice", "WdfDeviceCreateSymbolicLink(Device, SymbolicLinkName)", "NTSTATUS", PASSIVE,
    "a name for the device (m:find_device finds it)")
wdf("wdfdevice", "WdfDeviceCreateDeviceInterface(Device, InterfaceClassGUID, ReferenceString)", "NTSTATUS", PASSIVE,
    "a device interface, enabled when the device starts")
wdf("wdfdevice", "WdfDeviceSetDeviceInterfaceState(Device, InterfaceClassGUID, ReferenceString, IsInterfaceEnabled)",
    "nothing", PASSIVE, "enables or disables one of the device's interfaces")
wdf("wdffileobject", "WdfFileObjectWdmGetFileObject(FileObject)", "FILE_OBJECT", LE_DISPATCH,
    "the WDM file object")
wdf("wdffileobject", "WdfFileObjectGetDevice(FileObject)", "WDFDEVICE", LE_DISPATCH, "the file's device")
wdf("wdffileobject", "WdfFileObjectGetFileName(FileObject)", "UNICODE_STRING or nil", PASSIVE,
    "the path opened past the device's name (m:irp's file_name; Length 0 if none); nil above PASSIVE_LEVEL")
wdf("wdfdevice", "WdfDeviceGetDriver(Device)", "WDFDRIVER", LE_DISPATCH, "the device's driver")
wdf("wdfdevice", "WdfDeviceWdmGetDeviceObject(Device)", "DEVICE_OBJECT", LE_DISPATCH, "the device's FDO")
wdf("wdfdevice", "WdfDeviceWdmGetPhysicalDevice(Device)", "DEVICE_OBJECT", LE_DISPATCH, "the device's PDO")
wdf("wdfdevice", "WdfDeviceSetAlignmentRequirement(Device, AlignmentRequirement)", "nothing", LE_DISPATCH,
    "the buffer alignment the device needs (FILE_*_ALIGNMENT)")
wdf("wdfdevice", "WdfDeviceGetAlignmentRequirement(Device)", "AlignmentRequirement", LE_DISPATCH,
    "the device's alignment requirement")
wdf("wdfdevice", "WdfDeviceGetDefaultQueue(Device)", "WDFQUEUE or nil", LE_DISPATCH, "the default queue")
wdf("wdfdevice", "WdfDeviceConfigureRequestDispatching(Device, Queue, RequestType)", "NTSTATUS", PASSIVE,
    "sends requests of a type to a queue")
wdf("wdfresource", "WdfCmResourceListGetCount(List)", "count", LE_DISPATCH, "resources in the list")
wdf("wdfresource", "WdfCmResourceListGetDescriptor(List, Index)", "descriptor or nil", LE_DISPATCH,
    "a resource (Index from 0)")
wdf("wdfio", "WDF_IO_QUEUE_CONFIG_INIT(DispatchType)", "WDF_IO_QUEUE_CONFIG", ANY, "a queue configuration")
wdf("wdfio", "WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(DispatchType)", "WDF_IO_QUEUE_CONFIG", ANY,
    "a default queue configuration")
wdf("wdfio", "WdfIoQueueCreate(Device, Config, QueueAttributes)", "NTSTATUS, WDFQUEUE", LE_DISPATCH,
    "a queue presenting requests to EvtIoRead/EvtIoWrite/EvtIoDeviceControl")
wdf("wdfio", "WdfIoQueueGetDevice(Queue)", "WDFDEVICE", LE_DISPATCH, "the queue's device")
wdf("wdfrequest", "WdfRequestComplete(Request, Status)", "nothing", LE_DISPATCH, "completes the request")
wdf("wdfrequest", "WdfRequestCompleteWithInformation(Request, Status, Information)", "nothing", LE_DISPATCH,
    "completes the request with a byte count")
wdf("wdfrequest", "WdfRequestGetParameters(Request)", "WDF_REQUEST_PARAMETERS", LE_DISPATCH,
    "type, length and offset of the request")
wdf("wdfrequest", "WdfRequestRetrieveOutputWdmMdl(Request)", "NTSTATUS, Mdl", LE_DISPATCH,
    "the MDL of a read's or IOCTL's output (one the framework builds for buffered I/O)")
wdf("wdfrequest", "WdfRequestRetrieveInputWdmMdl(Request)", "NTSTATUS, Mdl", LE_DISPATCH,
    "the MDL of a write's or IOCTL's input")
wdf("wdfrequest", "WdfRequestRetrieveInputBuffer(Request, MinimumRequiredSize)", "NTSTATUS, Buffer, Length",
    LE_DISPATCH, "the input buffer's address and length (STATUS_BUFFER_TOO_SMALL below the minimum)")
wdf("wdfrequest", "WdfRequestRetrieveOutputBuffer(Request, MinimumRequiredSize)", "NTSTATUS, Buffer, Length",
    LE_DISPATCH, "the output buffer's address and length (STATUS_BUFFER_TOO_SMALL below the minimum)")
wdf("wdfrequest", "WdfRequestRetrieveInputMemory(Request)", "NTSTATUS, Memory", LE_DISPATCH,
    "the input buffer as a WDFMEMORY (the same one each time; the framework's, gone at completion)")
wdf("wdfrequest", "WdfRequestRetrieveOutputMemory(Request)", "NTSTATUS, Memory", LE_DISPATCH,
    "the output buffer as a WDFMEMORY (the same one each time; the framework's, gone at completion)")
wdf("wdfrequest", "WdfRequestForwardToIoQueue(Request, DestinationQueue)", "NTSTATUS", LE_DISPATCH,
    "moves a request the driver owns to another queue of its device")
wdf("wdfrequest", "WdfRequestRequeue(Request)", "NTSTATUS", LE_DISPATCH,
    "puts a request back at the head of its manual queue (a purged queue cancels it: STATUS_SUCCESS)")
wdf("wdfrequest", "WdfRequestMarkCancelable(Request, EvtRequestCancel)", "nothing", LE_DISPATCH,
    "EvtRequestCancel(Request) runs if the request is cancelled (at once if it was)")
wdf("wdfrequest", "WdfRequestMarkCancelableEx(Request, EvtRequestCancel)", "NTSTATUS", LE_DISPATCH,
    "as MarkCancelable; STATUS_CANCELLED if cancelled already (the driver completes it)")
wdf("wdfrequest", "WdfRequestUnmarkCancelable(Request)", "NTSTATUS", LE_DISPATCH,
    "no longer cancelable; STATUS_CANCELLED if EvtRequestCancel ran")
wdf("wdfrequest", "WdfRequestIsCanceled(Request)", "BOOLEAN", LE_DISPATCH,
    "whether the IRP was cancelled (of a request marked cancelable: 0x10D/0x6 and false)")
wdf("wdfrequest", "WdfRequestGetStatus(Request)", "NTSTATUS", LE_DISPATCH, "the IRP's IoStatus.Status")
wdf("wdfrequest", "WdfRequestGetFileObject(Request)", "WDFFILEOBJECT or nil", LE_DISPATCH,
    "the file the request was sent on")
wdf("wdfio", "WdfIoQueueRetrieveNextRequest(Queue)", "NTSTATUS, Request", LE_DISPATCH,
    "the next request of a manual (or sequential) queue; STATUS_NO_MORE_ENTRIES if none")
wdf("wdfio", "WdfIoQueueFindRequest(Queue, FoundRequest, FileObject, Parameters)", "NTSTATUS, Request",
    LE_DISPATCH, "the next waiting request of a manual queue after FoundRequest, not owned, referenced "
    .. "(WdfObjectDereference it); Parameters (a table or nil) gets its parameters")
wdf("wdfio", "WdfIoQueueRetrieveFoundRequest(Queue, FoundRequest)", "NTSTATUS, Request", LE_DISPATCH,
    "the found request becomes the driver's (STATUS_NOT_FOUND if it left the queue)")
wdf("wdfio", "WdfIoQueueRetrieveRequestByFileObject(Queue, FileObject)", "NTSTATUS, Request", LE_DISPATCH,
    "the next request on that file")
wdf("wdfio", "WdfIoQueueReadyNotify(Queue, QueueReady, Context)", "NTSTATUS", LE_DISPATCH,
    "QueueReady(Queue, Context) when requests arrive at the empty manual queue; nil unregisters "
    .. "(a stopped queue's); registering twice is 0x10D/0xA")
wdf("wdfio", "WdfIoQueueStart(Queue)", "nothing", LE_DISPATCH, "the queue accepts and presents requests")
wdf("wdfio", "WdfIoQueueStop(Queue, StopComplete, Context)", "nothing", LE_DISPATCH,
    "stops presenting; StopComplete once the driver owns none of its requests (one outstanding at a "
    .. "time: a second is 0x10D/0xA)")
wdf("wdfio", "WdfIoQueueStopSynchronously(Queue)", "nothing", PASSIVE,
    "stops presenting and runs the clock until the driver owns none of its requests")
wdf("wdfio", "WdfIoQueuePurge(Queue, PurgeComplete, Context)", "nothing", LE_DISPATCH,
    "refuses new requests, cancels the waiting ones and the cancelable ones the driver owns")
wdf("wdfio", "WdfIoQueuePurgeSynchronously(Queue)", "nothing", PASSIVE, "purges and waits (the simulated clock)")
wdf("wdfio", "WdfIoQueueDrain(Queue, DrainComplete, Context)", "nothing", LE_DISPATCH,
    "refuses new requests; DrainComplete once every request is completed")
wdf("wdfio", "WdfIoQueueDrainSynchronously(Queue)", "nothing", PASSIVE, "drains and waits (the simulated clock)")
wdf("wdfrequest", "WdfRequestSetInformation(Request, Information)", "nothing", LE_DISPATCH, "sets the byte count")
wdf("wdfrequest", "WdfRequestGetInformation(Request)", "Information", LE_DISPATCH, "the byte count")
wdf("wdfrequest", "WdfRequestGetIoQueue(Request)", "WDFQUEUE", LE_DISPATCH, "the request's queue")
wdf("wdfrequest", "WdfRequestWdmGetIrp(Request)", "IRP", LE_DISPATCH, "the IRP behind the request")
wdf("wdfrequest", "WdfRequestGetDevice(Request)", "WDFDEVICE", LE_DISPATCH,
    "the request's device (the lab's shortcut for WdfIoQueueGetDevice(WdfRequestGetIoQueue(Request)))")
wdf("wdfinterrupt", "WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, EvtInterruptDpc)", "WDF_INTERRUPT_CONFIG", ANY,
    "an interrupt configuration")
wdf("wdfinterrupt", "WdfInterruptCreate(Device, Configuration, InterruptAttributes)", "NTSTATUS, WDFINTERRUPT",
    PASSIVE, "the device's interrupt object")
wdf("wdfinterrupt", "WdfInterruptQueueDpcForIsr(Interrupt)", "BOOLEAN", "DIRQL (from the ISR)",
    "queues EvtInterruptDpc")
wdf("wdfinterrupt", "WdfInterruptAcquireLock(Interrupt)", "nothing", "<= DIRQL", "raises to the interrupt's IRQL")
wdf("wdfinterrupt", "WdfInterruptReleaseLock(Interrupt)", "nothing", "DIRQL", "back to the IRQL of the acquire")
wdf("wdfinterrupt", "WdfInterruptSynchronize(Interrupt, Callback, Context)", "BOOLEAN", "<= DISPATCH_LEVEL",
    "runs Callback(Interrupt, Context) at the interrupt's IRQL")
wdf("wdfinterrupt", "WdfInterruptGetDevice(Interrupt)", "WDFDEVICE", "<= DIRQL", "the interrupt's device")
wdf("wdfinterrupt", "WDF_INTERRUPT_INFO_INIT()", "Info", ANY, "an empty WDF_INTERRUPT_INFO")
wdf("wdfinterrupt", "WdfInterruptGetInfo(Interrupt, Info)", "nothing", LE_DISPATCH,
    "fills Info: MessageNumber, Vector, Irql, Mode, MessageSignaled, ShareDisposition")
wdf("wdfsync", "WdfSpinLockCreate(SpinLockAttributes)", "NTSTATUS, WDFSPINLOCK", LE_DISPATCH, "a framework spin lock")
wdf("wdfsync", "WdfSpinLockAcquire(SpinLock)", "nothing", LE_DISPATCH,
    "acquires, raising to DISPATCH_LEVEL (held: WDF_VIOLATION 0x2)")
wdf("wdfsync", "WdfSpinLockRelease(SpinLock)", "nothing", DISPATCH,
    "releases, back to the IRQL of the acquire (not held: WDF_VIOLATION 0xB)")
wdf("wdfsync", "WdfWaitLockCreate(LockAttributes)", "NTSTATUS, WDFWAITLOCK", LE_DISPATCH, "a framework wait lock")
wdf("wdfsync", "WdfWaitLockAcquire(Lock, Timeout)", "STATUS_SUCCESS or STATUS_TIMEOUT", "<= APC_LEVEL",
    "acquires (Timeout 0: a try, nil: for ever)")
wdf("wdfsync", "WdfWaitLockRelease(Lock)", "nothing", LE_DISPATCH, "releases the wait lock")
wdf("wdfsync", "WdfObjectAcquireLock(Object)", "nothing", LE_DISPATCH,
    "acquires a WDFDEVICE's or WDFQUEUE's lock (raises to DISPATCH_LEVEL)")
wdf("wdfsync", "WdfObjectReleaseLock(Object)", "nothing", DISPATCH, "releases the object's lock")
wdf("wdfdpc", "WDF_DPC_CONFIG_INIT(EvtDpcFunc)", "WDF_DPC_CONFIG", ANY, "a DPC configuration")
wdf("wdfdpc", "WdfDpcCreate(Config, Attributes)", "NTSTATUS, WDFDPC", LE_DISPATCH,
    "a framework DPC; Attributes.ParentObject a WDFDEVICE or WDFQUEUE; EvtDpcFunc(Dpc)")
wdf("wdfdpc", "WdfDpcEnqueue(Dpc)", "BOOLEAN", "<= HIGH_LEVEL", "queues the DPC (FALSE if queued)")
wdf("wdfdpc", "WdfDpcCancel(Dpc, Wait)", "BOOLEAN", LE_DISPATCH .. " (Wait: PASSIVE_LEVEL)", "takes it off its queue")
wdf("wdfdpc", "WdfDpcGetParentObject(Dpc)", "parent", LE_DISPATCH, "the DPC's parent")
wdf("wdftimer", "WDF_TIMER_CONFIG_INIT(EvtTimerFunc)", "WDF_TIMER_CONFIG", ANY, "a one-shot timer configuration")
wdf("wdftimer", "WDF_TIMER_CONFIG_INIT_PERIODIC(EvtTimerFunc, Period)", "WDF_TIMER_CONFIG", ANY,
    "a periodic timer configuration (Period in ms)")
wdf("wdftimer", "WdfTimerCreate(Config, Attributes)", "NTSTATUS, WDFTIMER", LE_DISPATCH,
    "a framework timer; EvtTimerFunc(Timer) at DISPATCH_LEVEL")
wdf("wdftimer", "WdfTimerStart(Timer, DueTime)", "BOOLEAN (TRUE if it was set)", LE_DISPATCH,
    "starts the timer (DueTime: 100 ns units, negative relative)")
wdf("wdftimer", "WdfTimerStop(Timer, Wait)", "BOOLEAN (TRUE if it was set)", LE_DISPATCH .. " (Wait: PASSIVE_LEVEL)",
    "stops the timer")
wdf("wdftimer", "WdfTimerGetParentObject(Timer)", "parent", LE_DISPATCH, "the timer's parent")
wdf("wdfcore", "WDF_REL_TIMEOUT_IN_SEC(Time)", "LONGLONG", ANY, "a relative DueTime/Timeout in 100 ns units")
wdf("wdfcore", "WDF_REL_TIMEOUT_IN_MS(Time)", "LONGLONG", ANY, "a relative DueTime/Timeout in 100 ns units")
wdf("wdfcore", "WDF_REL_TIMEOUT_IN_US(Time)", "LONGLONG", ANY, "a relative DueTime/Timeout in 100 ns units")
wdf("wdfworkitem", "WDF_WORKITEM_CONFIG_INIT(EvtWorkItemFunc)", "WDF_WORKITEM_CONFIG", ANY, "a work item configuration")
wdf("wdfworkitem", "WdfWorkItemCreate(Config, Attributes)", "NTSTATUS, WDFWORKITEM", LE_DISPATCH,
    "a framework work item; EvtWorkItemFunc(WorkItem) at PASSIVE_LEVEL on the simulated worker")
wdf("wdfworkitem", "WdfWorkItemEnqueue(WorkItem)", "nothing", LE_DISPATCH, "queues it (once)")
wdf("wdfworkitem", "WdfWorkItemFlush(WorkItem)", "nothing", PASSIVE, "runs the clock until it ran")
wdf("wdfworkitem", "WdfWorkItemGetParentObject(WorkItem)", "parent", LE_DISPATCH, "the work item's parent")
wdf("wdfmemory", "WdfMemoryCreate(Attributes, PoolType, PoolTag, BufferSize)", "NTSTATUS, WDFMEMORY, Buffer",
    LE_DISPATCH, "memory from tagged pool, freed with the object")
wdf("wdfmemory", "WdfMemoryCreatePreallocated(Attributes, Buffer, BufferSize)", "NTSTATUS, WDFMEMORY",
    LE_DISPATCH, "an object describing the driver's buffer")
wdf("wdfmemory", "WdfMemoryGetBuffer(Memory)", "Buffer, BufferSize", LE_DISPATCH, "the buffer's address and size")
wdf("wdfmemory", "WdfMemoryCopyToBuffer(SourceMemory, SourceOffset, Buffer, NumberOfBytesToCopy)", "NTSTATUS",
    LE_DISPATCH, "copies out of the object (STATUS_INVALID_BUFFER_SIZE past its end)")
wdf("wdfmemory", "WdfMemoryCopyFromBuffer(DestinationMemory, DestinationOffset, Buffer, NumberOfBytesToCopy)",
    "NTSTATUS", LE_DISPATCH, "copies into the object (STATUS_INVALID_BUFFER_SIZE past its end)")
wdf("wdfmemory", "WdfLookasideListCreate(LookasideAttributes, BufferSize, PoolType, MemoryAttributes, PoolTag)",
    "NTSTATUS, WDFLOOKASIDE", LE_DISPATCH, "a lookaside list of BufferSize buffers")
wdf("wdfmemory", "WdfMemoryCreateFromLookaside(Lookaside)", "NTSTATUS, WDFMEMORY", LE_DISPATCH,
    "memory from the list (a child of it)")
wdf("wdfdmaenabler", "WDF_DMA_ENABLER_CONFIG_INIT(Profile, MaximumLength)", "WDF_DMA_ENABLER_CONFIG", ANY,
    "a DMA enabler configuration")
wdf("wdfdmaenabler", "WdfDmaEnablerCreate(Device, Config, Attributes)", "NTSTATUS, WDFDMAENABLER", PASSIVE,
    "the DMA enabler: the device's adapters")
wdf("wdfdmaenabler", "WdfDmaEnablerGetFragmentLength(DmaEnabler, DmaDirection)", "length", LE_DISPATCH,
    "the longest fragment a transaction maps at once")
wdf("wdfdmaenabler", "WdfDmaEnablerGetMaximumLength(DmaEnabler)", "length", LE_DISPATCH,
    "the enabler's MaximumLength")
wdf("wdfdmaenabler", "WdfDmaEnablerGetMaximumScatterGatherElements(DmaEnabler)", "count", LE_DISPATCH,
    "the most S/G elements per fragment")
wdf("wdfdmaenabler", "WdfDmaEnablerSetMaximumScatterGatherElements(DmaEnabler, MaximumFragments)", "nothing",
    PASSIVE, "limits the S/G elements per fragment")
wdf("wdfdmaenabler", "WdfDmaEnablerWdmGetDmaAdapter(DmaEnabler, DmaDirection)", "DMA_ADAPTER", LE_DISPATCH,
    "the WDM adapter behind the enabler")
wdf("wdfdmaenabler", "WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(Address, DmaWidth, DmaDescriptor)",
    "WDF_DMA_SYSTEM_PROFILE_CONFIG", ANY, "a system profile's settings: the FIFO address, width, DMA resource")
wdf("wdfdmaenabler", "WdfDmaEnablerConfigureSystemProfile(DmaEnabler, ProfileConfig, ConfigDirection)", "NTSTATUS",
    PASSIVE, "gives a System/SystemDuplex enabler its system DMA adapter (DemandMode, LoopedTransfer, ...)")
wdf("wdfcommonbuffer", "WDF_COMMON_BUFFER_CONFIG_INIT(AlignmentRequirement)", "WDF_COMMON_BUFFER_CONFIG", ANY,
    "a common buffer configuration")
wdf("wdfcommonbuffer", "WdfCommonBufferCreate(DmaEnabler, Length, Attributes)", "NTSTATUS, WDFCOMMONBUFFER",
    PASSIVE, "a common buffer of the enabler")
wdf("wdfcommonbuffer", "WdfCommonBufferCreateWithConfig(DmaEnabler, Length, Config, Attributes)",
    "NTSTATUS, WDFCOMMONBUFFER", PASSIVE, "a common buffer with an alignment")
wdf("wdfcommonbuffer", "WdfCommonBufferGetAlignedVirtualAddress(CommonBuffer)", "VirtualAddress", ANY,
    "the CPU's address of the buffer")
wdf("wdfcommonbuffer", "WdfCommonBufferGetAlignedLogicalAddress(CommonBuffer)", "LogicalAddress", ANY,
    "the device's address of the buffer")
wdf("wdfcommonbuffer", "WdfCommonBufferGetLength(CommonBuffer)", "length", ANY, "the buffer's length")
wdf("wdfdmatransaction", "WdfDmaTransactionCreate(DmaEnabler, Attributes)", "NTSTATUS, WDFDMATRANSACTION",
    LE_DISPATCH, "a DMA transaction")
wdf("wdfdmatransaction", "WdfDmaTransactionInitializeUsingRequest(DmaTransaction, Request, EvtProgramDmaFunction, "
    .. "DmaDirection)", "NTSTATUS", LE_DISPATCH, "sets the transaction up for a request's MDL")
wdf("wdfdmatransaction", "WdfDmaTransactionInitialize(DmaTransaction, EvtProgramDmaFunction, DmaDirection, Mdl, "
    .. "VirtualAddress, Length)", "NTSTATUS", LE_DISPATCH, "sets the transaction up for an MDL")
wdf("wdfdmatransaction", "WdfDmaTransactionExecute(DmaTransaction, Context)", "NTSTATUS", LE_DISPATCH,
    "starts it: EvtProgramDma(Transaction, Device, Context, Direction, SgList) per fragment")
wdf("wdfdmatransaction", "WdfDmaTransactionDmaCompleted(DmaTransaction)", "BOOLEAN, NTSTATUS", LE_DISPATCH,
    "a fragment is done; TRUE when the transaction is")
wdf("wdfdmatransaction", "WdfDmaTransactionDmaCompletedWithLength(DmaTransaction, TransferredLength)",
    "BOOLEAN, NTSTATUS", LE_DISPATCH, "a fragment is done, with fewer bytes")
wdf("wdfdmatransaction", "WdfDmaTransactionDmaCompletedFinal(DmaTransaction, FinalTransferredLength)",
    "BOOLEAN, NTSTATUS", LE_DISPATCH, "ends the transaction early")
wdf("wdfdmatransaction", "WdfDmaTransactionRelease(DmaTransaction)", "NTSTATUS", LE_DISPATCH,
    "releases it for reuse")
wdf("wdfdmatransaction", "WdfDmaTransactionAllocateResources(DmaTransaction, DmaDirection, RequiredMapRegisters, "
    .. "EvtReserveDmaFunction, EnablerContext)", "NTSTATUS", LE_DISPATCH,
    "reserves map registers (EvtReserveDma(Transaction, Context))")
wdf("wdfdmatransaction", "WdfDmaTransactionFreeResources(DmaTransaction)", "nothing", LE_DISPATCH,
    "frees reserved map registers")
wdf("wdfdmatransaction", "WdfDmaTransactionGetTransferInfo(DmaTransaction)",
    "MapRegisterCount, ScatterGatherElementCount", LE_DISPATCH, "what the transaction needs")
wdf("wdfdmatransaction", "WdfDmaTransactionSetMaximumLength(DmaTransaction, MaximumLength)", "nothing",
    LE_DISPATCH, "a smaller fragment length")
wdf("wdfdmatransaction", "WdfDmaTransactionSetSingleTransferRequirement(DmaTransaction, RequireSingleTransfer)",
    "nothing", LE_DISPATCH, "the whole transfer in one fragment, or fail")
wdf("wdfdmatransaction", "WdfDmaTransactionSetImmediateExecution(DmaTransaction, UseImmediateExecution)",
    "nothing", LE_DISPATCH, "fail instead of waiting for resources")
wdf("wdfdmatransaction", "WdfDmaTransactionCancel(DmaTransaction)", "BOOLEAN", LE_DISPATCH,
    "cancels a transaction waiting for resources, or stops a system-profile transfer (DmaCancelled)")
wdf("wdfdmatransaction", "WdfDmaTransactionSetChannelConfigurationCallback(DmaTransaction, ConfigureRoutine, "
    .. "ConfigureContext)", "nothing", LE_DISPATCH,
    "EvtDmaTransactionConfigureDmaChannel(Transaction, Device, Context, Mdl, Offset, Length) before each "
    .. "MapTransfer (system profiles)")
wdf("wdfdmatransaction", "WdfDmaTransactionSetTransferCompleteCallback(DmaTransaction, DmaCompletionRoutine, "
    .. "DmaCompletionContext)", "nothing", LE_DISPATCH,
    "EvtDmaTransactionDmaTransferComplete(Transaction, Device, Context, Direction, Status) when the "
    .. "controller finishes a transfer (system profiles)")
wdf("wdfdmatransaction", "WdfDmaTransactionSetDeviceAddressOffset(DmaTransaction, Offset)", "nothing", LE_DISPATCH,
    "added to the profile's DeviceAddress for this transaction (system profiles)")
wdf("wdfdmatransaction", "WdfDmaTransactionGetBytesTransferred(DmaTransaction)", "bytes", LE_DISPATCH,
    "bytes transferred so far")
wdf("wdfdmatransaction", "WdfDmaTransactionGetCurrentDmaTransferLength(DmaTransaction)", "bytes", LE_DISPATCH,
    "the current fragment's length")
wdf("wdfdmatransaction", "WdfDmaTransactionGetDevice(DmaTransaction)", "WDFDEVICE", LE_DISPATCH,
    "the transaction's device")
wdf("wdfdmatransaction", "WdfDmaTransactionGetRequest(DmaTransaction)", "WDFREQUEST or nil", LE_DISPATCH,
    "the transaction's request")

---------------------------------------------------------------------------
-- The lab's own
G = "Machines and memory (the lab's own)"
lab(G, "dma.machine", "dma.machine{ ram=, seed=, page_size=, alloc=, map_registers=, adapter_map_registers=, "
    .. "cpus=, coherent=, verifier=, dpc_latency=, interrupt_latency=, trace=, limits= }", "machine",
    "a simulated machine; it becomes current (the one WDK calls act on)", "the-api")
lab(G, "dma.allocations", "dma.allocations()", "count", "Lua blocks the state's allocator has handed out "
    .. "so far (make bench counts them per request)", "speed-make-bench")
lab(G, "dma.current", "dma.current()", "machine or nil", "the current machine", "the-api")
lab(G, "dma.struct", "dma.struct{ {name, type [, count]}, ... }", "struct type",
    "a C structure layout (natural alignment; type a scalar name or a struct type): T.size, T.align, "
    .. "T:offset(name), T:at(m, va), T:array(m, va, n) (0-based)", "porting-a-driver")
lab(G, "struct type:at", "T:at(m, va)", "struct view", "the structure at va: view.Field reads, "
    .. "view.Field = v writes", "porting-a-driver")
lab(G, "struct type:array", "T:array(m, va, n)", "struct array", "n structures back to back, indexed from 0 "
    .. "as in C (#array is n)", "porting-a-driver")
lab(G, "struct type:offset", "T:offset(name)", "offset", "FIELD_OFFSET of a field", "porting-a-driver")
lab(G, "dma.sweep", "dma.sweep{ params=, run=fn(p), seeds=, design= }", "nothing (dmalab sweep runs it)",
    "declares a parameter sweep: grid, list or random points, each run in a fresh machine",
    "what-if-experiments")
lab(G, "dma.export", "dma.export([t])", "t", "copies the WDK names into t (default _G)", "the-api")
lab(G, "dma.hex", "dma.hex(n)", "\"0x...\"", "n in hex", "the-api")
lab(G, "dma.memcpy_bench", "dma.memcpy_bench(bytes, rounds)", "seconds", "host time of `rounds` memcpy "
    .. "calls of `bytes` (make bench's memcpy baseline)", "speed-make-bench")
lab(G, "dma.status_name", "dma.status_name(Status)", "\"STATUS_...\" or nil", "the name of an NTSTATUS value",
    "the-api")
lab(G, "dma.size", "dma.size(s)", "bytes", "parses \"64G\", \"4KiB\", \"0x1000\"", "the-api")
lab(G, "dma.pattern", "dma.pattern(length [, seed])", "string", "reproducible pseudo-random bytes", "the-api")
lab(G, "dma.check_leaks", "dma.check_leaks([file])", "leaks, fatal",
    "reports what every open machine's adapters still hold (as dmalab does after a script)", "driver-verifier")
lab(G, "dma.driver", "dma.driver{ name=, MajorFunction=, DriverStartIo=, DriverUnload= }", "DRIVER_OBJECT",
    "a driver object, as the I/O manager hands DriverEntry one", "time-interrupts-and-devices")
lab(G, "dma.busmaster_registers", "dma.busmaster_registers", "{ NAME = offset, ... }",
    "the built-in bus master's register map", "time-interrupts-and-devices")
add { group = G, kind = "lab", name = "dma.version", signature = "dma.version", returns = "string",
      irql = "-", purpose = "the module's version", ref = README .. "the-api" }
local M = function(name, signature, returns, purpose, section)
  lab(G, "machine:" .. name, signature, returns, purpose, section or "the-api")
end
M("buffer", "m:buffer(len [, { offset=, alloc=, paged= }])", "buffer", "a buffer at a virtual address")
M("read_phys", "m:read_phys(pa, len)", "string", "reads physical memory")
M("write_phys", "m:write_phys(pa, s)", "nothing", "writes physical memory")
M("fill_phys", "m:fill_phys(pa, byte, len)", "nothing", "fills physical memory")
M("read", "m:read(va, len)", "string", "the CPU's view of virtual memory")
M("write", "m:write(va, s)", "nothing", "writes virtual memory as the CPU")
for _, n in ipairs { 8, 16, 32, 64 } do
  M("read_u" .. n, ("m:read_u%d(va)"):format(n), "integer",
    ("a %d-bit little-endian read of memory (a descriptor field)"):format(n), "porting-a-driver")
  M("write_u" .. n, ("m:write_u%d(va, value)"):format(n), "nothing",
    ("a %d-bit little-endian write of memory (the value must fit)"):format(n), "porting-a-driver")
end
M("device_read", "m:device_read(logical, len)", "string", "what a device reads at a logical address",
  "dma-adapters-wdm")
M("device_write", "m:device_write(logical, s)", "nothing", "what a device writes at a logical address",
  "dma-adapters-wdm")
M("stats", "m:stats()", "{ ram_bytes, free_bytes, map_registers, ... }", "the machine's memory and clock")
M("select", "m:select()", "m", "makes m the current machine")
M("close", "m:close()", "nothing", "frees the machine (leaks are checked first)")
M("unload", "m:unload(DriverObject)", "number of unload reports",
  "unloads the driver as the I/O manager does: DriverUnload, then the verifier's unload checks",
  "device-stacks-and-unload")
M("after", "m:after(delay, fn)", "timer", "calls fn after a simulated delay")
M("cancel", "m:cancel(t)", "boolean", "cancels m:after's timer")
M("run", "m:run()", "events run", "runs the clock until nothing is pending")
M("run_until", "m:run_until(t)", "events run", "runs the clock up to time t")
M("step", "m:step()", "boolean", "runs the next event")
M("reports", "m:reports()", "{ { bugcheck, p1..p4, message, time }, ... }", "the verifier reports so far",
  "driver-verifier")
M("check_leaks", "m:check_leaks()", "{ report, ... }", "reports what adapters still hold as leaks", "driver-verifier")
M("iommu_faults", "m:iommu_faults()", "{ { device, iova, access, time, domain, reason }, ... }",
  "the IOMMU's translation faults so far", "platforms-iommu-and-bounce-policies")
M("iommu_stats", "m:iommu_stats()", "{ mappings, unmaps, iotlb_hits, iotlb_misses, faults, ... }",
  "the IOMMU's counters", "platforms-iommu-and-bounce-policies")
M("iommu_interface", "m:iommu_interface()", "DMA_IOMMU_INTERFACE_EX table",
  "the DMA v3 domain operations (CreateDomainEx, AttachDeviceEx, MapIdentityRangeEx, ...)",
  "platforms-iommu-and-bounce-policies")
M("export_trace", "m:export_trace(file)", "nothing", "writes the kept records as Chrome "
  .. "trace-event JSON (Perfetto, chrome://tracing)", "what-if-experiments")
M("export_vcd", "m:export_vcd(file)", "nothing", "writes interrupts, device busy, channel grants and "
  .. "counters as a VCD for GTKWave", "what-if-experiments")
M("plot", "m:plot{ file= }", "nothing", "draws the run's gauges over time (map registers, DPC queue "
  .. "depth, bytes in flight) through gnuplot", "what-if-experiments")
M("stats_series", "m:stats_series()", "{ gauge = { {t=, v=}, ... }, ... }",
  "the run's gauges over time (at most 512 bins)", "what-if-experiments")
M("swiotlb_stats", "m:swiotlb_stats([reset])", "{ io_tlb_used, io_tlb_used_hiwater, failures, ... }",
  "the swiotlb pool's counters (reset: the high-water mark starts again)",
  "platforms-iommu-and-bounce-policies")
M("device", "m:device{ name= }", "DEVICE_OBJECT", "a device object", "dma-adapters-wdm")
M("busmaster", "m:busmaster{ bandwidth=, setup_latency=, max_transfer=, max_sg=, address_width=, alignment=, "
  .. "capacity= }", "device model", "the built-in bus-master device", "time-interrupts-and-devices")
M("uart", "m:uart{ name=, vector=, irql=, baud=115200, fifo=16, wire_max= }", "device model",
  "a UART with TX/RX FIFOs at a baud rate, raising DMA requests on a system DMA controller", "system-dma")
M("isa_dma", "m:isa_dma()", "system DMA controller", "the machine's ISA 8237 pair (channels 0-3 8-bit, 5-7 16-bit)",
  "system-dma")
M("soc_dma", "m:soc_dma{ instance=0, channels=8, lines=32, cycle_ns=100, scatter_gather=false, max_elements=16 }",
  "system DMA controller", "an SoC system DMA controller instance (DmaControllerInstance); scatter_gather: its "
  .. "channels walk chains of up to max_elements descriptors, its adapters' ScatterGatherLimit", "system-dma")
M("device_model", "m:device_model{ registers= | bars={ { size=, prefetchable=, read=, write= }, ... }, "
  .. "ports={ { size=, read=, write= }, ... }, vector=, irql= | interrupts={ { vector=, irql=, mode=, message= }, "
  .. "... }, read=, write= }", "device model",
  "a device written in Lua: memory BARs, I/O-port ranges, interrupts", "time-interrupts-and-devices")
M("irp", "m:irp{ major=, buffer=, offset=, length=, input=, ioctl=, file=, file_name=, device_offset=, "
  .. "completion= }", "IRP",
  "a request as the I/O manager builds it (buffers by the IOCTL's method or the device's Flags)",
  "time-interrupts-and-devices")
M("find_device", "m:find_device(name)", "DEVICE_OBJECT or nil", "the device named so, directly or through a "
  .. "symbolic link", "porting-a-driver")
lab("Drivers, devices, IRPs", "IRP:result", "irp:result()", "{ Status, Information, output } or nil",
    "what the originator gets back once the IRP is completed (the output buffer's bytes)", "porting-a-driver")
M("trace", "m:trace([kind])", "{ record, ... }", "the trace records (of one kind)", "time-interrupts-and-devices")
M("timeline", "m:timeline([n])", "string", "the trace as text", "time-interrupts-and-devices")
M("trace_hash", "m:trace_hash()", "string", "a hash that identifies the run", "time-interrupts-and-devices")
M("trace_capacity", "m:trace_capacity()", "records", "trace records kept", "time-interrupts-and-devices")
M("trace_event", "m:trace_event(obj, a, b)", "nothing", "adds a record of the script's own",
  "time-interrupts-and-devices")
M("run_stats", "m:run_stats()", "{ requests, transfers, bytes_moved, bytes_bounced, interrupts, ... }",
  "the run's statistics", "time-interrupts-and-devices")
M("wdf_add_device", "m:wdf_add_device(driver, hw)", "WDFDEVICE, NTSTATUS",
  "the PnP manager: EvtDriverDeviceAdd, start and power-up", "kmdf")
M("wdf_set_power", "m:wdf_set_power(device, state)", "NTSTATUS", "powers the device to \"D0\" or \"D3\"", "kmdf")
M("wdf_remove_device", "m:wdf_remove_device(device)", "NTSTATUS", "removes the device and its children", "kmdf")
M("wdf_fail_allocations", "m:wdf_fail_allocations(n)", "nothing", "the next n framework allocations fail", "kmdf")
local B = function(name, signature, returns, purpose)
  lab(G, "buffer:" .. name, signature, returns, purpose, "the-api")
end
B("read", "b:read([off [, len]])", "string", "reads the buffer's bytes")
B("write", "b:write(off, s)", "nothing", "writes bytes into the buffer")
B("fill", "b:fill(byte [, off, len])", "nothing", "fills the buffer")
B("compare", "b:compare(off, s)", "true, or false, offset", "compares the buffer with s")
B("pfns", "b:pfns()", "{ pfn, ... }", "the buffer's physical pages")
B("pa", "b:pa(off)", "PhysicalAddress", "the physical address of a byte")
B("free", "b:free()", "nothing", "frees the buffer")
lab(G, "MDL:runs", "mdl:runs()", "{ { pfn=, count= }, ... }", "the MDL's physically contiguous runs", "the-api")
G = "Devices (the lab's own)"
local D = function(name, signature, returns, purpose)
  lab(G, "device model:" .. name, signature, returns, purpose, "time-interrupts-and-devices")
end
D("raise_interrupt", "hw:raise_interrupt([n])", "nothing", "raises the line of interrupt n (default 1)")
D("clear_interrupt", "hw:clear_interrupt([n])", "nothing", "lowers it")
D("dma_read", "hw:dma_read(logical, len)", "string", "the device reads host memory")
D("dma_write", "hw:dma_write(logical, s)", "nothing", "the device writes host memory")
D("inject", "hw:inject{ kind=, at_command=, at=, probability=, extra= }", "nothing", "a deterministic fault")
D("medium_read", "hw:medium_read(offset, len)", "string", "reads the bus master's storage medium")
D("medium_write", "hw:medium_write(offset, s)", "nothing", "writes the medium")
D("device_stats", "hw:device_stats()", "{ commands, bytes, errors, faults, interrupts }", "the device's counters")
D("connect_dma", "hw:connect_dma(controller, { tx=, rx= })", "nothing",
  "puts a UART's DMA requests on request lines of a system DMA controller (nil: disconnects)")
D("receive", "hw:receive(bytes)", "nothing", "bytes arrive on the UART's wire, one per character time")
D("sent", "hw:sent()", "string", "every byte the UART put on its wire")
D("uart_stats", "hw:uart_stats()", "{ sent, received, rx_overruns, tx_dropped, dma_put, dma_get, "
  .. "terminal_counts, char_ns, last_sent_at, fifo_address }", "the UART's counters")
local C = function(name, signature, returns, purpose)
  lab(G, "system DMA controller:" .. name, signature, returns, purpose, "system-dma")
end
C("counter", "c:counter(channel)", "bytes", "what the channel has still to move (the 8237: read through its ports)")
C("address", "c:address(channel)", "PhysicalAddress", "the channel's current address")
C("masked", "c:masked(channel)", "boolean", "whether the channel is masked (stopped)")
C("mask", "c:mask(channel, masked)", "nothing", "masks or unmasks the channel")
C("program", "c:program(channel, { address=, count=, unit=, line=, to_device=, mode=, auto_init=, decrement=, "
  .. "boundary=, chain= })", "nothing", "the channel's base and current registers, as a driver of the controller "
  .. "would; chain = { {address=, count=}, ... } on a scatter/gather controller: one transfer over the elements")
C("stats", "c:stats()", "{ units, bytes, terminal_counts, overruns, wraps, descriptors }",
  "the controller's counters (descriptors: chain elements loaded after the first)")
C("port_read", "c:port_read(port)", "byte", "IN from an 8237 or page-register port (ISA only)")
C("port_write", "c:port_write(port, byte)", "nothing", "OUT to an 8237 or page-register port (ISA only)")
lab(G, "dma.uart_registers", "dma.uart_registers", "{ NAME = offset or bit, ... }", "the UART's register map",
    "system-dma")
lab(G, "WDFDEVICE:power_log", "device:power_log()", "{ callback, ... }", "the power callbacks in the order they ran",
    "kmdf")
lab(G, "WDFDEVICE:state", "device:state()", "string", "the device's PnP state", "kmdf")
lab(G, "WDFQUEUE:stats", "queue:stats()", "{ ... }", "the queue's counters", "kmdf")
lab(G, "WDFINTERRUPT:connected", "interrupt:connected()", "boolean", "whether the interrupt is connected", "kmdf")
lab(G, "WDFDMATRANSACTION:state", "transaction:state()", "string", "the transaction's state", "kmdf")

---------------------------------------------------------------------------
-- Object types
local T = "wdm/ns-wdm-_"
class("machine", "a simulated machine: RAM, CPUs, clock, verifier (dma.machine)", README .. "the-api")
class("buffer", "a buffer at a virtual address with real bytes (m:buffer)", README .. "the-api")
class("MDL", "a memory descriptor list (IoAllocateMdl)", DDI .. T .. "mdl")
class("DEVICE_OBJECT", "a device object (m:device, IoCreateDevice)", DDI .. T .. "device_object")
class("DRIVER_OBJECT", "a driver object (dma.driver)", DDI .. T .. "driver_object")
class("DMA_ADAPTER", "a DMA adapter (IoGetDmaAdapter); its DmaOperations are its methods", DDI .. T .. "dma_adapter")
class("DMA_TRANSFER_CONTEXT", "a v3 DMA transfer context (InitializeDmaTransferContext): "
      .. "adapter, pending, mapped, cancelled", DDI .. "wdm/nc-wdm-pinitialize_dma_transfer_context")
class("SCATTER_GATHER_LIST", "an S/G list: NumberOfElements, Elements[i].Address/.Length (i from 0)",
      DDI .. T .. "scatter_gather_list")
class("IRP", "an I/O request packet", DDI .. T .. "irp")
class("FILE_OBJECT", "a file opened with IRP_MJ_CREATE (irp.FileObject): state, FileName, FsContext",
      DDI .. T .. "file_object")
class("IO_STATUS_BLOCK", "Status and Information of an IRP", DDI .. "wdm/ns-wdm-_io_status_block")
class("KDPC", "a deferred procedure call (KeInitializeDpc)", DDI .. "wdm/nf-wdm-keinitializedpc")
class("KTIMER", "a kernel timer (KeInitializeTimer)", DDI .. "wdm/nf-wdm-keinitializetimer")
class("struct type", "a C structure layout (dma.struct)", README .. "porting-a-driver")
class("KSPIN_LOCK", "a spin lock (KeInitializeSpinLock)", DDI .. "wdm/nf-wdm-keinitializespinlock")
class("KEVENT", "an event (KeInitializeEvent)", DDI .. "wdm/nf-wdm-keinitializeevent")
class("IO_WORKITEM", "a work item (IoAllocateWorkItem)", DDI .. "wdm/nf-wdm-ioallocateworkitem")
class("KINTERRUPT", "a connected interrupt (IoConnectInterrupt)", DDI .. "wdm/nf-wdm-ioconnectinterrupt")
class("device model", "a device on the machine's bus: the built-in bus master or one written in Lua",
      README .. "time-interrupts-and-devices")
class("system DMA controller", "an ISA 8237 pair (m:isa_dma) or an SoC controller (m:soc_dma)",
      README .. "system-dma")
class("WDFDRIVER", "a framework driver", DDI .. "wdfdriver/nf-wdfdriver-wdfdrivercreate")
class("WDFDEVICE", "a framework device", DDI .. "wdfdevice/nf-wdfdevice-wdfdevicecreate")
class("WDFFILEOBJECT", "a framework file object (one per IRP_MJ_CREATE on a framework device)",
      DDI .. "wdffileobject/nf-wdffileobject-wdffileobjectwdmgetfileobject")
class("WDFDEVICE_INIT", "what EvtDriverDeviceAdd gets to build the device", DDI .. "wdfdevice/nf-wdfdevice-wdfdevicecreate")
class("WDFCMRESLIST", "a device's hardware resources", DDI .. "wdfresource/nf-wdfresource-wdfcmresourcelistgetcount")
class("WDFQUEUE", "a framework I/O queue", DDI .. "wdfio/nf-wdfio-wdfioqueuecreate")
class("WDFREQUEST", "a framework request", DDI .. "wdfrequest/nf-wdfrequest-wdfrequestcomplete")
class("WDFINTERRUPT", "a framework interrupt", DDI .. "wdfinterrupt/nf-wdfinterrupt-wdfinterruptcreate")
class("WDFSPINLOCK", "a framework spin lock", DDI .. "wdfsync/nf-wdfsync-wdfspinlockcreate")
class("WDFWAITLOCK", "a framework wait lock", DDI .. "wdfsync/nf-wdfsync-wdfwaitlockcreate")
class("WDFDPC", "a framework DPC", DDI .. "wdfdpc/nf-wdfdpc-wdfdpccreate")
class("WDFTIMER", "a framework timer", DDI .. "wdftimer/nf-wdftimer-wdftimercreate")
class("WDFWORKITEM", "a framework work item", DDI .. "wdfworkitem/nf-wdfworkitem-wdfworkitemcreate")
class("WDFMEMORY", "a framework memory object", DDI .. "wdfmemory/nf-wdfmemory-wdfmemorycreate")
class("WDFLOOKASIDE", "a framework lookaside list", DDI .. "wdfmemory/nf-wdfmemory-wdflookasidelistcreate")
class("WDFDMAENABLER", "a DMA enabler", DDI .. "wdfdmaenabler/nf-wdfdmaenabler-wdfdmaenablercreate")
class("WDFDMATRANSACTION", "a DMA transaction", DDI .. "wdfdmatransaction/nf-wdfdmatransaction-wdfdmatransactioncreate")
class("WDFCOMMONBUFFER", "a framework common buffer", DDI .. "wdfcommonbuffer/nf-wdfcommonbuffer-wdfcommonbuffercreate")

---------------------------------------------------------------------------
-- Constants
constants("Constants", "^STATUS_", "an NTSTATUS value (dma.status_name names one)",
          "https://learn.microsoft.com/openspecs/windows_protocols/ms-erref/596a1078-e883-4972-9bbc-49e60bebca55")
constants("Constants", "_LEVEL$", "an IRQL", DDI .. "wdm/nf-wdm-keraiseirql")
constants("Constants", "^MDL_", "an MdlFlags bit", DDI .. T .. "mdl")
constants("Constants", "^IRP_MJ_", "an IRP major function code", DDI .. T .. "irp")
constants("Constants", "^DO_", "a DEVICE_OBJECT Flags bit (DO_BUFFERED_IO, DO_DIRECT_IO, DO_EXCLUSIVE)",
          DDI .. T .. "device_object")
constants("Constants", "^DEVICE_INTERFACE_", "an IoGetDeviceInterfaces flag", DDI .. "wdm/nf-wdm-iogetdeviceinterfaces")
constants("Constants", "^DomainType", "an IOMMU_DMA_DOMAIN_TYPE (DMA remapping)",
          DDI .. "wdm/ne-wdm-_iommu_dma_domain_type")
constants("Constants", "^IOMMU_ACCESS_", "an IOMMU access permission (MapIdentityRangeEx)",
          DDI .. "wdm/nc-wdm-iommu_map_identity_range_ex")
constants("Constants", "^FILE_.*_ALIGNMENT$", "an alignment requirement", DDI .. T .. "device_object")
local CHARS = "a DeviceCharacteristics flag (IoCreateDevice)"
local CHARS_REF = "https://learn.microsoft.com/windows-hardware/drivers/kernel/specifying-device-characteristics"
constants("Constants", "^FILE_DEVICE_SECURE_OPEN$", CHARS, CHARS_REF)
constants("Constants", "^FILE_DEVICE_IS_MOUNTED$", CHARS, CHARS_REF)
constants("Constants", "^FILE_DEVICE_ALLOW_APPCONTAINER_TRAVERSAL$", CHARS, CHARS_REF)
constants("Constants", "^FILE_CHARACTERISTIC_", CHARS, CHARS_REF)
constants("Constants", "^FILE_[%u_]+_MEDIA$", CHARS, CHARS_REF)
constants("Constants", "^FILE_%u+_DEVICE$", CHARS, CHARS_REF)
constants("Constants", "^FILE_%u+_VOLUME$", CHARS, CHARS_REF)
constants("Constants", "^FILE_FLOPPY_DISKETTE$", CHARS, CHARS_REF)
constants("Constants", "^FILE_READ_ONLY_DEVICE$", CHARS, CHARS_REF)
constants("Constants", "^FILE_AUTOGENERATED_DEVICE_NAME$", CHARS, CHARS_REF)
constants("Constants", "^FILE_DEVICE_", "a device type (IoCreateDevice, CTL_CODE)", DDI .. "wdm/nf-wdm-iocreatedevice")
local IOCTL_REF = "https://learn.microsoft.com/windows-hardware/drivers/kernel/defining-i-o-control-codes"
constants("Constants", "^METHOD_", "an IOCTL transfer type (CTL_CODE's Method)", IOCTL_REF)
constants("Constants", "^FILE_%u+_ACCESS$", "an IOCTL's required access (CTL_CODE's Access)", IOCTL_REF)
constants("Constants", "^FILE_%u+_DATA$", "a file access right (CTL_CODE's Access)", IOCTL_REF)
constants("Constants", "^NonPagedPool", "a POOL_TYPE", DDI .. "wdm/ne-wdm-_pool_type")
constants("Constants", "^PagedPool$", "a POOL_TYPE", DDI .. "wdm/ne-wdm-_pool_type")
constants("Constants", "^POOL_FLAG_", "an ExAllocatePool2 flag", DDI .. "wdm/nf-wdm-exallocatepool2")
constants("Constants", "Event$", "an EVENT_TYPE (KeInitializeEvent)", DDI .. "wdm/ne-wdm-_event_type")
constants("Constants", "^Executive$", "a KWAIT_REASON", DDI .. "wdm/nf-wdm-kewaitforsingleobject")
constants("Constants", "WorkQueue$", "a WORK_QUEUE_TYPE (IoQueueWorkItem)", DDI .. "wdm/nf-wdm-ioqueueworkitem")
constants("Constants", "^WdfDeviceIo", "a WDF_DEVICE_IO_TYPE (WdfDeviceInitSetIoType)",
          DDI .. "wdfdevice/ne-wdfdevice-_wdf_device_io_type")
constants("Constants", "^WDF_NO_", "NULL: nil in Lua (no attributes, no handle, no callback)",
          DDI .. "wdfobject/nf-wdfobject-wdf_object_attributes_init")
constants("Constants", "^DEVICE_DESCRIPTION_VERSION", "a DEVICE_DESCRIPTION Version",
          DDI .. "wdm/ns-wdm-_device_description")
constants("Constants", "^CmResourceType", "a resource type", DDI .. "wdm/ns-wdm-_cm_partial_resource_descriptor")
constants("Constants", "^CmResourceShare", "a CM_SHARE_DISPOSITION", DDI .. "wdm/ns-wdm-_cm_partial_resource_descriptor")
constants("Constants", "^CM_RESOURCE_", "a resource descriptor's Flags bit",
          DDI .. "wdm/ns-wdm-_cm_partial_resource_descriptor")
constants("Constants", "^WdfDmaProfile", "a DMA enabler profile", DDI .. "wdfdmaenabler/ne-wdfdmaenabler-_wdf_dma_profile")
constants("Constants", "^WdfDmaDirection", "a DMA direction",
          DDI .. "wdfdmaenabler/ne-wdfdmaenabler-_wdf_dma_direction")
constants("Constants", "^WDF_DMA_ENABLER_CONFIG_", "a DMA enabler flag",
          DDI .. "wdfdmaenabler/ns-wdfdmaenabler-_wdf_dma_enabler_config")
constants("Constants", "^WdfIoQueueDispatch", "a queue dispatch type", DDI .. "wdfio/ne-wdfio-_wdf_io_queue_dispatch_type")
constants("Constants", "^WdfPowerDevice", "a device power state", DDI .. "wudfddi_types/ne-wudfddi_types-_wdf_power_device_state")
constants("Constants", "^PowerDevice", "a DEVICE_POWER_STATE (WDM)", DDI .. "wdm/ne-wdm-_device_power_state")
constants("Constants", "^WdfRequestType", "a request type", DDI .. "wdfrequest/ne-wdfrequest-_wdf_request_type")
constants("Constants", "^Wdf[TF]", "a WDF_TRI_STATE (WdfTrue, WdfFalse, WdfUseDefault)",
          DDI .. "wdftypes/ne-wdftypes-_wdf_tri_state")
constants("Constants", "^WdfUseDefault$", "a WDF_TRI_STATE", DDI .. "wdftypes/ne-wdftypes-_wdf_tri_state")
constants("Constants", "Importance$", "a DPC importance", DDI .. "wdm/nf-wdm-kesetimportancedpc")
constants("Constants", "PagePriority$", "an MmGetSystemAddressForMdlSafe priority",
          DDI .. "wdm/nf-wdm-mmgetsystemaddressformdlsafe")
constants("Constants", "^Io%a+Access$", "an MmProbeAndLockPages Operation", DDI .. "wdm/nf-wdm-mmprobeandlockpages")
constants("Constants", "^%u%l+Mode$", "a KPROCESSOR_MODE (KernelMode, UserMode)", DDI .. "wdm/nf-wdm-mmprobeandlockpages")
constants("Constants", "^Mm%a*Cached$", "a MEMORY_CACHING_TYPE", DDI .. "wdm/ne-wdm-_memory_caching_type")
constants("Constants", "^MmWriteCombined$", "a MEMORY_CACHING_TYPE", DDI .. "wdm/ne-wdm-_memory_caching_type")
constants("Constants", "^[KD]e%a+Object%a*$", "what AdapterControl returns (IO_ALLOCATION_ACTION)",
          DDI .. "wdm/ne-wdm-_io_allocation_action")
constants("Constants", "^IO_%a+_INCREMENT$", "an IoCompleteRequest PriorityBoost", DDI .. "wdm/nf-wdm-iocompleterequest")
constants("Constants", "^LevelSensitive$", "a KINTERRUPT_MODE", DDI .. "wdm/nf-wdm-ioconnectinterrupt")
constants("Constants", "^PAGE_[NREW]", "a page protection (MmMapIoSpaceEx)",
          DDI .. "wdm/nf-wdm-mmmapiospaceex")
constants("Constants", "^CONNECT_", "an IO_CONNECT_INTERRUPT_PARAMETERS Version",
          DDI .. "wdm/ns-wdm-_io_connect_interrupt_parameters")
constants("Constants", "^Latched$", "a KINTERRUPT_MODE", DDI .. "wdm/nf-wdm-ioconnectinterrupt")
constants("Constants", "^DMA_SYNCHRONOUS_CALLBACK$", "an AllocateAdapterChannelEx Flags bit",
          DDI .. "wdm/nc-wdm-pallocate_adapter_channel_ex")
constants("Constants", "^Dma[CAE]%l+$", "a DMA_COMPLETION_STATUS", DDI .. "wdm/ne-wdm-dma_completion_status")
constants("Constants", "^DMA_TRANSFER_INFO_VERSION", "a DMA_TRANSFER_INFO Version", DDI .. T .. "dma_transfer_info")
constants("Constants", "^DMA_TRANSFER_CONTEXT_SIZE", "the bytes of a DMA transfer context (x64)",
          DDI .. "wdm/nc-wdm-pinitialize_dma_transfer_context")
constants("Constants", "^DMA_ADAPTER_INFO_VERSION", "a DMA_ADAPTER_INFO Version", DDI .. T .. "dma_adapter_info")
constants("Constants", "^ADAPTER_INFO_", "a DMA_ADAPTER_INFO_V1 Flags bit", DDI .. T .. "dma_adapter_info_v1")
constants("Constants", "^MM_ANY_NODE_OK$", "any NUMA node (AllocateCommonBufferEx)",
          DDI .. "wdm/nc-wdm-pallocate_common_buffer_ex")
constants("Constants", "^SYSDMA_CONFIGURE_", "a ConfigureAdapterChannel FunctionNumber of the lab's system DMA "
          .. "controllers (MODE: a transfer mode; CYCLE: ns a unit, SoC only)", README .. "system-dma")
constants("Constants", "^SYSDMA_[DSB]%u+$", "a transfer mode for SYSDMA_CONFIGURE_MODE (demand, single, block)",
          README .. "system-dma")
constants("Constants", "^PCIBus$", "an INTERFACE_TYPE", DDI .. "wdm/ne-wdm-_interface_type")
constants("Constants", "^Isa$", "an INTERFACE_TYPE", DDI .. "wdm/ne-wdm-_interface_type")
constants("Constants", "^Eisa$", "an INTERFACE_TYPE", DDI .. "wdm/ne-wdm-_interface_type")
constants("Constants", "^Internal$", "an INTERFACE_TYPE", DDI .. "wdm/ne-wdm-_interface_type")
constants("Constants", "^Dma%u%l+$", "a DMA_COMPLETION_STATUS (EvtDmaTransactionDmaTransferComplete)",
          DDI .. "wdm/ne-wdm-_dma_completion_status")
constants("Constants", "^CM_RESOURCE_DMA_V3$", "a CmResourceTypeDma descriptor's Flags bit: u.DmaV3",
          DDI .. "wdm/ns-wdm-_cm_partial_resource_descriptor")
constants("Constants", "^ACPIBus$", "an INTERFACE_TYPE", DDI .. "wdm/ne-wdm-_interface_type")
constants("Constants", "^Width%d+Bits$", "a DMA_WIDTH (DEVICE_DESCRIPTION DmaWidth)", DDI .. "wdm/ns-wdm-_device_description")
constants("Constants", "^Compatible$", "a DMA_SPEED (DEVICE_DESCRIPTION DmaSpeed)", DDI .. "wdm/ns-wdm-_device_description")
constants("Constants", "^Type[ABCF]$", "a DMA_SPEED (DEVICE_DESCRIPTION DmaSpeed)", DDI .. "wdm/ns-wdm-_device_description")
constants("Constants", "^PAGE_S", "the current machine's page size or shift", DDI .. "wdm/nf-wdm-bytes_to_pages")
constants("Constants", "^TRUE$", "BOOLEAN true", DDI .. "wdm/nf-wdm-nt_success")
constants("Constants", "^FALSE$", "BOOLEAN false", DDI .. "wdm/nf-wdm-nt_success")

---------------------------------------------------------------------------
-- Lookups

-- The module, loaded lazily (dma.help is read by tests without it).
local function module()
  local ok, dma = pcall(require, "dma")
  return ok and dma or nil
end

-- The entry of a constant family for `name` (not a function), or nil.
local function family_of(name)
  local dma = module()
  if dma and type(rawget(dma, name)) == "function" then return nil end
  for _, f in ipairs(families) do
    if name:match(f.pattern) then return f end
  end
  return nil
end

-- Every function value mapped to its entry: dma.X, and class methods.
local function functions()
  local map = {}
  local dma = module()
  if not dma then return map end
  for k, v in pairs(dma) do
    local e = by_name[k] or by_name["dma." .. k]
    if type(v) == "function" and e then map[v] = e end
  end
  local reg = debug and debug.getregistry and debug.getregistry() or {}
  for cname, mt in pairs(reg) do
    if type(cname) == "string" and type(mt) == "table" and type(rawget(mt, "__methods")) == "table" then
      for mname, f in pairs(mt.__methods) do
        local e = by_name[cname .. ":" .. mname]
        if e and not map[f] then map[f] = e end
      end
    end
  end
  return map
end

-- lookup(x): the entry for a name, a function value or an object, or nil.
function H.lookup(x)
  if type(x) == "string" then
    return by_name[x] or by_name["dma." .. x] or (function()
      local f = family_of(x)
      return f and { name = x, kind = "constant", signature = x, purpose = f.purpose, ref = f.ref, irql = "-",
                     group = f.group }
    end)()
  end
  if type(x) == "function" then return functions()[x] end
  local mt = getmetatable(x)
  if type(x) == "userdata" and type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
    return by_name[mt.__name]
  end
  return nil
end

-- The names of everything the module exports, as help covers them: WDK
-- names, dma.* functions, Class:method, and class names.
function H.exported()
  local names = {}
  local dma = module()
  if not dma then return names end
  for k in pairs(dma) do  -- dma._xxx are the lab module's private helpers, not API
    if not k:match("^_") then names[#names + 1] = k:match("^%u") and k or "dma." .. k end
  end
  local reg = debug.getregistry()
  for cname, mt in pairs(reg) do
    -- the module's classes: those with methods or fields, or a WDK type name
    -- (other modules loaded in the state have their own metatables)
    if type(cname) == "string" and type(mt) == "table" and rawget(mt, "__name") == cname
       and (rawget(mt, "__methods") or rawget(mt, "__fields") or cname:match("^%u[%u_]+$")) then
      names[#names + 1] = cname
      for mname in pairs(rawget(mt, "__methods") or {}) do names[#names + 1] = cname .. ":" .. mname end
    end
  end
  table.sort(names)
  return names
end

-- coverage() -> names with help, names exported, { names without help }
function H.coverage()
  local missing, covered = {}, 0
  local names = H.exported()
  for _, n in ipairs(names) do
    if by_name[n] or family_of(n) then covered = covered + 1 else missing[#missing + 1] = n end
  end
  return covered, #names, missing
end

H.entries, H.families = entries, families

---------------------------------------------------------------------------
-- Text

-- The text help prints for an entry.
function H.text(e, value)
  local lines = { e.signature .. (e.returns and (" -> " .. e.returns) or "") }
  if value ~= nil then lines[1] = lines[1] .. " = " .. tostring(value) end
  lines[#lines + 1] = "  " .. e.purpose
  if e.irql and e.irql ~= "-" then lines[#lines + 1] = "  IRQL: " .. e.irql end
  if e.kind == "type" then
    local reg = debug.getregistry()
    local mt = reg[e.name]
    if type(mt) == "table" then
      local fields, methods = {}, {}
      for k in pairs(rawget(mt, "__fields") or {}) do fields[#fields + 1] = k end
      for k in pairs(rawget(mt, "__methods") or {}) do methods[#methods + 1] = k end
      table.sort(fields)
      table.sort(methods)
      if #fields > 0 then lines[#lines + 1] = "  fields: " .. table.concat(fields, ", ") end
      if #methods > 0 then lines[#lines + 1] = "  methods: " .. table.concat(methods, ", ") end
    end
  end
  lines[#lines + 1] = "  see " .. e.ref
  return table.concat(lines, "\n")
end

local OVERVIEW = [[
help(name or value): the signature, what it returns, the IRQL, the purpose
and the reference page of any exported name, e.g.
  help(IoGetDmaAdapter)    help("MapTransfer")    help(m)    help(STATUS_PENDING)
  help("Wdf")              (every name that starts so)
Groups: %s.
%d names with help of %d exported; README.md's "API reference" lists them all.]]

-- help([x]): prints the help for a name, a prefix, a function, an object or
-- a status value; help() prints how to use it.
function H.help(x)
  if x == nil then
    local groups, seen = {}, {}
    for _, e in ipairs(entries) do
      if not seen[e.group] then seen[e.group] = true; groups[#groups + 1] = e.group end
    end
    local covered, total = H.coverage()
    print(OVERVIEW:format(table.concat(groups, ", "), covered, total))
    return
  end
  if math.type(x) == "integer" then
    local dma = module()
    local name = dma and dma.status_name(x)
    if name then
      local text = H.text(H.lookup(name)):gsub("^[^\n]*", name .. " = " .. ("0x%X"):format(x & 0xFFFFFFFF))
      print(text)
      return
    end
  end
  local e = H.lookup(x)
  if e then
    local dma = module()
    print(H.text(e, type(x) == "string" and e.kind == "constant" and dma and rawget(dma, x) or nil))
    return
  end
  if type(x) == "string" then
    local list = {}
    for _, en in ipairs(entries) do
      if en.name:find(x, 1, true) == 1 or en.name:find(":" .. x, 1, true) then
        list[#list + 1] = "  " .. en.signature
      end
    end
    if #list > 0 then
      print(("%d names start with %q:\n%s"):format(#list, x, table.concat(list, "\n")))
      return
    end
  end
  print(("no help for %s; help() lists what there is"):format(type(x) == "string" and ("%q"):format(x) or tostring(x)))
end

-- The README's API reference, as Markdown, one table per group.
function H.markdown()
  local out, order, rows = {}, {}, {}
  for _, e in ipairs(entries) do
    if not rows[e.group] then rows[e.group] = {}; order[#order + 1] = e.group end
    local sig = e.signature .. (e.returns and (" → " .. e.returns) or "")
    local page = e.ref:match("^README%.md(#.*)$") or e.ref
    local link = e.ref:match("^README") and ("[README](" .. page .. ")") or ("[page](" .. page .. ")")
    rows[e.group][#rows[e.group] + 1] = ("| `%s` | %s | %s | %s |"):format(sig:gsub("|", "\\|"), e.purpose,
                                                                          e.irql, link)
  end
  for _, g in ipairs(order) do
    out[#out + 1] = "#### " .. g
    out[#out + 1] = ""
    out[#out + 1] = "| Signature → returns | Purpose | IRQL | Reference |"
    out[#out + 1] = "|---|---|---|---|"
    for _, r in ipairs(rows[g]) do out[#out + 1] = r end
    out[#out + 1] = ""
  end
  out[#out + 1] = "#### Constants"
  out[#out + 1] = ""
  out[#out + 1] = "| Names | What | Reference |"
  out[#out + 1] = "|---|---|---|"
  for _, f in ipairs(families) do
    out[#out + 1] = ("| `%s` | %s | [page](%s) |"):format(f.pattern, f.purpose, f.ref)
  end
  return table.concat(out, "\n") .. "\n"
end

return H
