-- KMDF framework objects: WdfDriverCreate and EvtDriverDeviceAdd, the PnP
-- and power sequences the lab runs as PnP manager (reference 2.6) with
-- their failure rules, queues presenting requests (sequential, parallel,
-- power-managed), requests completing their IRPs, interrupts (ISR, DPC for
-- ISR, the lock), object contexts, WdfObjectDelete and the WDF_VIOLATION
-- reports. The driver is a small KMDF driver for a Lua device model: one
-- status register (offset 0) that reads 1 while the device interrupts and
-- acknowledges the interrupt when written.
local dma = require "dma"
local support = require "support"
dma.export()

-- The device model: raise() makes it interrupt.
local function new_hw(m)
  local hw
  local pending = 0
  hw = m:device_model {
    name = "kdev", registers = 0x100, vector = 40, irql = 7,
    read = function(_, offset) return offset == 0 and pending or 0 end,
    write = function(model, offset)
      if offset == 0 then
        pending = 0
        model:clear_interrupt()
      end
    end,
  }
  local function raise()
    pending = 1
    hw:raise_interrupt()
  end
  return hw, raise
end

-- A KMDF driver; `opts` picks the queue type, failing callbacks
-- (fail = { EvtDeviceD0Entry = STATUS_... }) and request handlers. Its
-- record: log (callbacks with their argument), presented requests, IRQLs seen.
local function new_driver(opts)
  opts = opts or {}
  local rec = { log = {}, presented = {}, irql = {} }
  local function note(name, arg)
    rec.log[#rec.log + 1] = arg and (name .. ":" .. arg) or name
    return opts.fail and opts.fail[name] or STATUS_SUCCESS
  end

  local function EvtIoRead(Queue, Request, Length)
    rec.presented[#rec.presented + 1] = { queue = Queue, request = Request, length = Length }
    if opts.on_read then opts.on_read(Queue, Request, Length) end
  end

  local function EvtInterruptIsr(Interrupt, MessageID)
    rec.irql.isr = KeGetCurrentIrql()
    rec.message_id = MessageID
    local ctx = WdfObjectGetTypedContext(WdfInterruptGetDevice(Interrupt), "DEVICE_CONTEXT")
    if READ_REGISTER_ULONG(ctx.Registers) == 0 then return FALSE end
    WRITE_REGISTER_ULONG(ctx.Registers, 1)
    rec.queued = { WdfInterruptQueueDpcForIsr(Interrupt), WdfInterruptQueueDpcForIsr(Interrupt) }
    return TRUE
  end

  local function EvtInterruptDpc(Interrupt, AssociatedObject)
    rec.irql.dpc = KeGetCurrentIrql()
    rec.dpc_device = AssociatedObject
    if opts.on_dpc then opts.on_dpc(Interrupt, AssociatedObject) end
  end

  local function EvtDevicePrepareHardware(Device, ResourcesRaw, ResourcesTranslated)
    local ctx = WdfObjectGetTypedContext(Device, "DEVICE_CONTEXT")
    rec.raw, rec.translated = ResourcesRaw, ResourcesTranslated
    for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
      local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
      if desc.Type == CmResourceTypeMemory then
        ctx.Registers = MmMapIoSpace(desc.u.Memory.Start, desc.u.Memory.Length, MmNonCached)
      elseif desc.Type == CmResourceTypeInterrupt then
        rec.interrupt_resource = desc.u.Interrupt
      end
    end
    rec.irql.prepare = KeGetCurrentIrql()
    return note("EvtDevicePrepareHardware")
  end

  local function EvtDriverDeviceAdd(Driver, DeviceInit)
    rec.driver = Driver
    local callbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
    callbacks.EvtDevicePrepareHardware = EvtDevicePrepareHardware
    callbacks.EvtDeviceReleaseHardware = function() return note("EvtDeviceReleaseHardware") end
    callbacks.EvtDeviceD0Entry = function(_, prev) return note("EvtDeviceD0Entry", prev) end
    callbacks.EvtDeviceD0Exit = function(_, target) return note("EvtDeviceD0Exit", target) end
    callbacks.EvtDeviceD0EntryPostInterruptsEnabled = function(_, prev)
      return note("EvtDeviceD0EntryPostInterruptsEnabled", prev)
    end
    callbacks.EvtDeviceD0ExitPreInterruptsDisabled = function(_, target)
      return note("EvtDeviceD0ExitPreInterruptsDisabled", target)
    end
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, callbacks)
    local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("DEVICE_CONTEXT")
    local status, device = WdfDeviceCreate(DeviceInit, attributes)
    if not NT_SUCCESS(status) then return status end
    rec.device = device
    local qconfig = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(opts.dispatch or WdfIoQueueDispatchSequential)
    qconfig.EvtIoRead = EvtIoRead
    qconfig.EvtIoWrite = opts.on_write
    status, rec.queue = WdfIoQueueCreate(device, qconfig, WDF_NO_OBJECT_ATTRIBUTES)
    if not NT_SUCCESS(status) then return status end
    if not opts.no_interrupt then
      status, rec.interrupt = WdfInterruptCreate(device, WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr,
                                                                                  EvtInterruptDpc), nil)
    end
    return status
  end

  local status, driver = WdfDriverCreate(nil, "\\Registry\\kdev", WDF_NO_OBJECT_ATTRIBUTES,
                                         WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
  assert(status == STATUS_SUCCESS)
  return driver, rec
end

-- Sends a read of `len` bytes to the device; returns the IRP, its buffer
-- and what IoCallDriver returned.
local function send_read(m, device, len)
  local b = m:buffer(len or 4096)
  local irp = m:irp { major = IRP_MJ_READ, buffer = b, device_offset = 512 }
  return irp, b, IoCallDriver(WdfDeviceWdmGetDeviceObject(device), irp)
end

describe("KMDF devices", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("runs EvtDriverDeviceAdd and starts the device in the order of reference 2.6", function()
    local hw = new_hw(m)
    local driver, rec = new_driver()
    local device, status = m:wdf_add_device(driver, hw)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(rec.device, device)
    assert.are.equal(driver, rec.driver)
    assert.are.same({ "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "interrupts_enabled",
                      "EvtDeviceD0EntryPostInterruptsEnabled" }, device:power_log())
    assert.are.same({ "EvtDevicePrepareHardware", "EvtDeviceD0Entry:" .. WdfPowerDeviceD3Final,
                      "EvtDeviceD0EntryPostInterruptsEnabled:" .. WdfPowerDeviceD3Final }, rec.log)
    assert.are.equal(PASSIVE_LEVEL, rec.irql.prepare)
    assert.are.same({ "started", "D0" }, { device:state() })
    assert.is_true(rec.interrupt:connected())
    -- the resources: the model's register block and interrupt
    assert.are.equal(2, WdfCmResourceListGetCount(rec.raw))
    assert.are.equal(rec.raw, rec.translated)
    assert.are.same({ Vector = 40, Level = 7, Affinity = 1 }, rec.interrupt_resource)
    local mem = WdfCmResourceListGetDescriptor(rec.translated, 0)
    assert.are.equal(CmResourceTypeMemory, mem.Type)
    assert.are.equal(hw.resources.memory.start, mem.u.Memory.Start)
    assert.is_nil(WdfCmResourceListGetDescriptor(rec.translated, 2))
    -- the FDO is the framework's, the PDO the hardware's
    local fdo = WdfDeviceWdmGetDeviceObject(device)
    assert.matches("^DEVICE_OBJECT", tostring(fdo))
    assert.are_not.equal(hw.device, fdo)
    assert.are.equal(hw.device, WdfDeviceWdmGetPhysicalDevice(device))
    assert.are.equal(WdfDriverWdmGetDriverObject(driver), fdo.DriverObject)
    assert.are.equal(driver, WdfGetDriver())            -- the machine's one WDFDRIVER
    new_driver()
    assert.has_error(WdfGetDriver, "WdfGetDriver: the machine has 2 WDFDRIVERs; the caller's driver is "
                     .. "known only when it has exactly one")
  end)

  it("powers down and up in the middle of a run, and removes", function()
    local hw = new_hw(m)
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, hw)
    rec.fdo = WdfDeviceWdmGetDeviceObject(device)
    rec.log = {}
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D3"))
    assert.are.same({ "EvtDeviceD0ExitPreInterruptsDisabled:" .. WdfPowerDeviceD3,
                      "EvtDeviceD0Exit:" .. WdfPowerDeviceD3 }, rec.log)
    assert.is_false(rec.interrupt:connected())
    assert.are.same({ "stopped", "D3" }, { device:state() })
    local log = device:power_log()
    assert.are.same({ "EvtDeviceD0ExitPreInterruptsDisabled", "interrupts_disabled", "EvtDeviceD0Exit" },
                    { table.unpack(log, 5) })
    rec.log = {}
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, WdfPowerDeviceD0))
    assert.are.same({ "EvtDeviceD0Entry:" .. WdfPowerDeviceD3,
                      "EvtDeviceD0EntryPostInterruptsEnabled:" .. WdfPowerDeviceD3 }, rec.log)
    assert.is_true(rec.interrupt:connected())
    rec.log = {}
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ "EvtDeviceD0ExitPreInterruptsDisabled:" .. WdfPowerDeviceD3Final,
                      "EvtDeviceD0Exit:" .. WdfPowerDeviceD3Final, "EvtDeviceReleaseHardware" }, rec.log)
    assert.has_error(function() device:state() end)  -- removal deleted the device
    local fdo = rec.fdo
    local irp = m:irp { major = IRP_MJ_READ, buffer = m:buffer(4096), device_offset = 512 }
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, IoCallDriver(fdo, irp))  -- the FDO stays
    assert.is_true(irp.done)
    assert.has_error(function() m:wdf_set_power(device, "D0") end)
    assert.has_error(function() m:wdf_remove_device(device) end)
  end)

  it("runs self-managed I/O callbacks: Init, Suspend, Restart, then Flush and Cleanup at removal", function()
    local log, args = {}, {}
    local function callback(name, result)
      return function(...)
        log[#log + 1] = name
        if name:match("SelfManagedIo") then args[#args + 1] = select("#", ...) end
        return result
      end
    end
    local function EvtDriverDeviceAdd(_, DeviceInit)
      local pnp = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
      for _, name in ipairs { "Init", "Suspend", "Restart" } do
        pnp["EvtDeviceSelfManagedIo" .. name] = callback("EvtDeviceSelfManagedIo" .. name, STATUS_SUCCESS)
      end
      pnp.EvtDeviceSelfManagedIoFlush = callback("EvtDeviceSelfManagedIoFlush")       -- VOID
      pnp.EvtDeviceSelfManagedIoCleanup = callback("EvtDeviceSelfManagedIoCleanup")
      pnp.EvtDeviceD0Exit = callback("EvtDeviceD0Exit", STATUS_SUCCESS)
      pnp.EvtDeviceReleaseHardware = callback("EvtDeviceReleaseHardware", STATUS_SUCCESS)
      WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, pnp)
      return (WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES))
    end
    local _, driver = WdfDriverCreate(nil, nil, WDF_NO_OBJECT_ATTRIBUTES,
                                      WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
    local device = m:wdf_add_device(driver, new_hw(m))
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D3"))
    assert.are.equal(STATUS_SUCCESS, m:wdf_set_power(device, "D0"))
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
    assert.are.same({ "EvtDeviceSelfManagedIoInit", "EvtDeviceSelfManagedIoSuspend", "EvtDeviceD0Exit",
                      "EvtDeviceSelfManagedIoRestart", "EvtDeviceSelfManagedIoSuspend", "EvtDeviceD0Exit",
                      "EvtDeviceReleaseHardware", "EvtDeviceSelfManagedIoFlush",
                      "EvtDeviceSelfManagedIoCleanup" }, log)
    assert.are.same({ 1, 1, 1, 1, 1, 1 }, args)                         -- the Device alone
  end)

  it("fails the start when EvtDeviceD0Entry fails, without EvtDeviceD0Exit", function()
    local driver, rec = new_driver { fail = { EvtDeviceD0Entry = STATUS_DEVICE_DATA_ERROR } }
    local device, status = m:wdf_add_device(driver, new_hw(m))
    assert.are.equal(STATUS_DEVICE_DATA_ERROR, status)
    assert.are.same({ "EvtDevicePrepareHardware", "EvtDeviceD0Entry:" .. WdfPowerDeviceD3Final,
                      "EvtDeviceReleaseHardware" }, rec.log)
    assert.is_false(rec.interrupt:connected())
    assert.are.equal("failed", (device:state()))
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, m:wdf_set_power(device, "D0"))
  end)

  it("undoes the interrupts and D0Entry when EvtDeviceD0EntryPostInterruptsEnabled fails", function()
    local driver, rec = new_driver { fail = { EvtDeviceD0EntryPostInterruptsEnabled = STATUS_UNSUCCESSFUL } }
    local device, status = m:wdf_add_device(driver, new_hw(m))
    assert.are.equal(STATUS_UNSUCCESSFUL, status)
    assert.are.same({ "EvtDevicePrepareHardware", "EvtDeviceD0Entry", "interrupts_enabled",
                      "EvtDeviceD0EntryPostInterruptsEnabled", "interrupts_disabled", "EvtDeviceD0Exit",
                      "EvtDeviceReleaseHardware" }, device:power_log())
    assert.are.equal("EvtDeviceD0Exit:" .. WdfPowerDeviceD3Final, rec.log[4])
    assert.is_false(rec.interrupt:connected())
  end)

  it("releases the hardware when EvtDevicePrepareHardware fails, and never powers up", function()
    local driver = new_driver { fail = { EvtDevicePrepareHardware = STATUS_INSUFFICIENT_RESOURCES } }
    local device, status = m:wdf_add_device(driver, new_hw(m))
    assert.are.equal(STATUS_INSUFFICIENT_RESOURCES, status)
    assert.are.same({ "EvtDevicePrepareHardware", "EvtDeviceReleaseHardware" }, device:power_log())
  end)

  it("fails a power-up from D3 and a callback that returns no NTSTATUS is an error", function()
    local fail = {}
    local driver, rec = new_driver { fail = fail }
    local device = m:wdf_add_device(driver, new_hw(m))
    m:wdf_set_power(device, "D3")
    fail.EvtDeviceD0Entry = STATUS_IO_DEVICE_ERROR
    rec.log = {}
    assert.are.equal(STATUS_IO_DEVICE_ERROR, m:wdf_set_power(device, "D0"))
    assert.are.same({ "EvtDeviceD0Entry:" .. WdfPowerDeviceD3, "EvtDeviceReleaseHardware" }, rec.log)
    fail.EvtDevicePrepareHardware = true  -- not an NTSTATUS
    assert.has_error(function() m:wdf_add_device(new_driver { fail = fail }, new_hw(m)) end,
                     "EvtDevicePrepareHardware must return an NTSTATUS, not boolean")
  end)

  it("fails EvtDriverDeviceAdd's status and refuses a DeviceInit used twice", function()
    local status, driver = WdfDriverCreate(nil, nil, nil, WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
      local s = WdfDeviceCreate(DeviceInit, nil)
      assert(NT_SUCCESS(s))
      assert.has_error(function() WdfDeviceCreate(DeviceInit, nil) end)
      return STATUS_NOT_SUPPORTED
    end))
    assert.are.equal(STATUS_SUCCESS, status)
    local device, st = m:wdf_add_device(driver, new_hw(m))
    assert.is_nil(device)
    assert.are.equal(STATUS_NOT_SUPPORTED, st)
  end)

  it("keeps the alignment requirement", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    assert.are.equal(rec.device, device)
    assert.are.equal(FILE_BYTE_ALIGNMENT, WdfDeviceGetAlignmentRequirement(device))
    WdfDeviceSetAlignmentRequirement(device, FILE_QUAD_ALIGNMENT)
    assert.are.equal(7, WdfDeviceGetAlignmentRequirement(device))
    assert.has_error(function() WdfDeviceSetAlignmentRequirement(device, 6) end)
  end)
