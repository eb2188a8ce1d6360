-- Every state machine total (issue 16, class 3): a call the current state
-- does not allow is a verifier report and changes nothing. The tables are
-- written down in core (core/wdf/dl_wdftxnstate.c: tests/c/test_wdftxnstate.c
-- tests every cell); here the issue's reproducer through the Lua API.
local dma = require "dma"
local support = require "support"
dma.export()

local KiB = 1024

-- A started WDFDEVICE over its own device model with a packet enabler.
local function packet_enabler(m, name)
  local hw = m:device_model { name = name, registers = 0x100, vector = 40, irql = 7,
                              read = function() return 0 end, write = function() end }
  local e
  local _, driver = WdfDriverCreate(nil, "\\Registry\\" .. name, WDF_NO_OBJECT_ATTRIBUTES,
    WDF_DRIVER_CONFIG_INIT(function(_, init)
      local status, device = WdfDeviceCreate(init, WDF_NO_OBJECT_ATTRIBUTES)
      local st
      st, e = WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 64 * KiB),
                                  WDF_NO_OBJECT_ATTRIBUTES)
      assert(st == STATUS_SUCCESS)
      return status
    end))
  m:wdf_add_device(driver, hw)
  return e
end

-- A transaction over a new buffer of len bytes; programs[...] logs its EvtProgramDma calls.
local function transaction(m, e, len, programs)
  local _, t = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)
  local b, mdl = support.built(m, len)
  assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionInitialize(t, function()
    programs[#programs + 1] = t
    return TRUE
  end, WdfDmaDirectionWriteToDevice, mdl, b.va, len))
  return t
end

describe("the KMDF transaction state table", function()
  it("refuses DmaCompletedFinal and Release on a packet transaction waiting for map registers", function()
    local m = support.machine { map_registers = 4, verifier = "record" }
    local e1, e2 = packet_enabler(m, "one"), packet_enabler(m, "two")
    local programs = {}
    local t0 = transaction(m, e1, 16 * KiB, programs)
    local t = transaction(m, e2, 8 * KiB, programs)
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t0, nil))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(t, nil))  -- the pool is t0's: t waits
    assert.are.same({ t0 }, programs)
    local done, st = WdfDmaTransactionDmaCompletedFinal(t, 0)
    assert.is_true(done)
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, st)
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, WdfDmaTransactionRelease(t))
    local reports = m:reports()
    assert.are.equal(2, #reports)
    for _, r in ipairs(reports) do
      assert.are.same({ 0x10D, 0x8 }, { r.bugcheck, r.p1 })
      assert.matches("is in state Transfer %(waiting for the adapter, not programmed%)", r.message)
    end
    assert.are.equal("Transfer", t:state())
    -- the registers free: the grant programs t, which then completes normally
    repeat local finished = WdfDmaTransactionDmaCompleted(t0) until finished
    assert.are.equal(t, programs[#programs])
    assert.are.same({ true, STATUS_SUCCESS }, { WdfDmaTransactionDmaCompleted(t) })
    assert.are.equal(8 * KiB, WdfDmaTransactionGetBytesTransferred(t))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionRelease(t))
    assert.are.equal(2, #m:reports())
    m:close()
  end)
end)

describe("the adapter channel state table", function()
  it("cancels a request still waiting for map registers when its adapter is put", function()
    local m = support.machine { verifier = "record", map_registers = 4 }
    local desc = { Version = DEVICE_DESCRIPTION_VERSION2, Master = true, Dma32BitAddresses = true,
                   InterfaceType = PCIBus, MaximumLength = 16 * KiB }
    local d1, d2 = m:device { name = "a" }, m:device { name = "b" }
    local a1 = IoGetDmaAdapter(d1, desc)
    local a2 = IoGetDmaAdapter(d2, desc)
    KeRaiseIrql(DISPATCH_LEVEL)
    local base
    a1:AllocateAdapterChannel(d1, 4, function(_, _, b)
      base = b
      return DeallocateObjectKeepRegisters
    end)
    local ran = false
    assert.are.equal(STATUS_SUCCESS, a2:AllocateAdapterChannel(d2, 4, function()
      ran = true
      return DeallocateObjectKeepRegisters
    end))  -- waits: a1 holds the pool
    a2:PutDmaAdapter()
    a1:FreeMapRegisters(base, 4)
    assert.is_false(ran)  -- the put cancelled it
    local reports = m:reports()
    assert.are.equal(1, #reports)
    assert.are.same({ 0xE6, 0x08 }, { reports[1].bugcheck, reports[1].p1 })
    -- the device may ask again, on a new adapter
    KeLowerIrql(PASSIVE_LEVEL)
    local a3 = IoGetDmaAdapter(d2, desc)
    KeRaiseIrql(DISPATCH_LEVEL)
    assert.are.equal(STATUS_SUCCESS, a3:AllocateAdapterChannel(d2, 1, function() return DeallocateObject end))
    pcall(a2.AllocateAdapterChannel, a2, d2, 1, function() return DeallocateObject end)
    assert.are.equal(2, #m:reports())  -- the put adapter refuses (0x18)
    assert.are.equal(0x18, m:reports()[2].p1)
    KeLowerIrql(PASSIVE_LEVEL)
    m:close()
  end)
end)
