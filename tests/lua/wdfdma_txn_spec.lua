-- KMDF DMA transactions (reference 2.2-2.5): the state machine and its 0x10D
-- reports, Initialize's checks, packet splitting with the next EvtProgramDma
-- inside DmaCompleted*, scatter/gather transfers deferred while map
-- registers are short, the completion rules, SetMaximumLength, single
-- transfers, STATUS_WDF_BUSY, reservations (seeds 000/003), immediate
-- execution, cancel, requests and reuse.
local dma = require "dma"
local support = require "support"
dma.export()

local KiB = 1024
local TO_DEVICE, FROM_DEVICE = WdfDmaDirectionWriteToDevice, WdfDmaDirectionReadFromDevice

-- A started WDFDEVICE over a small device model; `add(device)` runs in
-- EvtDriverDeviceAdd (its status returned). With on_read, a default queue
-- presents reads to it.
local function new_device(m, add, on_read)
  local hw = m:device_model { name = "dmadev", registers = 0x100, vector = 40, irql = 7,
                              read = function() return 0 end, write = function() end }
  local function EvtDriverDeviceAdd(_, DeviceInit)
    local status, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
    if not NT_SUCCESS(status) then return status end
    if on_read then
      local q = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchParallel)
      q.EvtIoRead, q.EvtIoWrite = on_read, on_read
      status = WdfIoQueueCreate(device, q, WDF_NO_OBJECT_ATTRIBUTES)
    end
    return add and add(device) or status
  end
  local _, driver = WdfDriverCreate(nil, "\\Registry\\dmadev", WDF_NO_OBJECT_ATTRIBUTES,
                                    WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  return (m:wdf_add_device(driver, hw))
end

-- An enabler on a new device: profile, MaximumLength, config fields.
local function new_enabler(m, profile, maxlen, extra)
  local config = WDF_DMA_ENABLER_CONFIG_INIT(profile, maxlen)
  for k, v in pairs(extra or {}) do config[k] = v end
  local status, e = WdfDmaEnablerCreate(new_device(m), config, WDF_NO_OBJECT_ATTRIBUTES)
  assert(status == STATUS_SUCCESS)
  return e
end

-- A transaction and a recorder of its EvtProgramDma calls: rec[i] = {
-- count, address, length, irql, inside } (inside: during a DmaCompleted*).
local function new_txn(e)
  local status, t = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)
  assert(status == STATUS_SUCCESS)
  local rec = { inside = false }
  function rec.program(Transaction, Device, Context, Direction, SgList)
    assert(Transaction == t and getmetatable(Device).__name == "WDFDEVICE")
    local total = 0
    for i = 0, SgList.NumberOfElements - 1 do total = total + SgList.Elements[i].Length end
    rec[#rec + 1] = { count = SgList.NumberOfElements, address = SgList.Elements[0].Address,
                      length = total, irql = KeGetCurrentIrql(), inside = rec.inside,
                      context = Context, direction = Direction }
    if rec.on_program then rec.on_program(SgList) end
    return TRUE
  end
  function rec.complete(fn, ...)
    rec.inside = true
    local done, st = fn(t, ...)
    rec.inside = false
    return done, st
  end
  return t, rec
end

