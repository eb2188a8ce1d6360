-- m:unload(DriverObject): the I/O manager unloads a driver (DriverUnload at
-- PASSIVE_LEVEL; a legacy driver deletes its devices there), then Driver
-- Verifier's unload checks: 0xCE for a timer still set or a DPC still
-- queued, 0xC4/0x62 for pool, 0xE6 for what an adapter still holds. The
-- KMDF path: WdfDriverCreate's DriverUnload calls EvtDriverUnload, then the
-- driver's objects go with their cleanup callbacks.
local dma = require "dma"
local support = require "support"

local machine = support.machine

-- A legacy driver with one device and a symbolic link to it; its
-- DriverUnload runs unload(drv) (default: deletes the link and the device).
local function legacy(unload)
  local drv = dma.driver { name = "\\Driver\\legacy" }
  local status, dev = dma.IoCreateDevice(drv, 0, "\\Device\\Legacy0", dma.FILE_DEVICE_UNKNOWN, 0, false)
  assert(status == dma.STATUS_SUCCESS)
  dma.IoCreateSymbolicLink("\\DosDevices\\Legacy0", "\\Device\\Legacy0")
  drv.DriverUnload = unload or function()
    dma.IoDeleteSymbolicLink("\\DosDevices\\Legacy0")
    dma.IoDeleteDevice(dev)
  end
  return drv, dev
end

