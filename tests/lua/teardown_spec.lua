-- Teardown order (issue 16, class 4): every routine the engine runs is a
-- callback of its machine (ldl_callback): closing the machine from inside
-- one is refused, and the instruction limits hold there too. Found by the
-- API fuzzer (tests/fuzz): m:close() inside a KeSynchronizeExecution
-- routine freed the machine the engine then lowered the IRQL of.
local dma = require "dma"
local support = require "support"
dma.export()

local SMALL = { callback_instructions = 100000, run_instructions = 1000000,
                events_without_progress = 1000 }

local function connect(isr, vector, irql)
  return IoConnectInterrupt(isr, nil, nil, vector, irql, irql, LevelSensitive, false, 1, false)
end

local still_usable = support.still_usable

-- A started WDFDEVICE; add(device) runs inside EvtDriverDeviceAdd.
local function wdf_device(m, add)
  local hw = m:device_model { name = "td", registers = 0x100, vector = 40, irql = 7,
                              read = function() return 0 end, write = function() end }
  local _, driver = WdfDriverCreate(nil, "\\Registry\\td", WDF_NO_OBJECT_ATTRIBUTES,
    WDF_DRIVER_CONFIG_INIT(function(_, init)
      local status, device = WdfDeviceCreate(init, WDF_NO_OBJECT_ATTRIBUTES)
      if add then add(device) end
      return status
    end))
  return m:wdf_add_device(driver, hw)
end

describe("closing a machine inside one of its routines", function()
  local m
  after_each(function()
    pcall(KeLowerIrql, PASSIVE_LEVEL)
    if m then m:close() end
    m = nil
  end)

  it("is refused inside a KeSynchronizeExecution routine", function()
    m = support.machine { limits = SMALL }
    m:device_model { vector = 30, irql = 7 }
    local _, intr = connect(function() return false end, 30, 7)
    local inside
    local ok, err = pcall(KeSynchronizeExecution, intr, function()
      inside = KeGetCurrentIrql()
      m:close()
    end, nil)
    assert.is_false(ok)
    assert.are.equal(7, inside)
    assert.matches("machine:close%(%) inside one of its own callbacks", err)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    still_usable(m)
    IoDisconnectInterrupt(intr)
  end)

  it("is refused inside WdfInterruptSynchronize's callback", function()
    m = support.machine { limits = SMALL }
    local intr
    wdf_device(m, function(device)
      local _, i = WdfInterruptCreate(device, WDF_INTERRUPT_CONFIG_INIT(function() return true end, nil), nil)
      intr = i
    end)
    local ok, err = pcall(WdfInterruptSynchronize, intr, function() m:close() end, nil)
    assert.is_false(ok)
    assert.matches("machine:close%(%) inside one of its own callbacks", err)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    still_usable(m)
  end)

  it("is refused inside EvtDriverDeviceAdd", function()
    m = support.machine { limits = SMALL }
    local ok, err = pcall(wdf_device, m, function() m:close() end)
    assert.is_false(ok)
    assert.matches("machine:close%(%) inside one of its own callbacks", err)
    still_usable(m)
  end)
end)

describe("the instruction limit", function()
  local m
  after_each(function()
    pcall(KeLowerIrql, PASSIVE_LEVEL)
    if m then m:close() end
    m = nil
  end)

  it("stops a runaway KeSynchronizeExecution routine", function()
    m = support.machine { limits = SMALL }
    m:device_model { vector = 30, irql = 7 }
    local _, intr = connect(function() return false end, 30, 7)
    local ok, err = pcall(KeSynchronizeExecution, intr, function() while true do end end, nil)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions", err)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    still_usable(m)
    IoDisconnectInterrupt(intr)
  end)

  it("stops a runaway WdfInterruptSynchronize callback", function()
    m = support.machine { limits = SMALL }
    local intr
    wdf_device(m, function(device)
      local _, i = WdfInterruptCreate(device, WDF_INTERRUPT_CONFIG_INIT(function() return true end, nil), nil)
      intr = i
    end)
    local ok, err = pcall(WdfInterruptSynchronize, intr, function() while true do end end, nil)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions", err)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    still_usable(m)
  end)

  it("stops a runaway EvtCleanupCallback, naming it", function()
    m = support.machine { limits = SMALL }
    local device = wdf_device(m, function(dev)
      local a = WDF_OBJECT_ATTRIBUTES_INIT()
      a.EvtCleanupCallback = function() while true do end end
      WdfIoQueueCreate(dev, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel), a)
    end)
    local ok, err = pcall(m.wdf_remove_device, m, device)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions %(in EvtCleanupCallback of "
                   .. "WDFQUEUE#%d+%)", err)
    still_usable(m)
  end)

  it("stops a runaway EvtDriverDeviceAdd", function()
    m = support.machine { limits = SMALL }
    local ok, err = pcall(wdf_device, m, function() while true do end end)
    assert.is_false(ok)
    assert.matches("limit: callback exceeded 100000 Lua instructions", err)
    still_usable(m)
  end)