-- Completes every transfer of the transaction with DmaCompleted; returns the calls' results.
local function run_to_end(_, rec)  -- rec.complete knows its transaction
  local out = {}
  repeat
    local done, st = rec.complete(WdfDmaTransactionDmaCompleted)
    out[#out + 1] = { done, st }
  until done or #out > 100
  return out
end

describe("KMDF DMA transactions, packet profile", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("keeps its registers and programs the next transfer inside DmaCompleted", function()
    m = support.machine { ram = "8G", alloc = "scattered", seed = 3 }
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB)
    local t, rec = new_txn(e)
    local b, mdl = support.built(m, 100000, { offset = 0x10 })
    rec.on_program = function(sg)  -- the device writes memory (a read)
      local el = sg.Elements[0]
      m:device_write(el.Address, dma.pattern(el.Length, #rec))
    end
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionInitialize(t, rec.program, FROM_DEVICE,
                                                                 mdl, b.va, b.length))
    assert.are.equal("Initialized", t:state())
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t, "ctx"))
    assert.are.equal("Transfer", t:state())
    assert.are.same({ 1, 61440, DISPATCH_LEVEL, false, "ctx", FROM_DEVICE },
                    { rec[1].count, rec[1].length, rec[1].irql, rec[1].inside, rec[1].context,
                      rec[1].direction })
    local a = WdfDmaEnablerWdmGetDmaAdapter(e, FROM_DEVICE)
    local held = a:stats().map_registers_held
    assert.are.same({ false, STATUS_MORE_PROCESSING_REQUIRED },
                    { rec.complete(WdfDmaTransactionDmaCompleted) })
    assert.are.equal(2, #rec)
    assert.is_true(rec[2].inside)  -- the next EvtProgramDma ran inside DmaCompleted
    assert.are.equal(100000 - 61440, rec[2].length)
    assert.are.equal(held, a:stats().map_registers_held)  -- the same registers
    assert.are.equal(1, a:stats().channel_grants)
    assert.are.same({ true, STATUS_SUCCESS }, { rec.complete(WdfDmaTransactionDmaCompleted) })
    assert.are.equal("TransferCompleted", t:state())
    assert.are.equal(100000, WdfDmaTransactionGetBytesTransferred(t))
    assert.are.equal(0, a:stats().map_registers_held)
    -- the bytes arrived through the bounce registers
    assert.is_true(b:compare(0, dma.pattern(61440, 1)))
    assert.is_true(b:compare(61440, dma.pattern(100000 - 61440, 2)))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionRelease(t))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionRelease(t))  -- double Release is benign
    -- reuse: Release + Initialize again
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE,
                                                                 mdl, b.va + 10, 5000))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t, nil))
    assert.are.equal(5000, rec[#rec].length)
    assert.are.same({ { true, STATUS_SUCCESS } }, run_to_end(t, rec))
  end)

  it("retries a transfer completed with length 0 and fails one longer than the transfer", function()
    m = support.machine { ram = "4G" }
    local e = new_enabler(m, WdfDmaProfilePacket, 16 * KiB)
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 40 * KiB)
    WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionExecute(t, nil)
    assert.are.equal(16 * KiB, rec[1].length)
    assert.are.same({ false, STATUS_MORE_PROCESSING_REQUIRED },
                    { rec.complete(WdfDmaTransactionDmaCompletedWithLength, 0) })
    assert.are.same({ 16 * KiB, true }, { rec[2].length, rec[2].inside })  -- the same transfer again
    assert.are.equal(0, WdfDmaTransactionGetBytesTransferred(t))
    rec.complete(WdfDmaTransactionDmaCompletedWithLength, 1000)  -- partial: the rest follows
    assert.are.equal(1000, WdfDmaTransactionGetBytesTransferred(t))
    assert.are.equal(16 * KiB, rec[3].length)
    assert.are.same({ true, STATUS_INVALID_PARAMETER },
                    { rec.complete(WdfDmaTransactionDmaCompletedWithLength, 16 * KiB + 1) })
    assert.are.equal("TransferFailed", t:state())
    assert.are.equal(0, WdfDmaEnablerWdmGetDmaAdapter(e, 0):stats().map_registers_held)
  end)

  it("ends at DmaCompletedFinal", function()
    m = support.machine { ram = "4G" }
    local t, rec = new_txn(new_enabler(m, WdfDmaProfilePacket, 16 * KiB))
    local b, mdl = support.buffer(m, 40 * KiB)
    WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionExecute(t, nil)
    assert.are.same({ true, STATUS_SUCCESS }, { rec.complete(WdfDmaTransactionDmaCompletedFinal, 100) })
    assert.are.equal(100, WdfDmaTransactionGetBytesTransferred(t))
    assert.are.equal(1, #rec)
    assert.are.equal("TransferCompleted", t:state())
  end)

  it("SetMaximumLength only lowers the transfer length", function()
    m = support.machine { ram = "4G" }
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB)
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 20000)
    WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionSetMaximumLength(t, 8192)
    WdfDmaTransactionSetMaximumLength(t, 1024 * KiB)  -- larger: ignored
    WdfDmaTransactionExecute(t, nil)
    run_to_end(t, rec)
    assert.are.same({ 8192, 8192, 20000 - 16384 }, { rec[1].length, rec[2].length, rec[3].length })
    WdfDmaTransactionRelease(t)
    WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionSetMaximumLength(t, 1024 * KiB)
    WdfDmaTransactionExecute(t, nil)
    assert.are.equal(20000, rec[4].length)  -- Release forgot the limit; a larger one does nothing
  end)

  it("v2 runs one packet transaction per device (STATUS_WDF_BUSY); v3 queues the second", function()
    m = support.machine { ram = "4G" }
    for _, v in ipairs { 2, 3 } do
      local e = new_enabler(m, WdfDmaProfilePacket, 16 * KiB, { WdmDmaVersionOverride = v })
      local t1, rec1 = new_txn(e)
      local t2, rec2 = new_txn(e)
      local b, mdl = support.buffer(m, 32 * KiB)
      local b2, mdl2 = support.buffer(m, 4096)  -- its own buffer: one mapped twice is 0x1D
      WdfDmaTransactionInitialize(t1, rec1.program, TO_DEVICE, mdl, b.va, 32 * KiB)
      WdfDmaTransactionInitialize(t2, rec2.program, TO_DEVICE, mdl2, b2.va, 4096)
      WdfDmaTransactionExecute(t1, nil)
      if v == 2 then
        assert.are.equal(STATUS_WDF_BUSY, WdfDmaTransactionExecute(t2, nil))
        assert.are.equal("TransferFailed", t2:state())
      else
        assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t2, nil))
        assert.are.equal(1, #rec2)
        assert.are.same({ { true, STATUS_SUCCESS } }, run_to_end(t2, rec2))
      end
      run_to_end(t1, rec1)
      assert.are.equal(32 * KiB, WdfDmaTransactionGetBytesTransferred(t1))
    end
  end)

  it("refuses MDL chains with v2 and walks them with v3", function()
    m = support.machine { ram = "4G" }
    local b1, m1 = support.buffer(m, 6000)
    local b2, m2 = support.buffer(m, 9000)
    m1.Next = m2
    local v2 = new_txn(new_enabler(m, WdfDmaProfilePacket, 64 * KiB))
    assert.are.equal(STATUS_INVALID_PARAMETER,
                     WdfDmaTransactionInitialize(v2, function() end, TO_DEVICE, m1, b1.va, 15000))
    assert.are.equal("Released", v2:state())
    local t, rec = new_txn(new_enabler(m, WdfDmaProfilePacket, 64 * KiB, { WdmDmaVersionOverride = 3 }))
    assert.are.equal(STATUS_INVALID_PARAMETER,  -- the VA must lie inside the first MDL
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, m1, b2.va, 100))
    assert.are.equal(STATUS_SUCCESS,
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, m1, b1.va + 1000, 14000))
    WdfDmaTransactionExecute(t, nil)
    run_to_end(t, rec)
    assert.are.same({ 5000, 9000 }, { rec[1].length, rec[2].length })
    assert.are.equal(14000, WdfDmaTransactionGetBytesTransferred(t))
  end)
