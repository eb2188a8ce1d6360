-- The I/O manager's buffer methods and files, and the framework's I/O
-- around them, from Lua as a ported driver uses them: m:irp building
-- IOCTLs by METHOD_* with their input and output buffers and what the
-- originator gets back (irp:result), create/cleanup/close with file
-- objects and exclusive devices, symbolic links, IoCancelIrp; KMDF manual
-- queues (a driver parking reads, ReadyNotify), WdfRequestForwardToIoQueue,
-- WdfRequestRetrieveInput/OutputBuffer with the I/O type, cancelable
-- requests, queue Stop/Purge/Drain, EvtDeviceFileCreate/EvtFileClose.
local dma = require "dma"
local support = require "support"
dma.export()

local IOCTL_ECHO = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
local IOCTL_FILL = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
local IOCTL_RAW = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_NEITHER, FILE_ANY_ACCESS)
local GUID_DEVINTERFACE_PARK = "{6d1a2b3c-0000-4e5f-8a9b-0123456789ab}"

-- A device model with nothing in it (the framework device needs hardware).
local function new_hw(m)
  return m:device_model { name = "iodev", registers = 0x10, vector = 41, irql = 6,
                          read = function() return 0 end, write = function() end }
end

describe("the I/O manager's buffer methods (WDM)", function()
  local m, drv, dev, seen
  before_each(function()
    m = support.machine { ram = "1G" }
    seen = {}
    drv = dma.driver { name = "\\Driver\\echo" }
    drv.MajorFunction[IRP_MJ_CREATE] = function(_, irp)
      seen.create = irp.FileObject
      irp.IoStatus.Status = STATUS_SUCCESS
      IoCompleteRequest(irp, IO_NO_INCREMENT)
      return STATUS_SUCCESS
    end
    drv.MajorFunction[IRP_MJ_CLOSE] = drv.MajorFunction[IRP_MJ_CREATE]
    drv.MajorFunction[IRP_MJ_DEVICE_CONTROL] = function(_, irp)
      local stack = IoGetCurrentIrpStackLocation(irp)
      local p = stack.Parameters.DeviceIoControl
      seen.stack = { p.InputBufferLength, p.OutputBufferLength, p.Type3InputBuffer, stack.FileObject }
      if p.IoControlCode == IOCTL_ECHO then  -- the input upper-cased into the same system buffer
        local sb = irp.AssociatedIrp.SystemBuffer
        m:write(sb, m:read(sb, p.InputBufferLength):upper())
        irp.IoStatus.Information = p.InputBufferLength
      elseif p.IoControlCode == IOCTL_FILL then
        local va = MmGetSystemAddressForMdlSafe(irp.MdlAddress, NormalPagePriority)
        m:write(va, ("z"):rep(p.OutputBufferLength))
        irp.IoStatus.Information = p.OutputBufferLength
      else
        seen.raw = { p.Type3InputBuffer, irp.UserBuffer }
        irp.IoStatus.Information = 0
      end
      irp.IoStatus.Status = STATUS_SUCCESS
      IoCompleteRequest(irp, IO_NO_INCREMENT)
      return STATUS_SUCCESS
    end
    local name = {}
    RtlInitUnicodeString(name, "\\Device\\Echo0")
    local status
    status, dev = IoCreateDevice(drv, 0, name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, true)
    assert.are.equal(STATUS_SUCCESS, status)
  end)
  after_each(function()
    m:close()
    m = nil
  end)

  it("carries METHOD_BUFFERED input in SystemBuffer and copies Information bytes back", function()
    local input, output = m:buffer(5), m:buffer(16)
    input:write(0, "hello")
    output:fill(0x2E)
    local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_ECHO, input = input,
                        buffer = output }
    assert.is_nil(irp:result())
    assert.are.equal(STATUS_SUCCESS, IoCallDriver(dev, irp))
    assert.are.same({ 5, 16, nil }, { seen.stack[1], seen.stack[2], seen.stack[3] })
    local r = irp:result()
    assert.are.same({ STATUS_SUCCESS, 5, "HELLO" }, { r.Status, r.Information, r.output })
    assert.are.equal("HELLO...........", output:read())
    assert.are.equal("hello", input:read())  -- the input buffer is not written
  end)

  it("locks an OUT_DIRECT output in MdlAddress and hands METHOD_NEITHER the caller's addresses", function()
    local output = m:buffer(8)
    local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_FILL, buffer = output }
    IoCallDriver(dev, irp)
    assert.are.equal("zzzzzzzz", irp:result().output)
    local input = m:buffer(4)
    irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_RAW, input = input, buffer = output }
    IoCallDriver(dev, irp)
    assert.are.same({ input.va, output.va }, seen.raw)
  end)

  it("opens files, refuses a second open of an exclusive device, finds a device by link", function()
    local c1 = m:irp { major = IRP_MJ_CREATE }
    assert.are.equal(STATUS_SUCCESS, IoCallDriver(dev, c1))
    local file = c1.FileObject
    assert.are.equal(file, seen.create)
    assert.are.equal("open", file.state)
    assert.are.equal(dev, file.DeviceObject)
    local c2 = m:irp { major = IRP_MJ_CREATE }
    assert.are.equal(STATUS_ACCESS_DENIED, IoCallDriver(dev, c2))
    assert.are.equal("closed", c2.FileObject.state)
    local io = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_RAW, file = file }
    IoCallDriver(dev, io)
    assert.are.equal(file, seen.stack[4])
    IoCallDriver(dev, m:irp { major = IRP_MJ_CLOSE, file = file })
    assert.are.equal("closed", file.state)
    assert.has_error(function() IoCallDriver(dev, m:irp { major = IRP_MJ_CLOSE, file = file }) end)
    assert.are.equal(STATUS_SUCCESS, IoCreateSymbolicLink("\\DosDevices\\Echo", "\\Device\\Echo0"))
    assert.are.equal(STATUS_OBJECT_NAME_COLLISION,
                     IoCreateSymbolicLink("\\DosDevices\\Echo", "\\Device\\Echo0"))
    assert.are.equal(dev, m:find_device("\\DosDevices\\Echo"))
    assert.are.equal(STATUS_SUCCESS, IoDeleteSymbolicLink("\\DosDevices\\Echo"))
    assert.are.equal(STATUS_OBJECT_NAME_NOT_FOUND, IoDeleteSymbolicLink("\\DosDevices\\Echo"))
    local status, link = IoRegisterDeviceInterface(dev, GUID_DEVINTERFACE_PARK, nil)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.same({}, select(2, IoGetDeviceInterfaces(GUID_DEVINTERFACE_PARK, nil, 0)))
    assert.are.equal(STATUS_SUCCESS, IoSetDeviceInterfaceState(link, true))
    assert.are.same({ link.Buffer }, select(2, IoGetDeviceInterfaces(GUID_DEVINTERFACE_PARK, nil, 0)))
    assert.are.equal(dev, m:find_device(link))
    assert.are.equal(FILE_DEVICE_SECURE_OPEN, dev.Characteristics)
    assert.are.equal(DO_DIRECT_IO | DO_EXCLUSIVE, dev.Flags)
  end)

  it("builds reads by the device's Flags: buffered copies back what the driver reports", function()
    dev.Flags = DO_BUFFERED_IO
    drv.MajorFunction[IRP_MJ_READ] = function(_, irp)
      assert.is_nil(irp.MdlAddress)
      m:write(irp.AssociatedIrp.SystemBuffer, "abc")
      irp.IoStatus.Information = 3
      irp.IoStatus.Status = STATUS_SUCCESS
      IoCompleteRequest(irp, IO_NO_INCREMENT)
      return STATUS_SUCCESS
    end
    local b = m:buffer(8)
    b:fill(0x2D)
    local irp = m:irp { major = IRP_MJ_READ, buffer = b }
    IoCallDriver(dev, irp)
    assert.are.equal("abc-----", b:read())
  end)

  it("cancels an IRP through its cancel routine at DISPATCH_LEVEL", function()
    local pending
    drv.MajorFunction[IRP_MJ_READ] = function(_, irp)
      IoMarkIrpPending(irp)
      IoSetCancelRoutine(irp, function(d, i)
        seen.cancel = { d, i, KeGetCurrentIrql(), i.Cancel }
        IoReleaseCancelSpinLock(i.CancelIrql)
        seen.released_to = KeGetCurrentIrql()
        i.IoStatus.Status = STATUS_CANCELLED
        IoCompleteRequest(i, IO_NO_INCREMENT)
      end)
      pending = irp
      return STATUS_PENDING
    end
    local irp = m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) }
    assert.are.equal(STATUS_PENDING, IoCallDriver(dev, irp))
    assert.is_true(IoCancelIrp(irp))
    assert.are.same({ dev, pending, DISPATCH_LEVEL, true }, seen.cancel)
    assert.are.equal(PASSIVE_LEVEL, seen.released_to)
    assert.are.equal(STATUS_CANCELLED, irp.IoStatus.Status)
    assert.is_false(IoCancelIrp(irp))
    assert.are.equal(PASSIVE_LEVEL, IoAcquireCancelSpinLock())
    assert.are.equal(DISPATCH_LEVEL, KeGetCurrentIrql())
    IoReleaseCancelSpinLock(PASSIVE_LEVEL)
    assert.are.equal(PASSIVE_LEVEL, KeGetCurrentIrql())
  end)
