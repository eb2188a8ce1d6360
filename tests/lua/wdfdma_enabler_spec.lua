-- KMDF DMA enablers (reference 2.1): the DEVICE_DESCRIPTION per profile, the
-- derived values (MaximumFragmentLength, MaxSGElements), Duplex adapters,
-- config checks, common buffers and their alignment, the enabler power
-- callbacks in the order and with the skip rules of 2.6, deletion with
-- WdfObjectDelete and the lab's create-failure injection.
local dma = require "dma"
local support = require "support"
dma.export()

local KiB = 1024

-- A started WDFDEVICE over a small device model; `add(device)` runs in
-- EvtDriverDeviceAdd after WdfDeviceCreate and returns its status.
local function new_device(m, add)
  local hw = m:device_model { name = "dmadev", registers = 0x100, vector = 40, irql = 7,
                              read = function() return 0 end, write = function() end }
  local function EvtDriverDeviceAdd(_, DeviceInit)
    local status, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
    if not NT_SUCCESS(status) then return status end
    return add and add(device) or STATUS_SUCCESS
  end
  local _, driver = WdfDriverCreate(nil, "\\Registry\\dmadev", WDF_NO_OBJECT_ATTRIBUTES,
                                    WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  return m:wdf_add_device(driver, hw)
end

-- An enabler of `profile` and `maxlen` (config fields in `extra`): status, enabler.
local function enabler(device, profile, maxlen, extra)
  local config = WDF_DMA_ENABLER_CONFIG_INIT(profile, maxlen)
  for k, v in pairs(extra or {}) do config[k] = v end
  return WdfDmaEnablerCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
end

describe("WdfDmaEnablerCreate", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("derives MaximumFragmentLength = min(MaximumLength, (NMR-1)*PAGE_SIZE)", function()
    m = support.machine { ram = "4G" }
    local device = new_device(m)
    local cases = {  -- profile, MaximumLength, expected fragment (16 registers per adapter)
      { WdfDmaProfilePacket, 64 * KiB, 15 * 4096 },     -- NMR 17 capped to 16
      { WdfDmaProfilePacket, 16 * KiB, 16 * KiB },      -- NMR 5: (5-1) pages = 16 KiB
      { WdfDmaProfilePacket, 10000, 10000 },            -- NMR 4: 12288 > 10000
      { WdfDmaProfileScatterGather, 1024 * KiB, 15 * 4096 },
      { WdfDmaProfileScatterGather64, 1024 * KiB, 1024 * KiB },  -- no map registers: NMR 257
    }
    for _, c in ipairs(cases) do
      local status, e = enabler(device, c[1], c[2])
      assert.are.equal(STATUS_SUCCESS, status)
      assert.are.equal(c[3], WdfDmaEnablerGetFragmentLength(e, WdfDmaDirectionReadFromDevice))
      assert.are.equal(c[2], WdfDmaEnablerGetMaximumLength(e))
      assert.are.equal(0xFFFFFFFF, WdfDmaEnablerGetMaximumScatterGatherElements(e))
    end
  end)

  it("follows the adapter's register count (adapter_map_registers = 4)", function()
    m = support.machine { ram = "4G", adapter_map_registers = 4 }
    local _, e = enabler(new_device(m), WdfDmaProfilePacket, 64 * KiB)
    assert.are.equal(3 * 4096, WdfDmaEnablerGetFragmentLength(e, WdfDmaDirectionWriteToDevice))
    assert.are.equal(4, WdfDmaEnablerWdmGetDmaAdapter(e, WdfDmaDirectionReadFromDevice).NumberOfMapRegisters)
  end)

  it("builds the DEVICE_DESCRIPTION of the profile, one adapter per direction for Duplex", function()
    m = support.machine { ram = "8G" }
    local device = new_device(m)
    local _, packet = enabler(device, WdfDmaProfilePacket, 64 * KiB)
    local a = WdfDmaEnablerWdmGetDmaAdapter(packet, WdfDmaDirectionReadFromDevice)
    assert.matches("^DMA_ADAPTER", tostring(a))
    assert.are.equal(2, a.Version)
    assert.are.equal(32, a.address_bits)
    assert.matches("packet", tostring(a))
    assert.are.equal(a, WdfDmaEnablerWdmGetDmaAdapter(packet, WdfDmaDirectionWriteToDevice))
    local _, sg64 = enabler(device, WdfDmaProfileScatterGather64, 64 * KiB)
    local s = WdfDmaEnablerWdmGetDmaAdapter(sg64, WdfDmaDirectionReadFromDevice)
    assert.matches("scatter/gather", tostring(s))
    assert.are.equal(-1, s.ceiling)  -- 64-bit
    local _, duplex = enabler(device, WdfDmaProfileScatterGatherDuplex, 64 * KiB)
    assert.are_not.equal(WdfDmaEnablerWdmGetDmaAdapter(duplex, WdfDmaDirectionReadFromDevice),
                         WdfDmaEnablerWdmGetDmaAdapter(duplex, WdfDmaDirectionWriteToDevice))
    local _, v3 = enabler(device, WdfDmaProfilePacket, 64 * KiB, { WdmDmaVersionOverride = 3 })
    assert.are.equal(3, WdfDmaEnablerWdmGetDmaAdapter(v3, WdfDmaDirectionReadFromDevice).Version)
    local _, aw = enabler(device, WdfDmaProfilePacket64, 64 * KiB, { AddressWidthOverride = 40 })
    local wa = WdfDmaEnablerWdmGetDmaAdapter(aw, WdfDmaDirectionReadFromDevice)
    assert.are.equal(3, wa.Version)  -- the override forces v3
    assert.are.equal(40, wa.address_bits)
  end)

  it("refuses bad configurations", function()
    m = support.machine { ram = "4G" }
    local device = new_device(m)
    assert.are.equal(STATUS_INVALID_PARAMETER, (enabler(device, WdfDmaProfilePacket, 0)))
    assert.are.equal(STATUS_INVALID_PARAMETER,
                     (enabler(device, WdfDmaProfilePacket, 4096, { AddressWidthOverride = 40 })))
    assert.are.equal(STATUS_INVALID_PARAMETER,
                     (enabler(device, WdfDmaProfilePacket, 4096, { WdmDmaVersionOverride = 4 })))
    assert.are.equal(STATUS_INVALID_PARAMETER, (enabler(device, WdfDmaProfilePacket, 4096,
                     { Flags = WDF_DMA_ENABLER_CONFIG_REQUIRE_SINGLE_TRANSFER })))  -- needs v3
    assert.are.equal(STATUS_INVALID_PARAMETER, (enabler(device, WdfDmaProfileInvalid, 4096)))
    assert.are.equal(STATUS_INVALID_PARAMETER,  -- AddressWidthOverride: not with the System profiles
                     (enabler(device, WdfDmaProfileSystem, 4096, { AddressWidthOverride = 32 })))
    assert.has_error(function() enabler(device, WdfDmaProfilePacket, 4096, { MaxLength = 1 }) end)
  end)

  it("SetMaximumScatterGatherElements is PASSIVE_LEVEL only", function()
    m = support.machine { ram = "4G", verifier = "record" }
    local _, e = enabler(new_device(m), WdfDmaProfileScatterGather, 64 * KiB)
    WdfDmaEnablerSetMaximumScatterGatherElements(e, 3)
    assert.are.equal(3, WdfDmaEnablerGetMaximumScatterGatherElements(e))
    local old = KeRaiseIrql(DISPATCH_LEVEL)
    WdfDmaEnablerSetMaximumScatterGatherElements(e, 5)
    KeLowerIrql(old)
    assert.are.same({ 0x13 }, support.p1s(m))
  end)

  it("deletes its transactions and common buffers with it", function()
    m = support.machine { ram = "4G" }
    local _, e = enabler(new_device(m), WdfDmaProfilePacket, 64 * KiB)
    local _, t = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)
    local _, cb = WdfCommonBufferCreate(e, 4096, WDF_NO_OBJECT_ATTRIBUTES)
    local a = WdfDmaEnablerWdmGetDmaAdapter(e, WdfDmaDirectionReadFromDevice)
    WdfObjectDelete(e)
    assert.matches("deleted", tostring(t))
    assert.matches("deleted", tostring(cb))
    assert.has_error(function() WdfDmaTransactionRelease(t) end)
    assert.matches("released", tostring(a))  -- PutDmaAdapter
    assert.are.same({}, m:check_leaks())
  end)
end)