end)

describe("KMDF DMA transactions, scatter/gather profile", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("defers the next EvtProgramDma while map registers are short", function()
    m = support.machine { ram = "4G", map_registers = 8 }
    local e = new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB)
    assert.are.equal(7 * 4096, WdfDmaEnablerGetFragmentLength(e, TO_DEVICE))
    local t1, rec1 = new_txn(e)
    local t2, rec2 = new_txn(e)
    local b1, mdl1 = support.buffer(m, 6 * 4096)
    local b2, mdl2 = support.buffer(m, 5 * 4096)
    WdfDmaTransactionInitialize(t1, rec1.program, TO_DEVICE, mdl1, b1.va, b1.length)
    WdfDmaTransactionInitialize(t2, rec2.program, TO_DEVICE, mdl2, b2.va, b2.length)
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t1, nil))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t2, nil))
    assert.are.equal(1, #rec1)
    assert.are.equal(0, #rec2)  -- 6 + 5 registers > 8: t2 waits
    assert.are.same({ true, STATUS_SUCCESS }, { rec1.complete(WdfDmaTransactionDmaCompleted) })
    assert.are.equal(1, #rec2)  -- PutScatterGatherList freed the registers
    assert.are.equal(5 * 4096, rec2[1].length)
    assert.are.same({ { true, STATUS_SUCCESS } }, run_to_end(t2, rec2))
  end)

  it("caps each transfer to the map registers and fails with TOO_FRAGMENTED at Initialize", function()
    m = support.machine { ram = "4G", alloc = "scattered", seed = 5 }
    local e = new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB)
    local t, rec = new_txn(e)
    local b, mdl = support.built(m, 64 * KiB, { offset = 0x800 })
    WdfDmaTransactionInitialize(t, rec.program, FROM_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionExecute(t, nil)
    run_to_end(t, rec)
    local total = 0
    for _, r in ipairs(rec) do
      assert.is_true(ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va + total, r.length) <= 16)
      total = total + r.length
    end
    assert.are.equal(64 * KiB, total)
    assert.is_true(rec[1].count > 2)  -- scattered pages: one element per page
    WdfDmaTransactionRelease(t)
    WdfDmaEnablerSetMaximumScatterGatherElements(e, 2)
    assert.are.equal(STATUS_WDF_TOO_FRAGMENTED,
                     WdfDmaTransactionInitialize(t, rec.program, FROM_DEVICE, mdl, b.va, b.length))
    assert.are.equal("Released", t:state())
  end)

  it("cancels a transfer still waiting for its list (v3)", function()
    m = support.machine { ram = "4G", map_registers = 8 }
    local e = new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB, { WdmDmaVersionOverride = 3 })
    local t1, rec1 = new_txn(e)
    local t2, rec2 = new_txn(e)
    local b, mdl = support.buffer(m, 6 * 4096)
    WdfDmaTransactionInitialize(t1, rec1.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionInitialize(t2, rec2.program, TO_DEVICE, mdl, b.va, b.length)
    WdfDmaTransactionExecute(t1, nil)
    WdfDmaTransactionExecute(t2, nil)
    assert.is_false(WdfDmaTransactionCancel(t1))  -- programmed already: too late
    assert.is_true(WdfDmaTransactionCancel(t2))
    assert.are.equal("TransferFailed", t2:state())
    run_to_end(t1, rec1)
    assert.are.equal(0, #rec2)  -- its list was put unseen
    assert.are.equal(0, WdfDmaEnablerWdmGetDmaAdapter(e, 1):stats().map_registers_held)
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionRelease(t2))
  end)
end)

