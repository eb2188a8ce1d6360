-- Synchronisation, deferred work and memory as drivers call them: KSPIN_LOCK
-- raising to DISPATCH_LEVEL, KEVENT waits running the simulated clock,
-- IO_WORKITEM at PASSIVE_LEVEL, pool with tags and pool tracking, Rtl memory
-- routines; the KMDF side: WDFSPINLOCK, WDFWAITLOCK, the device lock,
-- WDFDPC, WDFTIMER, WDFWORKITEM, WDFMEMORY and lookaside lists. The rules
-- are the core's (test_sync.c, test_wdfsync.c); these check the Lua surface:
-- WDK names, argument order, what comes back and what raises.
local dma = require "dma"
local support = require "support"
dma.export()

-- A started KMDF device of a device model: the device, its driver and queue.
local function kmdf_device(m)
  local hw = m:device_model { name = "sdev", registers = 0x100, vector = 40, irql = 7 }
  local rec = {}
  local function EvtDriverDeviceAdd(_, DeviceInit)
    local _, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
    rec.device = device
    local status
    local qconfig = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
    qconfig.EvtIoRead = function() end
    status, rec.queue = WdfIoQueueCreate(device, qconfig, WDF_NO_OBJECT_ATTRIBUTES)
    return status
  end
  local status, driver = WdfDriverCreate(nil, "\\Registry\\sdev", WDF_NO_OBJECT_ATTRIBUTES,
                                         WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  assert(status == STATUS_SUCCESS)
  m:wdf_add_device(driver, hw)
  return rec.device, rec.queue
end

describe("kernel spin locks and events", function()
  local m
  before_each(function() m = support.machine {} end)
  after_each(function() m:close() end)

  it("raise to DISPATCH_LEVEL and give the old IRQL back", function()
    local lock = KeInitializeSpinLock(nil)
    local old = KeAcquireSpinLock(lock)
    assert.are.equal(PASSIVE_LEVEL, old)
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    assert.matches("held", tostring(lock))
    KeReleaseSpinLock(lock, old)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    KeRaiseIrql(DISPATCH_LEVEL)
    KeAcquireSpinLockAtDpcLevel(lock)
    KeReleaseSpinLockFromDpcLevel(lock)
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    KeLowerIrql(PASSIVE_LEVEL)
  end)

  it("raise the verifier's 0xC4 reports for misuse, or record them", function()
    local lock = KeInitializeSpinLock(nil)
    assert.has_error(function() KeReleaseSpinLock(lock, PASSIVE_LEVEL) end,
                     "KeReleaseSpinLock: KSPIN_LOCK#" .. tostring(lock):match("#(%d+)") ..
                     " is not held (acquire and release must alternate)")
    m:close()
    m = support.machine { verifier = "record" }
    lock = KeInitializeSpinLock(nil)
    local old = KeAcquireSpinLock(lock)
    KeAcquireSpinLock(lock)
    KeReleaseSpinLock(lock, old)
    KeAcquireSpinLockAtDpcLevel(lock)
    assert.are.same({ 0x4000B, 0x40 }, support.p1s(m))
    assert.are.equal(0xC4, m:reports()[1].bugcheck)
  end)

  it("wait on the simulated clock until a DPC signals the event, or time out", function()
    local event = KeInitializeEvent(nil, NotificationEvent, FALSE)
    local dpc = KeInitializeDpc(nil, function(_, ctx) KeSetEvent(ctx, 0, FALSE) end, event)
    KeSetTimer(KeInitializeTimer(nil), -10000, dpc)  -- 1 ms
    assert.are.equal(STATUS_TIMEOUT, KeWaitForSingleObject(event, Executive, KernelMode, FALSE, -1000))
    assert.are.equal(100000, m.now)
    assert.are.equal(STATUS_SUCCESS, KeWaitForSingleObject(event, Executive, KernelMode, FALSE, nil))
    assert.is_true(m.now >= 1000000)
    assert.are.equal(1, KeReadStateEvent(event))
    assert.are.equal(1, KeResetEvent(event))
    KeClearEvent(event)
    assert.has_error(function() KeWaitForSingleObject(event, Executive, KernelMode, FALSE, nil) end)
    local sync = KeInitializeEvent(nil, SynchronizationEvent, TRUE)
    assert.are.equal(STATUS_SUCCESS, KeWaitForSingleObject(sync, Executive, KernelMode, FALSE, 0))
    assert.are.equal(STATUS_TIMEOUT, KeWaitForSingleObject(sync, Executive, KernelMode, FALSE, 0))
  end)

  it("stalls the CPU while the clock runs (a device event in the spin runs)", function()
    local seen
    m:after("3us", function() seen = m.now end)
    local lock = KeInitializeSpinLock(nil)
    local old = KeAcquireSpinLock(lock)                  -- a spin at DISPATCH_LEVEL
    KeStallExecutionProcessor(20)
    assert.are.equal(20000, m.now)
    assert.are.equal(3000, seen)
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    KeReleaseSpinLock(lock, old)
    assert.has_error(function() KeStallExecutionProcessor(-1) end,
                     "bad argument #1 to 'KeStallExecutionProcessor' (MicroSeconds must be a ULONG)")
  end)

  it("runs IO_WORKITEM routines at PASSIVE_LEVEL on the worker", function()
    local hw = m:device_model { name = "w", registers = 0x100 }
    local item = IoAllocateWorkItem(hw.device)
    local seen
    KeRaiseIrql(DISPATCH_LEVEL)
    IoQueueWorkItem(item, function(dev, ctx) seen = { dev, ctx, KeGetCurrentIrql() } end,
                    DelayedWorkQueue, "ctx")
    assert.has_error(function() IoQueueWorkItem(item, print, DelayedWorkQueue) end)
    KeLowerIrql(PASSIVE_LEVEL)
    m:run()
    assert.are.same({ hw.device, "ctx", PASSIVE_LEVEL }, seen)
    IoFreeWorkItem(item)
    assert.has_error(function() IoFreeWorkItem(item) end)
  end)
end)

describe("pool and Rtl memory", function()
  local m
  before_each(function() m = support.machine { verifier = "record" } end)
  after_each(function() m:close() end)

  it("allocates tagged pool the Rtl routines read and write", function()
    local a = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, "Tag1")
    local b = ExAllocatePoolWithTag(NonPagedPoolNx, 64, "Tag1")
    assert.are.equal(string.rep("\0", 64), m:read(a, 64))  -- ExAllocatePool2 zeroes
    RtlFillMemory(a, 64, 0x5A)
    RtlCopyMemory(b, a, 32)
    RtlZeroMemory(b + 32, 32)
    assert.are.equal(32, RtlCompareMemory(a, b, 64))
    RtlMoveMemory(a + 1, a, 8)
    assert.are.equal(64, RtlCompareMemory(a, a, 64))
    assert.has_error(function() RtlZeroMemory(a, 65) end)
    ExFreePoolWithTag(a, "Tag1")
    ExFreePool(b)
    assert.are.same({}, m:reports())
    local z = ExAllocatePoolZero(PagedPool, 16, 0x12345678)
    ExFreePoolWithTag(z, "Nope")
    ExFreePool(z)
    ExFreePool(z)
    assert.are.same({ 0x0A, 0x13 }, support.p1s(m))
    assert.are.equal(0xC2, m:reports()[1].bugcheck)
  end)

  it("reports pool never freed as 0xC4/0x62 at close", function()
    ExAllocatePool2(POOL_FLAG_PAGED, 100, "Leak")
    local leaks = m:check_leaks()
    assert.are.equal(1, #leaks)
    assert.are.same({ 0xC4, 0x62, 1 }, { leaks[1].bugcheck, leaks[1].p1, leaks[1].p4 })
    assert.matches("'kaeL' of 100 bytes", leaks[1].message)
  end)
end)

describe("KMDF locks and deferred work", function()
  local m
  before_each(function() m = support.machine {} end)
  after_each(function() m:close() end)

  it("WDFSPINLOCK raises and restores; WDFWAITLOCK tries with a zero timeout", function()
    local device = kmdf_device(m)
    local status, lock = WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES)
    assert.are.equal(STATUS_SUCCESS, status)
    WdfSpinLockAcquire(lock)
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    assert.has_error(function() WdfSpinLockAcquire(lock) end)
    WdfSpinLockRelease(lock)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    local _, wl = WdfWaitLockCreate(nil)
    assert.are.equal(STATUS_SUCCESS, WdfWaitLockAcquire(wl, nil))
    assert.are.equal(STATUS_TIMEOUT, WdfWaitLockAcquire(wl, 0))
    WdfWaitLockRelease(wl)
    WdfObjectAcquireLock(device)
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    WdfObjectReleaseLock(device)
    assert.has_error(function() WdfObjectReleaseLock(device) end)
    assert.has_error(function() WdfObjectAcquireLock(lock) end)
  end)

  it("WdfObjectAcquireLock takes only object handles (a WDFDEVICE_INIT was read past its end)", function()
    local hw = m:device_model { name = "sdev2", registers = 0x100, vector = 41, irql = 7 }
    local errs = {}
    local _, driver = WdfDriverCreate(nil, "\\Registry\\sdev2", WDF_NO_OBJECT_ATTRIBUTES,
      WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
        for _, f in ipairs { WdfObjectAcquireLock, WdfObjectReleaseLock } do
          local ok, err = pcall(f, DeviceInit)
          errs[#errs + 1] = not ok and err or "accepted"
        end
        return WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
      end))
    m:wdf_add_device(driver, hw)
    assert.are.equal(2, #errs)
    for _, err in ipairs(errs) do assert.matches("WDF object handle expected, got WDFDEVICE_INIT", err) end
  end)

  it("WDFDPC, WDFTIMER and WDFWORKITEM call back at their IRQL", function()
    local device, queue = kmdf_device(m)
    local log = {}
    local function note(what)
      return function(obj) log[#log + 1] = { what, obj, KeGetCurrentIrql(), m.now } end
    end
    local status, dpc = WdfDpcCreate(WDF_DPC_CONFIG_INIT(note("dpc")), { ParentObject = device })
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(device, WdfDpcGetParentObject(dpc))
    assert.is_true(WdfDpcEnqueue(dpc))
    assert.is_false(WdfDpcEnqueue(dpc))
    m:run()
    local tconfig = WDF_TIMER_CONFIG_INIT_PERIODIC(note("timer"), 2)
    local _, timer = WdfTimerCreate(tconfig, { ParentObject = queue })
    assert.are.equal(queue, WdfTimerGetParentObject(timer))
    local t0 = m.now
    assert.is_false(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)))
    m:run_until(t0 + 4500000)
    assert.is_true(WdfTimerStop(timer, FALSE))
    local _, item = WdfWorkItemCreate(WDF_WORKITEM_CONFIG_INIT(note("work")), { ParentObject = device })
    WdfWorkItemEnqueue(item)
    WdfWorkItemFlush(item)
    assert.are.same({ "dpc", "timer", "timer", "work" },
                    { log[1][1], log[2][1], log[3][1], log[4][1] })
    assert.are.same({ dpc, DISPATCH_LEVEL }, { log[1][2], log[1][3] })
    assert.are.same({ timer, DISPATCH_LEVEL }, { log[2][2], log[2][3] })
    assert.is_true(log[2][4] >= t0 + 1000000 and log[2][4] < t0 + 1100000)  -- plus the DPC latency
    assert.are.equal(2000000, log[3][4] - log[2][4])
    assert.are.same({ item, PASSIVE_LEVEL }, { log[4][2], log[4][3] })
    assert.has_error(function() WdfDpcCreate(WDF_DPC_CONFIG_INIT(print), nil) end, "bad argument #2 to "
                     .. "'WdfDpcCreate' (DpcAttributes.ParentObject must be a WDFDEVICE or WDFQUEUE)")
  end)
end)