end)

describe("a child of an object being deleted", function()
  it("cannot be created from an EvtCleanupCallback run by m:wdf_remove_device", function()
    -- KMDF: once its parent's deletion began, a create fails with
    -- STATUS_DELETE_PENDING (FxObject::AddChildObjectInternal)
    local m = support.machine { verifier = "record" }
    local got = {}
    local device = wdf_device(m, function(dev)
      local ea = WDF_OBJECT_ATTRIBUTES_INIT()
      local e
      ea.EvtCleanupCallback = function()  -- the enabler is cleaned up before its device
        got.txn = { WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES) }
      end
      local _
      _, e = WdfDmaEnablerCreate(dev, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 65536), ea)
    end)
    local qa = WDF_OBJECT_ATTRIBUTES_INIT()
    qa.EvtCleanupCallback = function()  -- a queue of the device being removed
      got.enabler = { WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 65536),
                                          WDF_NO_OBJECT_ATTRIBUTES) }
      got.queue = { WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel),
                                     WDF_NO_OBJECT_ATTRIBUTES) }
    end
    assert.are.equal(STATUS_SUCCESS,
                     (WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel), qa)))
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ STATUS_DELETE_PENDING }, got.txn)
    assert.are.same({ STATUS_DELETE_PENDING }, got.enabler)
    assert.are.same({ STATUS_DELETE_PENDING }, got.queue)
    assert.are.equal(0, #m:reports())
    m:close()
  end)
end)