describe("KMDF DMA transaction states", function()
  local m
  before_each(function() m = support.machine { ram = "4G", verifier = "record" } end)
  after_each(function()
    m:close()
    m = nil
  end)

  -- The calls made in a wrong state, each report 0x10D/0x8 naming it.
  it("reports every call made in the wrong state (0x10D, P1 0x8)", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB, { WdmDmaVersionOverride = 3 })
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 8192)
    local CREATED, INITIALIZED, TRANSFER, COMPLETED = 1, 3, 4, 5
    local cases = {
      { "WdfDmaTransactionExecute", CREATED, function() return WdfDmaTransactionExecute(t, nil) end },
      { "WdfDmaTransactionDmaCompleted", CREATED, function() return WdfDmaTransactionDmaCompleted(t) end },
      { "WdfDmaTransactionGetTransferInfo", CREATED,
        function() return WdfDmaTransactionGetTransferInfo(t) end },
      { "WdfDmaTransactionFreeResources", CREATED, function() WdfDmaTransactionFreeResources(t) end },
      { "WdfDmaTransactionSetMaximumLength", CREATED,
        function() WdfDmaTransactionSetMaximumLength(t, 4096) end },
      { "WdfDmaTransactionCancel", CREATED, function() return WdfDmaTransactionCancel(t) end },
      { "init", nil, function()
        WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 8192)
      end },
      { "WdfDmaTransactionInitialize", INITIALIZED, function()
        return WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 8192)
      end },
      { "WdfDmaTransactionDmaCompletedWithLength", INITIALIZED,
        function() return WdfDmaTransactionDmaCompletedWithLength(t, 1) end },
      { "execute", nil, function() WdfDmaTransactionExecute(t, nil) end },
      { "WdfDmaTransactionRelease", TRANSFER, function() return WdfDmaTransactionRelease(t) end },
      { "WdfDmaTransactionExecute", TRANSFER, function() return WdfDmaTransactionExecute(t, nil) end },
      { "WdfDmaTransactionSetImmediateExecution", TRANSFER,
        function() WdfDmaTransactionSetImmediateExecution(t, TRUE) end },
      { "WdfDmaTransactionFreeResources", TRANSFER, function() WdfDmaTransactionFreeResources(t) end },
      { "complete", nil, function() WdfDmaTransactionDmaCompleted(t) end },
      { "WdfDmaTransactionDmaCompletedFinal", COMPLETED,
        function() return WdfDmaTransactionDmaCompletedFinal(t, 0) end },
      { "WdfDmaTransactionExecute", COMPLETED, function() return WdfDmaTransactionExecute(t, nil) end },
    }
    local n = 0
    for _, c in ipairs(cases) do
      local first = c[3]()
      if c[2] then
        n = n + 1
        local reports = m:reports()
        assert.are.equal(n, #reports, c[1])
        local r = reports[n]
        assert.are.same({ 0x10D, 0x8, c[2] }, { r.bugcheck, r.p1, r.p3 }, c[1])
        assert.matches("^" .. c[1] .. ": WDFDMATRANSACTION#%d+ is in state", r.message)
        if c[1]:match "Completed" then assert.is_true(first) end
      end
    end
    assert.are.equal("TransferCompleted", t:state())
  end)

  it("raises the report when not recording", function()
    local m2 = support.machine { ram = "4G" }
    local t = new_txn(new_enabler(m2, WdfDmaProfilePacket, 64 * KiB))
    assert.has_error(function() WdfDmaTransactionExecute(t, nil) end,
                     "WDF_VIOLATION (0x10D, P1=0x08): WdfDmaTransactionExecute: WDFDMATRANSACTION#"
                     .. tostring(t):match "#(%d+)" .. " is in state Created; allowed in Initialized")
    m2:close()
  end)

  it("reports a delete in Transfer and frees everything by force", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB)
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 8192)
    WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 8192)
    WdfDmaTransactionExecute(t, nil)
    WdfObjectDelete(t)
    assert.are.same({ 0x8 }, support.p1s(m))
    assert.are.equal(0, WdfDmaEnablerWdmGetDmaAdapter(e, 1):stats().map_registers_held)
    assert.are.same({}, m:check_leaks())
  end)