describe("WDFMEMORY and lookaside lists", function()
  local m
  before_each(function() m = support.machine { verifier = "record" } end)
  after_each(function() m:close() end)

  it("creates memory whose buffer the driver copies to and from", function()
    local status, mem, buf = WdfMemoryCreate(WDF_NO_OBJECT_ATTRIBUTES, NonPagedPoolNx, "Mem1", 64)
    assert.are.equal(STATUS_SUCCESS, status)
    local va, size = WdfMemoryGetBuffer(mem)
    assert.are.same({ buf, 64 }, { va, size })
    local src = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, "Src1")
    m:write(src, "0123456789abcdef")
    assert.are.equal(STATUS_SUCCESS, WdfMemoryCopyFromBuffer(mem, 48, src, 16))
    assert.are.equal(STATUS_INVALID_BUFFER_SIZE, WdfMemoryCopyFromBuffer(mem, 49, src, 16))
    assert.are.equal("0123456789abcdef", m:read(buf + 48, 16))
    local s2, pre = WdfMemoryCreatePreallocated(WDF_NO_OBJECT_ATTRIBUTES, src, 16)
    assert.are.equal(STATUS_SUCCESS, s2)
    assert.are.equal(STATUS_SUCCESS, WdfMemoryCopyToBuffer(mem, 0, src, 4))
    assert.are.equal(src, (WdfMemoryGetBuffer(pre)))
    WdfObjectDelete(pre)
    WdfObjectDelete(mem)
    ExFreePool(src)
    assert.are.same({}, m:reports())
  end)

  it("hands out memory from a lookaside list, deleted with it", function()
    local status, la = WdfLookasideListCreate(WDF_NO_OBJECT_ATTRIBUTES, 128, NonPagedPoolNx,
                                              WDF_NO_OBJECT_ATTRIBUTES, "Look")
    assert.are.equal(STATUS_SUCCESS, status)
    local s1, a = WdfMemoryCreateFromLookaside(la)
    local _, b = WdfMemoryCreateFromLookaside(la)
    assert.are.equal(STATUS_SUCCESS, s1)
    assert.are_not.equal(WdfMemoryGetBuffer(a), WdfMemoryGetBuffer(b))
    assert.are.equal(128, select(2, WdfMemoryGetBuffer(b)))
    WdfObjectDelete(la)
    assert.has_error(function() WdfMemoryGetBuffer(a) end)
  end)