describe("WdfCommonBufferCreate", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("gives page-aligned buffers the device can reach, and honours a larger alignment", function()
    local _, e = enabler(new_device(m), WdfDmaProfileScatterGather, 64 * KiB)
    local status, cb = WdfCommonBufferCreate(e, 6000, WDF_NO_OBJECT_ATTRIBUTES)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(6000, WdfCommonBufferGetLength(cb))
    assert.are.equal(0, WdfCommonBufferGetAlignedLogicalAddress(cb) % 4096)
    local va = WdfCommonBufferGetAlignedVirtualAddress(cb)
    m:write(va, "hello")
    assert.are.equal("hello", m:device_read(WdfCommonBufferGetAlignedLogicalAddress(cb), 5))
    for _ = 1, 3 do  -- 16 KiB alignment: over-allocated and shifted
      local st, al = WdfCommonBufferCreateWithConfig(e, 100, WDF_COMMON_BUFFER_CONFIG_INIT(0x3FFF), nil)
      assert.are.equal(STATUS_SUCCESS, st)
      local logical = WdfCommonBufferGetAlignedLogicalAddress(al)
      assert.are.equal(0, logical % 0x4000)
      m:write(WdfCommonBufferGetAlignedVirtualAddress(al), "x")
      assert.are.equal("x", m:device_read(logical, 1))
      local _ = WdfCommonBufferCreate(e, 4096, nil)  -- moves the next one off 16 KiB
    end
    assert.are.equal(STATUS_INVALID_PARAMETER, (WdfCommonBufferCreate(e, 0, nil)))
    WdfObjectDelete(cb)
    assert.has_error(function() WdfCommonBufferGetLength(cb) end)
  end)
end)