describe("m:unload", function()
  local m
  after_each(function() m = support.close(m) end)

  it("calls DriverUnload at PASSIVE_LEVEL; a legacy driver deletes its devices there", function()
    m = machine {}
    local irql
    local drv, dev
    drv, dev = legacy(function(d)
      irql = dma.KeGetCurrentIrql()
      assert.are.equal(drv, d)
      assert.are.equal(dev, d.DeviceObject)
      assert.is_nil(d.DeviceObject.NextDevice)
      dma.IoDeleteSymbolicLink("\\DosDevices\\Legacy0")
      dma.IoDeleteDevice(d.DeviceObject)
      assert.is_nil(d.DeviceObject)
    end)
    assert.are.equal(0, m:unload(drv))
    assert.are.equal(dma.PASSIVE_LEVEL, irql)
    assert.is_true(dev.deleted)
    assert.has_error(function() m:unload(drv) end,
      "bad argument #1 to 'unload' (\\Driver\\legacy was unloaded already)")
    assert.are.same({ dma.STATUS_INSUFFICIENT_RESOURCES }, { dma.IoCreateDevice(drv, 0, nil) })
  end)

  it("refuses a driver without DriverUnload, and one that leaves a device behind", function()
    m = machine {}
    local plain = dma.driver { name = "\\Driver\\plain" }
    assert.has_error(function() m:unload(plain) end,
      "bad argument #1 to 'unload' (\\Driver\\plain has no DriverUnload routine: it cannot be unloaded)")
    local drv, dev = legacy(function() end)
    assert.has_error(function() m:unload(drv) end, "m:unload: DriverUnload of \\Driver\\legacy returned " ..
      "with DEVICE_OBJECT#" .. dev.id .. " still present (IoDeleteDevice each device in DriverUnload, " ..
      "or remove it first): the driver stays in memory and its unload checks did not run")
  end)

  it("reports a timer still set and a DPC still queued (0xCE), pool not freed (0xC4, P1 0x62)",
    function()
      m = machine { verifier = "record" }
      local drv = legacy()
      local timer, stopped = dma.KeInitializeTimer(), dma.KeInitializeTimer()
      dma.KeSetTimer(timer, -1000000)
      dma.KeSetTimer(stopped, -1000000)
      dma.KeCancelTimer(stopped)
      local va = dma.ExAllocatePool2(dma.POOL_FLAG_NON_PAGED, 64, "Leak")
      assert.is_true(va ~= 0)
      assert.are.equal(2, m:unload(drv))
      local reports = m:reports()
      assert.are.same({ 0xCE, 0xC4 }, { reports[1].bugcheck, reports[2].bugcheck })
      assert.matches("DriverUnload: KTIMER#%d+ is still set when the driver unloads " ..
        "%(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: KeCancelTimer first%)", reports[1].message)
      assert.are.equal(0x62, reports[2].p1)
      assert.is_true(reports[1].leak and reports[2].leak)
      dma.KeCancelTimer(timer)
      dma.ExFreePool(va)
    end)

  it("raises the first unload report outside record mode", function()
    m = machine {}
    local drv = legacy()
    local timer = dma.KeInitializeTimer()
    dma.KeSetTimer(timer, -1000000)
    assert.has_error(function() m:unload(drv) end, ("DriverUnload: KTIMER#%d is still set when the " ..
      "driver unloads (DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: KeCancelTimer first)")
      :format(tonumber(tostring(timer):match("#(%d+)"))))
    dma.KeCancelTimer(timer)
  end)

  it("reports what an adapter still holds (0xE6, P1 0x07 for a common buffer)", function()
    m = machine { verifier = "record" }
    local drv = dma.driver { name = "\\Driver\\dma" }
    local _, dev = dma.IoCreateDevice(drv, 0, nil)
    local a = dma.IoGetDmaAdapter(dev, { Version = 2, Master = true, ScatterGather = true,
      Dma32BitAddresses = true, InterfaceType = dma.PCIBus, MaximumLength = 65536 })
    a:AllocateCommonBuffer(4096, false)
    drv.DriverUnload = function() dma.IoDeleteDevice(dev) end
    assert.are.equal(1, m:unload(drv))
    assert.are.same({ 0xE6, 0x07 }, { m:reports()[1].bugcheck, m:reports()[1].p1 })
  end)

  it("runs a KMDF driver's EvtDriverUnload, then its objects' cleanup callbacks", function()
    m = machine {}
    local log = {}
    local attributes = dma.WDF_OBJECT_ATTRIBUTES_INIT()
    attributes.EvtCleanupCallback = function(object) log[#log + 1] = { "cleanup", object } end
    local config = dma.WDF_DRIVER_CONFIG_INIT(function() return dma.STATUS_SUCCESS end)
    config.EvtDriverUnload = function(driver) log[#log + 1] = { "unload", driver } end
    local status, driver = dma.WdfDriverCreate(nil, "\\Registry\\k", attributes, config)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    local DriverObject = dma.WdfDriverWdmGetDriverObject(driver)
    assert.are.equal(0, m:unload(DriverObject))
    assert.are.same({ { "unload", driver }, { "cleanup", driver } }, log)
    assert.has_error(function() dma.WdfDriverWdmGetDriverObject(driver) end)  -- gone
  end)

  it("removes a KMDF driver's devices first, as the PnP manager does, then EvtDriverUnload", function()
    m = machine {}
    local log = {}
    local hw = m:device_model { name = "kdev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local config = dma.WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
      local pnp = dma.WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
      pnp.EvtDeviceReleaseHardware = function()
        log[#log + 1] = "EvtDeviceReleaseHardware"
        return dma.STATUS_SUCCESS
      end
      dma.WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, pnp)
      local attributes = dma.WDF_OBJECT_ATTRIBUTES_INIT()
      attributes.EvtCleanupCallback = function() log[#log + 1] = "device cleanup" end
      return (dma.WdfDeviceCreate(DeviceInit, attributes))
    end)
    config.EvtDriverUnload = function() log[#log + 1] = "EvtDriverUnload" end
    local _, driver = dma.WdfDriverCreate(nil, "\\Registry\\kdev", dma.WDF_NO_OBJECT_ATTRIBUTES, config)
    m:wdf_add_device(driver, hw)
    assert.are.equal(0, m:unload(dma.WdfDriverWdmGetDriverObject(driver)))
    assert.are.same({ "EvtDeviceReleaseHardware", "device cleanup", "EvtDriverUnload" }, log)
  end)
end)