end)

describe("single-transfer transactions (v3)", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("drop the single-transfer requirement when RequireSingleTransfer is FALSE", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 128 * KiB, { WdmDmaVersionOverride = 3 })
    local t, rec = new_txn(e)
    WdfDmaTransactionSetSingleTransferRequirement(t, true)
    WdfDmaTransactionSetSingleTransferRequirement(t, false)
    local b, mdl = support.buffer(m, 256 * KiB)
    assert.are.equal(STATUS_SUCCESS,  -- longer than MaximumLength: split, not refused
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 200 * KiB))
    WdfDmaTransactionRelease(t)
  end)

  it("fail at Initialize when one transfer cannot do, and at completion with bytes left", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 128 * KiB, { WdmDmaVersionOverride = 3 })
    local t, rec = new_txn(e)
    WdfDmaTransactionSetSingleTransferRequirement(t, true)
    local b, mdl = support.buffer(m, 256 * KiB)
    assert.are.equal(STATUS_WDF_TOO_MANY_TRANSFERS,  -- longer than MaximumLength
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 200 * KiB))
    WdfDmaTransactionSetSingleTransferRequirement(t, true)  -- Release cleared it
    assert.are.equal(STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS,  -- 25 registers, the adapter has 16
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 100 * KiB))
    WdfDmaTransactionSetSingleTransferRequirement(t, true)
    assert.are.equal(STATUS_SUCCESS,
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 60 * KiB))
    WdfDmaTransactionExecute(t, nil)
    assert.are.equal(60 * KiB, rec[1].length)  -- one transfer
    assert.are.same({ true, STATUS_WDF_TOO_MANY_TRANSFERS },
                    { rec.complete(WdfDmaTransactionDmaCompletedWithLength, 1000) })
    assert.are.equal("TransferFailed", t:state())
  end)

  it("apply to every transaction of an enabler created with REQUIRE_SINGLE_TRANSFER", function()
    local e = new_enabler(m, WdfDmaProfileScatterGather64, 64 * KiB,
                          { WdmDmaVersionOverride = 3,
                            Flags = WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER })
    WdfDmaEnablerSetMaximumScatterGatherElements(e, 1)
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 64 * KiB, { alloc = "scattered" })
    assert.are.equal(STATUS_WDF_TOO_FRAGMENTED,
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 8192))
    assert.are.equal(STATUS_SUCCESS,
                     WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 100))
  end)
