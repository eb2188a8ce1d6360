-- KMDF object parenting: every object has a parent (the device for its
-- queues, interrupts and DMA enablers; the enabler for its common buffers
-- and transactions; WDF_OBJECT_ATTRIBUTES.ParentObject overrides), and
-- deleting an object deletes its children first, the last created first,
-- each with its EvtCleanupCallback. m:wdf_remove_device deletes the device.
local dma = require "dma"
local support = require "support"
dma.export()

local KiB = 1024

-- Attributes whose EvtCleanupCallback logs `name` in `log`.
local function logged(log, name, parent)
  local attributes = WDF_OBJECT_ATTRIBUTES_INIT()
  attributes.EvtCleanupCallback = function() log[#log + 1] = name end
  attributes.ParentObject = parent
  return attributes
end

-- A started device whose EvtDriverDeviceAdd runs add(device, log); log
-- collects the cleanup callbacks (the device's is "device").
local function new_device(m, add)
  local log = {}
  local hw = m:device_model { name = "pdev", registers = 0x100, vector = 41, irql = 7,
                              read = function() return 0 end, write = function() end }
  local function EvtDriverDeviceAdd(_, DeviceInit)
    local status, device = WdfDeviceCreate(DeviceInit, logged(log, "device"))
    if not NT_SUCCESS(status) then return status end
    return add and add(device, log) or STATUS_SUCCESS
  end
  local _, driver = WdfDriverCreate(nil, "\\Registry\\pdev", WDF_NO_OBJECT_ATTRIBUTES,
                                    WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  local device = m:wdf_add_device(driver, hw)
  return device, log
end

-- A packet enabler of device with a logged cleanup.
local function new_enabler(device, log, name)
  local status, e = WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 64 * KiB),
                                        logged(log, name or "enabler"))
  assert(status == STATUS_SUCCESS)
  return e
end

describe("KMDF object parenting", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("deletes the device at removal, children first, the last created first", function()
    local objects = {}
    local device, log = new_device(m, function(device, log)
      local qconfig = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
      local _, q = WdfIoQueueCreate(device, qconfig, logged(log, "queue"))
      local e = new_enabler(device, log)
      local _, cb = WdfCommonBufferCreate(e, 4096, logged(log, "buffer"))
      local _, t = WdfDmaTransactionCreate(e, logged(log, "transaction"))
      objects = { q, e, cb, t }
      return STATUS_SUCCESS
    end)
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ "transaction", "buffer", "enabler", "queue", "device" }, log)
    assert.has_error(function() WdfObjectDelete(device) end)
    for _, o in ipairs(objects) do
      assert.has_error(function() WdfObjectDelete(o) end)
    end
  end)

  it("refuses deleting a parent from the EvtCleanupCallback of a child being deleted", function()
    -- the enabler was freed under its transaction, whose unlinking then
    -- wrote into it (found by the fuzzer)
    local device = new_device(m)
    local e = new_enabler(device, {})
    local attributes = WDF_OBJECT_ATTRIBUTES_INIT()
    local ok, err
    attributes.EvtCleanupCallback = function() ok, err = pcall(WdfObjectDelete, e) end
    local _, t = WdfDmaTransactionCreate(e, attributes)
    WdfObjectDelete(t)
    assert.is_false(ok)
    assert.matches("WdfObjectDelete: WDFDMAENABLER#%d+.* is in use", err)
    assert.has_error(function() WdfDmaTransactionRelease(t) end)  -- the transaction is gone
    local status = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)  -- the enabler is whole
    assert.are.equal(STATUS_SUCCESS, status)
    WdfObjectDelete(e)
  end)

  it("frees a common buffer the driver leaves to the framework: no leak after removal", function()
    local device = new_device(m, function(device, log)
      local e = new_enabler(device, log)
      assert(WdfCommonBufferCreate(e, 8 * KiB, WDF_NO_OBJECT_ATTRIBUTES) == STATUS_SUCCESS)
      return STATUS_SUCCESS
    end)
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({}, m:check_leaks())
  end)

  it("deletes an enabler's transactions and common buffers with it", function()
    local e, cb, t
    local device, log = new_device(m, function(device, log)
      e = new_enabler(device, log)
      local status
      status, cb = WdfCommonBufferCreate(e, 4096, logged(log, "buffer"))
      assert(status == STATUS_SUCCESS)
      status, t = WdfDmaTransactionCreate(e, logged(log, "transaction"))
      return status
    end)
    WdfObjectDelete(e)
    assert.are.same({ "transaction", "buffer", "enabler" }, log)
    assert.has_error(function() WdfCommonBufferGetLength(cb) end)
    assert.has_error(function() WdfObjectDelete(t) end)
    assert.are.same({}, m:check_leaks())
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ "transaction", "buffer", "enabler", "device" }, log)
  end)

  it("lets ParentObject override the default parent", function()
    local e1, e2, cb, t
    local device, log = new_device(m, function(device, log)
      e1 = new_enabler(device, log, "enabler1")
      e2 = new_enabler(device, log, "enabler2")
      local status
      status, t = WdfDmaTransactionCreate(e1, logged(log, "transaction", e2))
      assert(status == STATUS_SUCCESS)
      status, cb = WdfCommonBufferCreate(e1, 4096, logged(log, "buffer", device))
      return status
    end)
    WdfObjectDelete(e2)
    assert.are.same({ "transaction", "enabler2" }, log)
    assert.has_error(function() WdfObjectDelete(t) end)
    assert.are.equal(4096, WdfCommonBufferGetLength(cb))  -- e1's, but the device's child
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ "transaction", "enabler2", "buffer", "enabler1", "device" }, log)
    assert.are.same({}, m:check_leaks())
  end)

  it("refuses a ParentObject that is not a WDF object", function()
    local device = new_device(m)
    local e = new_enabler(device, {})
    assert.has_error(function() WdfDmaTransactionCreate(e, { ParentObject = {} }) end)
  end)

  it("refuses a child of an object being deleted with STATUS_DELETE_PENDING, as KMDF does", function()
    local got = {}
    local device, log = new_device(m, function(device, log)
      local e = new_enabler(device, log)
      local attributes = logged(log, "buffer")
      local cleanup = attributes.EvtCleanupCallback
      attributes.EvtCleanupCallback = function(o)  -- runs during m:wdf_remove_device
        cleanup(o)
        got.enabler = WdfDmaEnablerCreate(device, WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfilePacket, 4096),
                                          WDF_NO_OBJECT_ATTRIBUTES)
        got.queue = WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel),
                                     WDF_NO_OBJECT_ATTRIBUTES)
        got.transaction = WdfDmaTransactionCreate(e, WDF_NO_OBJECT_ATTRIBUTES)
        got.buffer = WdfCommonBufferCreate(e, 4096, WDF_NO_OBJECT_ATTRIBUTES)
      end
      assert(WdfCommonBufferCreate(e, 4096, attributes) == STATUS_SUCCESS)
      return STATUS_SUCCESS
    end)
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ enabler = STATUS_DELETE_PENDING, queue = STATUS_DELETE_PENDING,
                      transaction = STATUS_DELETE_PENDING, buffer = STATUS_DELETE_PENDING }, got)
    assert.are.equal("STATUS_DELETE_PENDING", dma.status_name(STATUS_DELETE_PENDING))
    assert.are.same({ "buffer", "enabler", "device" }, log)
  end)

  it("runs each cleanup once when a cleanup deletes its parent", function()
    local e
    local device, log = new_device(m, function(device, log)
      e = new_enabler(device, log)
      local attributes = logged(log, "buffer")
      local cleanup = attributes.EvtCleanupCallback
      attributes.EvtCleanupCallback = function(o)
        cleanup(o)
        WdfObjectDelete(e)
      end
      assert(WdfCommonBufferCreate(e, 4096, attributes) == STATUS_SUCCESS)
      return STATUS_SUCCESS
    end)
    WdfObjectDelete(e)
    assert.are.same({ "buffer", "enabler" }, log)
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
  end)
end)