end)

describe("MDLs owning pages and system mappings", function()
  local m
  before_each(function() m = support.machine { verifier = "record" } end)
  after_each(function() m:close() end)

  it("allocates pages, maps them, and frees them in the WDK's order", function()
    local mdl = MmAllocatePagesForMdl(0, 0xFFFFFFFF, 0, 3 * PAGE_SIZE)
    assert.are.equal(3 * PAGE_SIZE, mdl.ByteCount)
    assert.is_nil(mdl.MappedSystemVa)
    local va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, nil, FALSE, NormalPagePriority)
    assert.are.equal(va, mdl.MappedSystemVa)
    assert.are.equal(va, MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority))
    RtlFillMemory(va, 3 * PAGE_SIZE, 0x11)
    local pfn = MmGetMdlPfnArray(mdl)[2]
    assert.are.equal("\17\17", m:read_phys(pfn * PAGE_SIZE, 2))
    assert.has_error(function() IoFreeMdl(mdl) end)
    assert.has_error(function() MmUnmapLockedPages(va + 1, mdl) end)
    MmUnmapLockedPages(va, mdl)
    assert.is_nil(mdl.MappedSystemVa)
    MmFreePagesFromMdl(mdl)
    IoFreeMdl(mdl)
    assert.are.same({}, m:reports())
    assert.is_nil(MmAllocatePagesForMdl(0, 4095, 0, 2 * PAGE_SIZE))  -- no two pages below 4 KiB
  end)

  it("lets a driver set ByteCount and ByteOffset of its own MDL", function()
    local b = m:buffer(3 * PAGE_SIZE)
    local mdl = IoAllocateMdl(b.va, 3 * PAGE_SIZE)
    mdl.ByteCount = 100
    mdl.ByteOffset = 16
    assert.are.same({ 100, 16, b.va + 16 }, { mdl.ByteCount, mdl.ByteOffset, MmGetMdlVirtualAddress(mdl) })
    assert.has_error(function() mdl.ByteCount = 4 * PAGE_SIZE end)
    MmInitializeMdl(mdl, b.va, 64)
    MmBuildMdlForNonPagedPool(mdl)
    assert.are.equal(b.va, mdl.MappedSystemVa)
    assert.has_error(function() mdl.StartVa = 0 end)
    IoFreeMdl(mdl)
  end)
end)