end)

describe("reservations (seeds 000/003)", function()
  local m
  before_each(function() m = support.machine { ram = "4G", verifier = "record" } end)
  after_each(function()
    m:close()
    m = nil
  end)

  it("EvtReserveDma initializes; every Execute programs at once; the reservation survives", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB, { WdmDmaVersionOverride = 3 })
    local a = WdfDmaEnablerWdmGetDmaAdapter(e, TO_DEVICE)
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 16 * KiB)
    local reserved = {}
    local function EvtReserveDma(Transaction, Context)  -- step 4/5: initialize here
      reserved[#reserved + 1] = { Context, KeGetCurrentIrql(), Transaction:state() }
      assert(WdfDmaTransactionInitialize(Transaction, rec.program, TO_DEVICE,
                                         mdl, b.va, 16 * KiB) == STATUS_SUCCESS)
    end
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionAllocateResources(t, TO_DEVICE, 5,
                                                                        EvtReserveDma, "rctx"))
    assert.are.same({ { "rctx", DISPATCH_LEVEL, "Reserved" } }, reserved)
    assert.are.equal(5, a:stats().map_registers_held)
    for round = 1, 6 do  -- steps 5-8, many times
      if round > 1 then
        WdfDmaTransactionInitialize(t, rec.program, TO_DEVICE, mdl, b.va, 16 * KiB)
      end
      local before = #rec
      assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t, round))
      assert.are.equal(before + 1, #rec)  -- EvtProgramDma at once
      assert.are.equal(16 * KiB, rec[#rec].length)  -- 5 registers map 16 KiB from a page start
      run_to_end(t, rec)
      assert.are.equal(16 * KiB, WdfDmaTransactionGetBytesTransferred(t))
      assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionRelease(t))
      assert.are.equal(5, a:stats().map_registers_held)  -- kept across completion and Release
    end
    assert.are.equal(1, a:stats().channel_grants)
    -- a second reservation is a bug check
    WdfDmaTransactionAllocateResources(t, TO_DEVICE, 2, EvtReserveDma, nil)
    assert.are.same({ 0x8 }, support.p1s(m))
    WdfDmaTransactionFreeResources(t)
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.same({}, m:check_leaks())
  end)

  it("caps the transfers to the registers reserved", function()
    local e = new_enabler(m, WdfDmaProfilePacket, 64 * KiB, { WdmDmaVersionOverride = 3 })
    local t, rec = new_txn(e)
    local b, mdl = support.buffer(m, 20000, { offset = 0x100 })
    WdfDmaTransactionAllocateResources(t, FROM_DEVICE, 2, function(T)
      WdfDmaTransactionInitialize(T, rec.program, FROM_DEVICE, mdl, b.va, b.length)
    end, nil)
    WdfDmaTransactionExecute(t, nil)
    run_to_end(t, rec)
    assert.are.equal(8192 - 0x100, rec[1].length)  -- PAGE_SIZE*(R-1) + PAGE_SIZE - offset
    assert.are.equal(20000, WdfDmaTransactionGetBytesTransferred(t))
  end)

  it("is only for v3 packet enablers", function()
    local fn = function() end
    local t2 = new_txn(new_enabler(m, WdfDmaProfilePacket, 64 * KiB))
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, WdfDmaTransactionAllocateResources(t2, 1, 2, fn, nil))
    local sg = new_txn(new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB, { WdmDmaVersionOverride = 3 }))
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, WdfDmaTransactionAllocateResources(sg, 1, 2, fn, nil))
    assert.are.same({}, m:reports())
  end)

  it("GetTransferInfo gives the worst case with v2 and the HAL's counts with v3", function()
    local b, mdl = support.buffer(m, 3 * 4096, { offset = 0x10, alloc = "contiguous" })
    local t2 = new_txn(new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB))
    WdfDmaTransactionInitialize(t2, function() end, 1, mdl, b.va, b.length)
    assert.are.same({ 4, 4 }, { WdfDmaTransactionGetTransferInfo(t2) })
    local t3 = new_txn(new_enabler(m, WdfDmaProfileScatterGather, 64 * KiB, { WdmDmaVersionOverride = 3 }))
    WdfDmaTransactionInitialize(t3, function() end, 1, mdl, b.va, b.length)
    assert.are.same({ 4, 1 }, { WdfDmaTransactionGetTransferInfo(t3) })  -- one contiguous run
  end)

  it("immediate execution fails instead of waiting for registers", function()
    m:close()
    m = support.machine { ram = "4G", map_registers = 8 }
    local e = new_enabler(m, WdfDmaProfilePacket, 16 * KiB, { WdmDmaVersionOverride = 3 })
    local holder, hrec = new_txn(e)
    local b, mdl = support.buffer(m, 16 * KiB)
    WdfDmaTransactionAllocateResources(holder, 1, 5, function(T)
      WdfDmaTransactionInitialize(T, hrec.program, 1, mdl, b.va, 4096)
    end, nil)
    local t, rec = new_txn(e)
    WdfDmaTransactionInitialize(t, rec.program, 1, mdl, b.va, 16 * KiB)  -- needs 4 (+1 worst case)
    WdfDmaTransactionSetImmediateExecution(t, TRUE)
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, WdfDmaTransactionExecute(t, nil))
    assert.are.equal("TransferFailed", t:state())
    WdfDmaTransactionRelease(t)
    WdfDmaTransactionInitialize(t, rec.program, 1, mdl, b.va, 16 * KiB)  -- Release cleared it
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t, nil))
    assert.are.equal(0, #rec)  -- queued
    WdfDmaTransactionFreeResources(holder)
    assert.are.equal(1, #rec)
  end)
end)