end)

describe("KMDF queues and requests", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("presents a sequential queue's requests one at a time, pending the IRPs", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local irps = {}
    for i = 1, 3 do
      local irp, _, status = send_read(m, device, 512 * i)
      assert.are.equal(STATUS_PENDING, status)
      assert.is_true(irp.PendingReturned)
      irps[i] = irp
    end
    assert.are.equal(1, #rec.presented)
    assert.are.equal(512, rec.presented[1].length)
    assert.are.equal(rec.queue, rec.presented[1].queue)
    assert.are.equal(rec.queue, WdfDeviceGetDefaultQueue(device))
    assert.are.same({ presented = 1, completed = 0, in_flight = 1, waiting = 2 }, rec.queue:stats())
    WdfRequestCompleteWithInformation(rec.presented[1].request, STATUS_SUCCESS, 512)
    assert.is_true(irps[1].done)
    assert.are.equal(2, #rec.presented)
    assert.are.equal(1024, rec.presented[2].length)
    WdfRequestComplete(rec.presented[2].request, STATUS_SUCCESS)
    assert.are.equal(3, #rec.presented)
    assert.is_false(irps[3].done)
  end)

  it("presents a parallel queue's requests all at once", function()
    local driver, rec = new_driver { dispatch = WdfIoQueueDispatchParallel }
    local device = m:wdf_add_device(driver, new_hw(m))
    for _ = 1, 3 do send_read(m, device) end
    assert.are.equal(3, #rec.presented)
    assert.are.same({ presented = 3, completed = 0, in_flight = 3, waiting = 0 }, rec.queue:stats())
    WdfRequestComplete(rec.presented[2].request, STATUS_SUCCESS)
    assert.are.equal(2, rec.queue:stats().in_flight)
  end)

  it("completes the IRP with the request's status and information", function()
    local completed
    local driver = new_driver { on_read = function(_, Request, Length)
      WdfRequestSetInformation(Request, Length - 1)
      assert.are.equal(Length - 1, WdfRequestGetInformation(Request))
      WdfRequestComplete(Request, STATUS_DEVICE_DATA_ERROR)  -- synchronously, inside EvtIoRead
    end }
    local device = m:wdf_add_device(driver, new_hw(m))
    local b = m:buffer(2048)
    local irp = m:irp { major = IRP_MJ_READ, buffer = b, completion = function(i) completed = i end }
    assert.are.equal(STATUS_PENDING, IoCallDriver(WdfDeviceWdmGetDeviceObject(device), irp))
    assert.are.equal(irp, completed)
    assert.are.equal(STATUS_DEVICE_DATA_ERROR, irp.IoStatus.Status)
    assert.are.equal(2047, irp.IoStatus.Information)
    assert.are.equal(1, m:run_stats().requests)
  end)

  it("hands the driver the request's MDL and parameters", function()
    local got = {}
    local driver = new_driver {
      on_read = function(Queue, Request)
        got.request = Request
        got.status, got.mdl = WdfRequestRetrieveOutputWdmMdl(Request)
        got.wrong = WdfRequestRetrieveInputWdmMdl(Request)
        got.params = WdfRequestGetParameters(Request)
        got.irp = WdfRequestWdmGetIrp(Request)
        got.queue = WdfRequestGetIoQueue(Request)
        got.device = WdfRequestGetDevice(Request)
        assert.are.equal(got.device, WdfIoQueueGetDevice(Queue))
      end,
      on_write = function(_, Request, Length)
        local status, mdl = WdfRequestRetrieveInputWdmMdl(Request)
        got.write = { status, MmGetMdlByteCount(mdl) }
        got.write_length = Length
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, Length)
      end,
    }
    local device = m:wdf_add_device(driver, new_hw(m))
    local irp = send_read(m, device, 3000)
    assert.are.equal(STATUS_SUCCESS, got.status)
    assert.are.equal(irp.MdlAddress, got.mdl)
    assert.are.equal(3000, MmGetMdlByteCount(got.mdl))
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, got.wrong)
    assert.are.equal(WdfRequestTypeRead, got.params.Type)
    assert.are.equal(3000, got.params.Parameters.Read.Length)
    assert.are.equal(512, got.params.Parameters.Read.DeviceOffset)
    assert.are.equal(irp, got.irp)
    assert.are.equal(WdfDeviceGetDefaultQueue(device), got.queue)
    assert.are.equal(device, got.device)
    WdfRequestComplete(got.request, STATUS_SUCCESS)  -- sequential: the write comes next
    local w = m:irp { major = IRP_MJ_WRITE, buffer = m:buffer(100) }
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), w)
    assert.are.equal(STATUS_SUCCESS, got.write[1])
    assert.are.equal(100, got.write[2])
    assert.are.equal(100, w.IoStatus.Information)
  end)

  it("fails requests no callback handles, and keeps requests while the device is in D3", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local ioctl = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = 0x222000 }
    assert.are.equal(STATUS_PENDING, IoCallDriver(WdfDeviceWdmGetDeviceObject(device), ioctl))
    assert.is_true(ioctl.done)
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, ioctl.IoStatus.Status)
    m:wdf_set_power(device, "D3")
    local irp = send_read(m, device)
    assert.are.equal(0, #rec.presented)
    m:wdf_set_power(device, "D0")
    assert.are.equal(1, #rec.presented)
    WdfRequestComplete(rec.presented[1].request, STATUS_SUCCESS)
    assert.is_true(irp.done)
  end)

  it("reports a request completed twice (0x10D)", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    send_read(m, device)
    local request = rec.presented[1].request
    WdfRequestComplete(request, STATUS_SUCCESS)
    local name = tostring(request):match("WDFREQUEST#%d+")
    assert.has_error(function() WdfRequestComplete(request, STATUS_SUCCESS) end,
                     "WDF_VIOLATION (0x10D, P1=0x06): WdfRequestComplete: " .. name
                       .. " was already completed")
    assert.has_error(function() WdfRequestGetParameters(request) end)
  end)

  it("records a double completion in record mode, and WdfObjectDelete refuses requests", function()
    m:close()
    m = support.machine { ram = "4G", verifier = "record" }
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    send_read(m, device)
    local request = rec.presented[1].request
    assert.has_error(function() WdfObjectDelete(request) end)
    WdfRequestComplete(request, STATUS_SUCCESS)
    WdfRequestComplete(request, STATUS_SUCCESS)
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.equal(0x10D, r[1].bugcheck)
    assert.are.equal(0x6, r[1].p1)
  end)
end)