describe("the enabler power callbacks", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  -- A device whose enabler has all six callbacks; fail[name] is returned by that one.
  local function powered(fail)
    local calls = {}
    local device, status = new_device(m, function(device)
      local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 64 * KiB)
      local all = { "Fill", "Flush", "Enable", "Disable", "SelfManagedIoStart", "SelfManagedIoStop" }
      for _, name in ipairs(all) do
        config["EvtDmaEnabler" .. name] = function(Enabler)
          calls[#calls + 1] = { name, getmetatable(Enabler).__name, KeGetCurrentIrql() }
          return fail and fail[name] or STATUS_SUCCESS
        end
      end
      local st = WdfDmaEnablerCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
      return st
    end)
    return device, status, calls
  end

  local function names(calls)
    local out = {}
    for i, c in ipairs(calls) do out[i] = c[1] end
    return out
  end

  it("runs Fill, Enable, SelfManagedIoStart after D0EntryPostInterruptsEnabled, and the reverse", function()
    local device, status, calls = powered()
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.same({ "Fill", "Enable", "SelfManagedIoStart" }, names(calls))
    assert.are.same({ "Fill", "WDFDMAENABLER", PASSIVE_LEVEL }, calls[1])
    local log = device:power_log()
    assert.are.same({ "EvtDmaEnablerFill", "EvtDmaEnablerEnable", "EvtDmaEnablerSelfManagedIoStart" },
                    { table.unpack(log, #log - 2) })
    for i = #calls, 1, -1 do calls[i] = nil end
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D3"))
    assert.are.same({ "SelfManagedIoStop", "Disable", "Flush" }, names(calls))
  end)

  it("stops the power-up at a failing Fill, then skips Disable and Flush", function()
    local _, status, calls = powered { Fill = STATUS_INSUFFICIENT_RESOURCES }
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, status)
    assert.are.same({ "Fill", "SelfManagedIoStop" }, names(calls))
  end)

  it("skips only Flush when Enable failed", function()
    local _, status, calls = powered { Enable = STATUS_DEVICE_DATA_ERROR }
    assert.are.equal(STATUS_DEVICE_DATA_ERROR, status)
    assert.are.same({ "Fill", "Enable", "SelfManagedIoStop", "Disable" }, names(calls))
  end)

  it("does not stop the power-down at an error", function()
    local device, _, calls = powered { SelfManagedIoStop = STATUS_UNSUCCESSFUL,
                                       Disable = STATUS_UNSUCCESSFUL }
    for i = #calls, 1, -1 do calls[i] = nil end
    m:wdf_set_power(device, "D3")
    assert.are.same({ "SelfManagedIoStop", "Disable", "Flush" }, names(calls))
  end)
end)

describe("m:wdf_fail_allocations", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("fails the next n creations with STATUS_INSUFFICIENT_RESOURCES", function()
    local device = new_device(m)
    local _, e = enabler(device, WdfDmaProfilePacket, 64 * KiB)
    local _, kept = WdfDmaTransactionCreate(e, nil)  -- made before memory ran low
    m:wdf_fail_allocations(3)
    local st, t = WdfDmaTransactionCreate(e, nil)
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, st)
    assert.is_nil(t)
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, (WdfCommonBufferCreate(e, 4096, nil)))
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, (enabler(device, WdfDmaProfilePacket, 4096)))
    -- the transaction made earlier still works
    local b, mdl = support.buffer(m, 8192)
    local programmed = 0
    local function program() programmed = programmed + 1 end
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionInitialize(kept, program, WdfDmaDirectionWriteToDevice,
                                                                 mdl, b.va, 8192))
    assert.are.equal(STATUS_SUCCESS, WdfDmaTransactionExecute(kept, nil))
    assert.are.equal(1, programmed)
    assert.are.same({ true, STATUS_SUCCESS }, { WdfDmaTransactionDmaCompleted(kept) })
    assert.are.equal(STATUS_SUCCESS, (WdfDmaTransactionCreate(e, nil)))  -- the 4th succeeds
  end)
end)