describe("WdfDmaTransactionInitializeUsingRequest", function()
  it("takes the request's MDL and checks the direction against the major function", function()
    local m = support.machine { ram = "4G" }
    local got = {}
    local device = new_device(m, nil, function(_, Request) got[#got + 1] = Request end)
    local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather64, 64 * KiB)
    local _, e = WdfDmaEnablerCreate(device, config, nil)
    local t, rec = new_txn(e)
    local b = m:buffer(10000)
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), m:irp { major = IRP_MJ_READ, buffer = b })
    assert.are.equal(1, #got)
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST,
                     WdfDmaTransactionInitializeUsingRequest(t, got[1], rec.program, TO_DEVICE))
    assert.are.equal(STATUS_SUCCESS,
                     WdfDmaTransactionInitializeUsingRequest(t, got[1], rec.program, FROM_DEVICE))
    assert.are.equal(got[1], WdfDmaTransactionGetRequest(t))
    assert.are.equal(device, WdfDmaTransactionGetDevice(t))
    WdfDmaTransactionExecute(t, nil)
    assert.are.equal(10000, rec[1].length)
    run_to_end(t, rec)
    WdfDmaTransactionRelease(t)
    assert.is_nil(WdfDmaTransactionGetRequest(t))
    WdfRequestCompleteWithInformation(got[1], STATUS_SUCCESS, 10000)
    m:close()
  end)
end)