describe("m:close() of a machine with KMDF drivers", function()
  -- A driver with cleanups on the driver, device, enabler, transaction and
  -- queue, and D0Exit / ReleaseHardware; log gets what ran.
  local function kmdf(m, log)
    local function attrs(name)
      local a = WDF_OBJECT_ATTRIBUTES_INIT()
      a.EvtCleanupCallback = function() log[#log + 1] = name end
      return a
    end
    local hw = m:device_model { name = "cl", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local _, driver = WdfDriverCreate(nil, "\\Registry\\cl", attrs("driver"),
      WDF_DRIVER_CONFIG_INIT(function(_, init)
        local pnp = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
        pnp.EvtDeviceD0Exit = function() log[#log + 1] = "D0Exit" return STATUS_SUCCESS end
        pnp.EvtDeviceReleaseHardware = function() log[#log + 1] = "ReleaseHardware" return STATUS_SUCCESS end
        WdfDeviceInitSetPnpPowerEventCallbacks(init, pnp)
        local status, device = WdfDeviceCreate(init, attrs("device"))
        local _, e = WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 65536),
                                         attrs("enabler"))
        WdfDmaTransactionCreate(e, attrs("txn"))
        WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchParallel),
                         attrs("queue"))
        return status
      end))
    m:wdf_add_device(driver, hw)
  end

  it("unloads the drivers as Windows does: power-down, ReleaseHardware, every EvtCleanupCallback", function()
    local m = support.machine { verifier = "record" }
    local log = {}
    kmdf(m, log)
    m:close()
    assert.are.same({ "D0Exit", "ReleaseHardware", "queue", "txn", "enabler", "device", "driver" }, log)
  end)

  it("raises an error of a cleanup after the machine is closed", function()
    local m = support.machine { verifier = "record" }
    local log = {}
    kmdf(m, log)
    local a = WDF_OBJECT_ATTRIBUTES_INIT()
    a.EvtCleanupCallback = function() error("cleanup failed") end
    WdfDriverCreate(nil, "\\Registry\\bad", a, WDF_DRIVER_CONFIG_INIT(function() return STATUS_SUCCESS end))
    local ok, err = pcall(m.close, m)
    assert.is_false(ok)
    assert.matches("cleanup failed", err)
    assert.matches("closed", tostring(m))
    assert.are.equal(7, #log)  -- the others ran all the same
  end)

  it("runs no callback when the machine is collected instead", function()
    local log = {}
    do
      local m = support.machine { verifier = "record" }
      kmdf(m, log)
    end
    dma.machine {}  -- no longer current
    collectgarbage()
    collectgarbage()
    assert.are.same({}, log)
  end)
end)

describe("an object in use by a framework callback", function()
  -- A started device with an enabler whose power callbacks run `on`.
  local function device_with(m, on)
    local e
    local device = wdf_device(m, function(dev)
      local cfg = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 65536)
      cfg.EvtDmaEnablerDisable = function(en)
        return on.disable and on.disable(en, dev) or STATUS_SUCCESS
      end
      cfg.EvtDmaEnablerSelfManagedIoStop = function(en)
        return on.stop and on.stop(en, dev) or STATUS_SUCCESS
      end
      local _
      _, e = WdfDmaEnablerCreate(dev, cfg, WDF_NO_OBJECT_ATTRIBUTES)
    end)
    return device, e
  end

  it("cannot be deleted from its own power callback (it was freed under the power-down)", function()
    local m = support.machine { verifier = "record" }
    local tried
    local device, e = device_with(m, { disable = function(en)
      tried = { pcall(WdfObjectDelete, en) }
      return STATUS_SUCCESS
    end })
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D3"))
    assert.is_false(tried[1])
    assert.matches("WdfObjectDelete: WDFDMAENABLER#%d+.* is in use", tried[2])
    assert.are.equal(65536, WdfDmaEnablerGetMaximumLength(e))  -- still there
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D0"))
    m:close()
  end)

  it("nor can its device be removed from it", function()
    local m = support.machine { verifier = "record" }
    local tried
    local device = device_with(m, { stop = function(_, dev)
      tried = { pcall(m.wdf_remove_device, m, dev) }
      return STATUS_SUCCESS
    end })
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D3"))
    assert.is_false(tried[1])
    assert.matches("m:wdf_remove_device: WDFDEVICE#%d+.* is in use", tried[2])
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    m:close()
  end)
end)

describe("the machine's teardown order", function()
  it("frees an IRP sent to a device made after it (found by a random run of the fuzz driver)", function()
    local m = support.machine { verifier = "record" }
    local b = m:buffer(4096)
    local irp = m:irp { major = IRP_MJ_READ, buffer = b, device_offset = 0 }
    local drv = dma.driver { name = "\\Driver\\td", MajorFunction = { [IRP_MJ_READ] = function(_, i)
      IoMarkIrpPending(i)
      return STATUS_PENDING
    end } }
    local _, dev = IoCreateDevice(drv, 0, nil, FILE_DEVICE_UNKNOWN, 0, false)
    assert.are.equal(STATUS_PENDING, IoCallDriver(dev, irp))
    m:close()  -- newest first: the device goes before the IRP, which must not touch it
    assert.matches("closed", tostring(m))
  end)
end)

describe("m:wdf_add_device", function()
  it("fails cleanly when EvtDriverDeviceAdd removes its own new device (found by a random run)", function()
    local m = support.machine { verifier = "record" }
    local ok, err = pcall(wdf_device, m, function(dev) m:wdf_remove_device(dev) end)
    assert.is_false(ok)
    assert.matches("m:wdf_add_device: the WDFDEVICE was removed inside EvtDriverDeviceAdd", err)
    still_usable(m)
    m:close()
  end)
end)