describe("KMDF interrupts", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("runs EvtInterruptIsr at DIRQL and EvtInterruptDpc through WdfInterruptQueueDpcForIsr", function()
    local hw, raise = new_hw(m)
    local driver, rec
    driver, rec = new_driver { on_dpc = function(Interrupt)
      -- the DPC completes the request the device finished
      assert.are.equal(rec.device, WdfInterruptGetDevice(Interrupt))
      WdfRequestCompleteWithInformation(rec.presented[1].request, STATUS_SUCCESS, 4096)
    end }
    local device = m:wdf_add_device(driver, hw)
    local irp = send_read(m, device)
    raise()
    m:run()
    assert.are.equal(7, rec.irql.isr)
    assert.are.equal(0, rec.message_id)
    assert.are.same({ true, false }, rec.queued)  -- queued once: KeInsertQueueDpc's result
    assert.are.equal(DISPATCH_LEVEL, rec.irql.dpc)
    assert.are.equal(device, rec.dpc_device)
    assert.is_true(irp.done)
    assert.are.equal(4096, irp.IoStatus.Information)
    assert.is_false(hw.interrupt_asserted)
  end)

  it("does not deliver interrupts while the device is in D3", function()
    local hw, raise = new_hw(m)
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, hw)
    m:wdf_set_power(device, "D3")
    raise()
    m:run_until(m.now + 100000)  -- 100 us: no ISR is connected to take it
    assert.is_nil(rec.irql.isr)
    hw:clear_interrupt()  -- before the unclaimed line is masked as a storm
    m:wdf_set_power(device, "D0")
    raise()
    m:run()
    assert.are.equal(7, rec.irql.isr)
  end)

  it("raises the IRQL to DIRQL under the lock and in WdfInterruptSynchronize", function()
    local driver, rec = new_driver()
    m:wdf_add_device(driver, new_hw(m))
    local intr = rec.interrupt
    WdfInterruptAcquireLock(intr)
    assert.are.equal(7, KeGetCurrentIrql())
    WdfInterruptReleaseLock(intr)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    assert.has_error(function() WdfInterruptReleaseLock(intr) end)
    local seen
    assert.is_true(WdfInterruptSynchronize(intr, function(Interrupt, Context)
      seen = { Interrupt, Context, KeGetCurrentIrql() }
      return TRUE
    end, "ctx"))
    assert.are.same({ intr, "ctx", 7 }, seen)
    assert.has_error(function() WdfInterruptSynchronize(intr, function() error("boom") end) end)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
    WdfInterruptAcquireLock(intr)
    assert.has_error(function() WdfInterruptAcquireLock(intr) end, "WDF_VIOLATION (0x10D, P1=0x02): "
                     .. "WdfInterruptAcquireLock: the lock of " .. tostring(intr):match("WDFINTERRUPT#%d+")
                     .. " is already held")
    WdfInterruptReleaseLock(intr)
  end)