end)

describe("the framework's I/O (KMDF)", function()
  local m
  before_each(function() m = support.machine { ram = "1G" } end)
  after_each(function()
    m:close()
    m = nil
  end)

  -- A driver whose reads park on a manual queue until an IOCTL releases
  -- them (the pattern of the ported NIC and serial drivers), with file
  -- callbacks and buffered I/O.
  local function new_driver(opts)
    opts = opts or {}
    local rec = { log = {} }
    local function EvtIoRead(_, Request)
      if opts.cancelable then
        WdfRequestMarkCancelable(Request, function(r)
          rec.log[#rec.log + 1] = "cancel"
          WdfRequestComplete(r, STATUS_CANCELLED)
        end)
        rec.held = Request
        return
      end
      local status = WdfRequestForwardToIoQueue(Request, rec.manual)
      rec.log[#rec.log + 1] = "forward:" .. status
    end
    local function EvtIoDeviceControl(_, Request)
      local status, inbuf, inlen = WdfRequestRetrieveInputBuffer(Request, 4)
      if status ~= STATUS_SUCCESS then
        WdfRequestComplete(Request, status)
        return
      end
      local word = m:read(inbuf, inlen)
      local read
      status, read = WdfIoQueueRetrieveNextRequest(rec.manual)
      if status == STATUS_SUCCESS then
        local st, out, outlen = WdfRequestRetrieveOutputBuffer(read, 1)
        assert(st == STATUS_SUCCESS)
        m:write(out, word:sub(1, outlen))
        WdfRequestCompleteWithInformation(read, STATUS_SUCCESS, math.min(#word, outlen))
      end
      WdfRequestCompleteWithInformation(Request, status, 0)
    end
    local function EvtDriverDeviceAdd(_, DeviceInit)
      WdfDeviceInitSetIoType(DeviceInit, WdfDeviceIoBuffered)
      WdfDeviceInitSetFileObjectConfig(DeviceInit, WDF_FILEOBJECT_CONFIG_INIT(
        function(_, Request, FileObject)
          rec.log[#rec.log + 1] = "create"
          rec.file = FileObject
          rec.name = WdfFileObjectGetFileName(FileObject)
          WdfRequestComplete(Request, STATUS_SUCCESS)
        end,
        function(FileObject) rec.log[#rec.log + 1] = "close:" .. tostring(FileObject == rec.file) end,
        function() rec.log[#rec.log + 1] = "cleanup" end), WDF_NO_OBJECT_ATTRIBUTES)
      local status, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
      if not NT_SUCCESS(status) then return status end
      rec.device = device
      local q = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchParallel)
      q.EvtIoRead = EvtIoRead
      q.EvtIoDeviceControl = EvtIoDeviceControl
      status, rec.queue = WdfIoQueueCreate(device, q, WDF_NO_OBJECT_ATTRIBUTES)
      if not NT_SUCCESS(status) then return status end
      status, rec.manual = WdfIoQueueCreate(device, WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchManual),
                                            WDF_NO_OBJECT_ATTRIBUTES)
      if not NT_SUCCESS(status) then return status end
      status = WdfDeviceCreateDeviceInterface(device, GUID_DEVINTERFACE_PARK, nil)
      if not NT_SUCCESS(status) then return status end
      return WdfDeviceCreateSymbolicLink(device, "\\DosDevices\\Park")
    end
    local status, driver = WdfDriverCreate(nil, "\\Registry\\park", WDF_NO_OBJECT_ATTRIBUTES,
                                           WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
    assert(status == STATUS_SUCCESS)
    return driver, rec
  end

  it("gives EvtDeviceFileCreate the path opened past the device's name (WdfFileObjectGetFileName)", function()
    local driver, rec = new_driver()
    m:wdf_add_device(driver, new_hw(m))
    local fdo = m:find_device("\\DosDevices\\Park")
    local create = m:irp { major = IRP_MJ_CREATE, file_name = "\\c2h_0" }
    assert.are.equal(STATUS_PENDING, IoCallDriver(fdo, create))
    assert.are.same({ Buffer = "\\c2h_0", Length = 12, MaximumLength = 14 }, rec.name)
    assert.are.same(rec.name, create.FileObject.FileName)
    IoCallDriver(fdo, m:irp { major = IRP_MJ_CREATE })                   -- the device itself
    assert.are.same({ Buffer = "", Length = 0, MaximumLength = 2 }, rec.name)
    local old = KeRaiseIrql(DISPATCH_LEVEL)
    assert.is_nil(WdfFileObjectGetFileName(rec.file))                   -- above PASSIVE_LEVEL
    KeLowerIrql(old)
    assert.has_error(function() m:irp { major = IRP_MJ_CREATE, file_name = "c2h_0" } end,
      "bad argument #1 to 'irp' (field 'file_name' must be empty or start with a backslash (\\h2c_0), "
      .. "at most 32767 characters)")
    local file = create.FileObject
    assert.has_error(function() m:irp { major = IRP_MJ_CLOSE, file = file, file_name = "\\x" } end,
      "bad argument #1 to 'irp' (field 'file_name' is a create's (IRP_MJ_CREATE))")
    assert.has_error(function() m:irp { major = IRP_MJ_CREATE, file = file, file_name = "\\x" } end,
      "bad argument #1 to 'irp' (field 'file_name': the file's create was sent already)")
  end)

  it("parks reads on a manual queue and completes them from an IOCTL through buffered I/O", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local fdo = m:find_device("\\DosDevices\\Park")
    assert.are.equal(WdfDeviceWdmGetDeviceObject(device), fdo)
    local _, links = IoGetDeviceInterfaces(GUID_DEVINTERFACE_PARK, nil, 0)
    assert.are.equal(fdo, m:find_device(links[1]))  -- enabled when the device started
    assert.are.equal(DO_BUFFERED_IO, fdo.Flags & (DO_BUFFERED_IO | DO_DIRECT_IO))
    local create = m:irp { major = IRP_MJ_CREATE }
    assert.are.equal(STATUS_PENDING, IoCallDriver(fdo, create))
    assert.is_true(create.done)
    local file = create.FileObject
    local rb = m:buffer(8)
    rb:fill(0x2E)
    local read = m:irp { major = IRP_MJ_READ, buffer = rb, file = file }
    assert.are.equal(STATUS_PENDING, IoCallDriver(fdo, read))
    assert.is_false(read.done)
    assert.are.equal(1, rec.manual:stats().waiting)
    local input = m:buffer(3)
    input:write(0, "ack")
    local short = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_ECHO, input = input,
                          buffer = m:buffer(4), file = file }
    IoCallDriver(fdo, short)
    assert.are.equal(STATUS_BUFFER_TOO_SMALL, short.IoStatus.Status)  -- MinimumRequiredSize 4
    assert.is_false(read.done)
    local word = m:buffer(4)
    word:write(0, "pong")
    local ioctl = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = IOCTL_ECHO, input = word, file = file }
    IoCallDriver(fdo, ioctl)
    assert.are.equal(STATUS_SUCCESS, ioctl.IoStatus.Status)
    assert.is_true(read.done)
    assert.are.equal("pong", read:result().output)
    assert.are.equal("pong....", rb:read())  -- copied back from the system buffer
    IoCallDriver(fdo, m:irp { major = IRP_MJ_CLEANUP, file = file })
    IoCallDriver(fdo, m:irp { major = IRP_MJ_CLOSE, file = file })
    assert.are.same({ "create", "forward:0", "cleanup", "close:true" }, rec.log)
    assert.are.same({}, m:reports())
  end)

  it("cancels a cancelable request through EvtRequestCancel and purges a manual queue", function()
    local driver, rec = new_driver { cancelable = true }
    local device = m:wdf_add_device(driver, new_hw(m))
    local fdo = WdfDeviceWdmGetDeviceObject(device)
    local read = m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) }
    IoCallDriver(fdo, read)
    assert.is_false(read.done)
    assert.is_true(IoCancelIrp(read))
    assert.are.equal(STATUS_CANCELLED, read.IoStatus.Status)
    assert.are.same({ "cancel" }, rec.log)
    -- A request waiting on a purged manual queue is cancelled by the framework.
    local waiting = m:irp { major = IRP_MJ_WRITE, buffer = m:buffer(8) }
    WdfDeviceConfigureRequestDispatching(device, rec.manual, WdfRequestTypeWrite)
    IoCallDriver(fdo, waiting)
    local purged
    WdfIoQueuePurge(rec.manual, function(q, ctx) purged = { q, ctx } end, "ctx")
    assert.are.equal(STATUS_CANCELLED, waiting.IoStatus.Status)
    assert.are.same({ rec.manual, "ctx" }, purged)
    local late = m:irp { major = IRP_MJ_WRITE, buffer = m:buffer(8) }
    IoCallDriver(fdo, late)
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, late.IoStatus.Status)
    WdfIoQueueStart(rec.manual)
    assert.are.same({}, m:reports())
  end)

  it("waits in WdfIoQueueStopSynchronously on the simulated clock, and says when it never ends", function()
    local driver, rec = new_driver { cancelable = true }
    local device = m:wdf_add_device(driver, new_hw(m))
    local fdo = WdfDeviceWdmGetDeviceObject(device)
    local read = m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) }
    IoCallDriver(fdo, read)
    m:after(5000, function()
      assert.are.equal(STATUS_SUCCESS, WdfRequestUnmarkCancelable(rec.held))
      WdfRequestCompleteWithInformation(rec.held, STATUS_SUCCESS, 8)
    end)
    local t0 = m:stats().now
    WdfIoQueueStopSynchronously(rec.queue)
    assert.is_true(read.done)
    assert.is_true(m:stats().now >= t0 + 5000)
    WdfIoQueueStart(rec.queue)
    IoCallDriver(fdo, m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) })
    assert.has_error(function() WdfIoQueueDrainSynchronously(rec.queue) end,
      "WdfIoQueueDrainSynchronously: the driver still owns requests of the queue and no simulated "
      .. "event completed them (none left, or 60 s of simulated time): the wait would never end")
    IoCancelIrp(WdfRequestWdmGetIrp(rec.held))
  end)

  it("dispatches internal IOCTLs to EvtIoInternalDeviceControl, METHOD_NEITHER buffers reachable", function()
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local got
    local config = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel)
    config.EvtIoInternalDeviceControl = function(_, Request, OutLen, InLen, Code)
      local st, inbuf = WdfRequestRetrieveInputBuffer(Request, InLen)
      local st2, outbuf = WdfRequestRetrieveOutputBuffer(Request, OutLen)
      got = { OutLen, InLen, Code, st, m:read(inbuf, InLen), st2 }
      m:write(outbuf, "ok")
      WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 2)
    end
    local _, internal = WdfIoQueueCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
    local st = WdfDeviceConfigureRequestDispatching(device, internal, WdfRequestTypeDeviceControlInternal)
    assert.are.equal(STATUS_SUCCESS, st)
    local input, output = m:buffer(3), m:buffer(2)
    input:write(0, "abc")
    local irp = m:irp { major = IRP_MJ_INTERNAL_DEVICE_CONTROL, ioctl = IOCTL_RAW, input = input,
                        buffer = output }
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), irp)
    assert.are.same({ 2, 3, IOCTL_RAW, STATUS_SUCCESS, "abc", STATUS_SUCCESS }, got)
    assert.are.equal("ok", output:read())
    assert.are.equal(0, rec.queue:stats().presented)
  end)

  it("hands a buffered IOCTL's buffers out as WDFMEMORY objects that go with the request", function()
    local driver = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local got = {}
    local config = WDF_IO_QUEUE_CONFIG_INIT(WdfIoQueueDispatchParallel)
    config.EvtIoDeviceControl = function(_, Request, OutLen, InLen)
      local st, inmem = WdfRequestRetrieveInputMemory(Request)
      local st2, outmem = WdfRequestRetrieveOutputMemory(Request)
      local buf, size = WdfMemoryGetBuffer(inmem)
      local _, again = WdfRequestRetrieveInputMemory(Request)
      got = { st, st2, m:read(buf, size), InLen, OutLen, rawequal(inmem, again) }
      WdfMemoryCopyFromBuffer(outmem, 0, buf, 3)
      got.memory = inmem
      WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 3)
    end
    local _, q = WdfIoQueueCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
    assert.are.equal(STATUS_SUCCESS,
                     WdfDeviceConfigureRequestDispatching(device, q, WdfRequestTypeDeviceControl))
    local input, output = m:buffer(3), m:buffer(8)
    input:write(0, "xyz")
    local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, input = input, buffer = output,
                        ioctl = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS) }
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), irp)
    assert.are.same({ STATUS_SUCCESS, STATUS_SUCCESS, "xyz", 3, 8, true }, { table.unpack(got, 1, 6) })
    assert.are.equal("xyz", output:read(0, 3))
    assert.has_error(function() WdfMemoryGetBuffer(got.memory) end)  -- gone with the request
  end)

  it("reports a request forwarded to its own queue and one completed with too much information", function()
    m:close()
    m = support.machine { ram = "1G", verifier = "record" }
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local fdo = WdfDeviceWdmGetDeviceObject(device)
    IoCallDriver(fdo, m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) })
    local status, r = WdfIoQueueRetrieveNextRequest(rec.manual)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, WdfRequestForwardToIoQueue(r, rec.manual))
    assert.are.equal(STATUS_NO_MORE_ENTRIES, select(1, WdfIoQueueRetrieveNextRequest(rec.manual)))
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, select(1, WdfIoQueueRetrieveNextRequest(rec.queue)))
    WdfRequestCompleteWithInformation(r, STATUS_SUCCESS, 9)
    local reports = m:reports()
    assert.are.equal(2, #reports)
    assert.are.same({ 0x10D, 0x6, 0 }, { reports[1].bugcheck, reports[1].p1, reports[1].p2 })
    assert.are.same({ 0x10D, 0x6, 0x4 }, { reports[2].bugcheck, reports[2].p1, reports[2].p2 })
    assert.matches("WdfRequestForwardToIoQueue", reports[1].message)
  end)

  it("refuses a queue call its state does not allow (0x10D/0xA): a second StopComplete", function()
    m:close()
    m = support.machine { ram = "1G", verifier = "record" }
    local driver, rec = new_driver { cancelable = true }
    local device = m:wdf_add_device(driver, new_hw(m))
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) })
    local calls = {}
    local function done(_, ctx) calls[#calls + 1] = ctx end
    WdfIoQueueStop(rec.queue, done, "first")                        -- waits: the driver holds the read
    WdfIoQueueStop(rec.queue, done, "second")
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.same({ 0x10D, 0xA, STATUS_INVALID_DEVICE_REQUEST }, { r[1].bugcheck, r[1].p1, r[1].p3 })
    assert.matches("WdfIoQueueStop: WDFQUEUE#%d+ already has a StopComplete", r[1].message)
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, WdfIoQueueReadyNotify(rec.manual, nil))  -- none there
    assert.are.equal(2, #m:reports())
    assert.are.equal(STATUS_SUCCESS, WdfRequestUnmarkCancelable(rec.held))
    WdfRequestComplete(rec.held, STATUS_SUCCESS)
    assert.are.same({ "first" }, calls)                              -- the first one kept
  end)

  it("refuses a request call its state does not allow (0x10D/0x6): IsCanceled while cancelable", function()
    m:close()
    m = support.machine { ram = "1G", verifier = "record" }
    local driver, rec = new_driver { cancelable = true }
    local device = m:wdf_add_device(driver, new_hw(m))
    IoCallDriver(WdfDeviceWdmGetDeviceObject(device), m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) })
    assert.is_false(WdfRequestIsCanceled(rec.held))
    local r = m:reports()
    assert.are.equal(1, #r)
    assert.are.same({ 0x10D, 0x6, 0 }, { r[1].bugcheck, r[1].p1, r[1].p2 })
    assert.matches("WdfRequestIsCanceled: WDFREQUEST#%d+ is marked cancelable", r[1].message)
    assert.are.equal(STATUS_SUCCESS, WdfRequestUnmarkCancelable(rec.held))
    assert.is_false(WdfRequestIsCanceled(rec.held))                 -- unmarked: allowed
    WdfRequestComplete(rec.held, STATUS_SUCCESS)
    assert.are.equal(1, #m:reports())
  end)

  it("finds parked requests without taking them (referenced) and retrieves the one it wants", function()
    m:close()
    m = support.machine { ram = "1G", verifier = "record" }
    local driver, rec = new_driver()
    local device = m:wdf_add_device(driver, new_hw(m))
    local fdo = WdfDeviceWdmGetDeviceObject(device)
    local small, big = m:irp { major = IRP_MJ_READ, buffer = m:buffer(8) },
                       m:irp { major = IRP_MJ_READ, buffer = m:buffer(32) }
    IoCallDriver(fdo, small)
    IoCallDriver(fdo, big)
    local params = {}
    local status, first = WdfIoQueueFindRequest(rec.manual, nil, nil, params)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.same({ 8, WdfRequestTypeRead }, { params.Parameters.Read.Length, params.Type })
    local st2, second = WdfIoQueueFindRequest(rec.manual, first, nil, params)
    WdfObjectDereference(first)
    assert.are.same({ STATUS_SUCCESS, 32 }, { st2, params.Parameters.Read.Length })
    assert.are.equal(STATUS_NO_MORE_ENTRIES, select(1, WdfIoQueueFindRequest(rec.manual, second, nil, nil)))
    assert.are.equal(2, rec.manual:stats().waiting)                      -- found, not taken
    local st3, taken = WdfIoQueueRetrieveFoundRequest(rec.manual, second)
    WdfObjectDereference(second)
    assert.are.same({ STATUS_SUCCESS, second }, { st3, taken })
    assert.are.equal(STATUS_NOT_FOUND, select(1, WdfIoQueueRetrieveFoundRequest(rec.manual, second)))
    WdfRequestCompleteWithInformation(taken, STATUS_SUCCESS, 0)
    assert.is_true(big.done and not small.done)
    assert.are.same({}, m:reports())
    local _, r = WdfIoQueueRetrieveNextRequest(rec.manual)
    WdfObjectDereference(r)                                              -- never referenced
    assert.are.same({ 0x10D, 0x7 }, { m:reports()[1].bugcheck, m:reports()[1].p1 })
    WdfRequestComplete(r, STATUS_SUCCESS)
  end)
end)