end)

describe("KMDF objects", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("keeps one context table per object and context type", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local ctx = WdfObjectGetTypedContext(device, "DEVICE_CONTEXT")
    assert.is_number(ctx.Registers)  -- set in EvtDevicePrepareHardware
    assert.are.equal(ctx, WdfObjectGetTypedContext(device, "DEVICE_CONTEXT"))
    local other = WdfObjectGetTypedContext(device, "OTHER")
    assert.are_not.equal(ctx, other)
    assert.are_not.equal(WdfObjectGetTypedContext(rec.queue, "DEVICE_CONTEXT"), ctx)
    assert.are.same({ ContextTypeInfo = "X" }, WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("X"))
    assert.has_error(function() WdfObjectGetTypedContext(WdfDeviceWdmGetDeviceObject(device), "X") end)
  end)

  it("deletes a queue with WdfObjectDelete after its EvtCleanupCallback", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local cleaned
    local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("QUEUE_CONTEXT")
    attributes.EvtCleanupCallback = function(Object)
      cleaned = WdfObjectGetTypedContext(Object, "QUEUE_CONTEXT").tag
    end
    local status, queue = WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel),
                                           attributes)
    assert.are.equal(STATUS_SUCCESS, status)
    WdfObjectGetTypedContext(queue, "QUEUE_CONTEXT").tag = "mine"
    assert.are.equal(STATUS_SUCCESS, WdfDeviceConfigureRequestDispatching(device, queue, WdfRequestTypeRead))
    WdfObjectDelete(queue)
    assert.are.equal("mine", cleaned)
    assert.has_error(function() WdfIoQueueGetDevice(queue) end)
    assert.has_error(function() WdfObjectDelete(queue) end)
    assert.has_error(function() WdfObjectDelete(device) end)
    assert.has_error(function() WdfObjectDelete(rec.driver) end)
    -- reads go to the default queue again
    send_read(m, device)
    assert.are.equal(1, #rec.presented)
    -- a second default queue is refused
    local second = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchParallel)
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, WdfIoQueueCreate(device, second))
  end)

  it("sends reads to the queue configured for them", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local seen
    local config = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel)
    config.EvtIoRead = function(Queue, Request) seen = { Queue, Request } end
    local _, queue = WdfIoQueueCreate(device, config, nil)
    WdfDeviceConfigureRequestDispatching(device, queue, WdfRequestTypeRead)
    send_read(m, device)
    assert.are.equal(queue, seen[1])
    assert.are.equal(0, #rec.presented)
    WdfRequestComplete(seen[2], STATUS_SUCCESS)
  end)

  it("refuses WdfObjectDelete of an interrupt (the framework deletes it): 0x10D/0x7", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local intr = rec.interrupt
    local before = #m:reports()
    assert.has_error(function() WdfObjectDelete(intr) end)
    local r = m:reports()[before + 1]
    assert.are.equal(0x10D, r.bugcheck)
    assert.are.equal(0x7, r.p1)
    assert.matches("WDFINTERRUPT#%d+ may not be deleted by its driver", r.message)
    assert.is_true(intr:connected())
    -- nor inside its own WdfInterruptSynchronize (the fuzzer found it freed
    -- under the held lock, then read by the release)
    assert.is_true(WdfInterruptSynchronize(intr, function()
      assert.has_error(function() WdfObjectDelete(intr) end)
      return true
    end, nil))
    assert.is_true(intr:connected())
    assert.are.equal(device, WdfInterruptGetDevice(intr))
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))  -- the framework deletes it
    assert.matches("deleted", tostring(intr))
  end)
end)
