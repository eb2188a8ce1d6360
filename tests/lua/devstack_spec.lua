-- A device object's life as AddDevice, RemoveDevice and DriverUnload drive
-- it: IoAttachDeviceToDeviceStack / IoDetachDevice, an IRP passed down a
-- stack (IoSkipCurrentIrpStackLocation, IoCopyCurrentIrpStackLocationToNext,
-- IoSetCompletionRoutine with STATUS_MORE_PROCESSING_REQUIRED), and
-- IoDeleteDevice refused while the device is in use (issue 16: an object in
-- use cannot be freed; nothing is deleted).
local dma = require "dma"
local support = require "support"

local machine = support.machine

-- A driver with one device named name; its read routine is read (or none).
local function driver_with_device(name, read)
  local drv = dma.driver { name = "\\Driver\\" .. name }
  if read then drv.MajorFunction[dma.IRP_MJ_READ] = read end
  local status, dev = dma.IoCreateDevice(drv, 0, "\\Device\\" .. name, dma.FILE_DEVICE_UNKNOWN, 0, false)
  assert(status == dma.STATUS_SUCCESS)
  return drv, dev
end

local function complete(irp, status)
  irp.IoStatus.Status = status or dma.STATUS_SUCCESS
  dma.IoCompleteRequest(irp, dma.IO_NO_INCREMENT)
end

describe("IoAttachDeviceToDeviceStack and IoDetachDevice", function()
  local m
  before_each(function() m = machine { seed = 3 } end)
  after_each(function() m:close() end)

  it("attaches to the top of the stack and counts StackSize", function()
    local _, pdo = driver_with_device("bus")
    local _, fdo = driver_with_device("fn")
    local _, filter = driver_with_device("filt")
    assert.are.equal(1, pdo.StackSize)
    assert.are.equal(pdo, dma.IoAttachDeviceToDeviceStack(fdo, pdo))
    assert.are.equal(2, fdo.StackSize)
    assert.are.equal(fdo, pdo.AttachedDevice)
    assert.are.equal(fdo, dma.IoAttachDeviceToDeviceStack(filter, pdo))  -- the top, not pdo
    assert.are.equal(3, filter.StackSize)
    assert.are.equal(filter, dma.IoGetAttachedDeviceReference(pdo))
    dma.ObDereferenceObject(filter)
    assert.has_error(function() dma.IoAttachDeviceToDeviceStack(filter, pdo) end,
      "bad argument #1 to 'IoAttachDeviceToDeviceStack' (SourceDevice is already in a device " ..
      "stack (IoDetachDevice first))")
  end)

  it("IoAttachDevice finds the target by name", function()
    local _, pdo = driver_with_device("bus")
    local _, fdo = driver_with_device("fn")
    dma.IoCreateSymbolicLink("\\DosDevices\\Bus", "\\Device\\bus")
    assert.are.same({ dma.STATUS_OBJECT_NAME_NOT_FOUND }, { dma.IoAttachDevice(fdo, "\\Device\\none") })
    local name = {}
    dma.RtlInitUnicodeString(name, "\\DosDevices\\Bus")
    assert.are.same({ dma.STATUS_SUCCESS, pdo }, { dma.IoAttachDevice(fdo, name) })
    assert.are.equal(2, fdo.StackSize)
  end)

  it("reports a detach with nothing attached (0xC9, P1 0x202) and a dereference too many (0x18)",
    function()
      local _, pdo = driver_with_device("bus")
      local _, fdo = driver_with_device("fn")
      dma.IoAttachDeviceToDeviceStack(fdo, pdo)
      dma.IoDetachDevice(pdo)
      assert.is_nil(pdo.AttachedDevice)
      assert.has_error(function() dma.IoDetachDevice(pdo) end, "IoDetachDevice: nothing is attached to " ..
        "DEVICE_OBJECT#" .. pdo.id .. " (detached twice, or never attached)")
      assert.has_error(function() dma.ObDereferenceObject(fdo) end, "ObDereferenceObject: " ..
        "DEVICE_OBJECT#" .. fdo.id .. " has no reference left to release (REFERENCE_BY_POINTER)")
      local reports = m:reports()
      assert.are.same({ 0xC9, 0x202 }, { reports[1].bugcheck, reports[1].p1 })
      assert.are.equal(0x18, reports[2].bugcheck)
    end)
end)

describe("IoCallDriver down a device stack", function()
  local m
  before_each(function() m = machine { seed = 4 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  -- A lower driver that keeps reads pending (held[#held+1]) and a filter
  -- over it whose read routine is filter_read(lower, irp).
  local function stack(filter_read)
    local held = {}
    local _, lower = driver_with_device("lower", function(_, irp)
      dma.IoMarkIrpPending(irp)
      held[#held + 1] = irp
      return dma.STATUS_PENDING
    end)
    local fdrv, filter = driver_with_device("filter")
    assert.are.equal(lower, dma.IoAttachDeviceToDeviceStack(filter, lower))
    fdrv.MajorFunction[dma.IRP_MJ_READ] = function(_, irp) return filter_read(lower, irp) end
    return filter, lower, held
  end

  it("runs a completion routine on the way up; MORE_PROCESSING_REQUIRED keeps the IRP", function()
    local seen = {}
    local filter, lower, held = stack(function(next_dev, irp)
      dma.IoCopyCurrentIrpStackLocationToNext(irp)
      dma.IoSetCompletionRoutine(irp, function(dev, i, ctx)
        seen[#seen + 1] = { dev = dev, pending = i.PendingReturned, ctx = ctx }
        return dma.STATUS_MORE_PROCESSING_REQUIRED
      end, "ctx", true, true, true)
      return dma.IoCallDriver(next_dev, irp)
    end)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(filter, irp))
    assert.are.equal(held[1], irp)
    complete(irp)  -- the lower driver completes
    assert.are.same({ { dev = filter, pending = true, ctx = "ctx" } }, seen)
    assert.is_false(irp.done)  -- back with the filter
    assert.has_error(function() dma.IoDeleteDevice(lower) end)  -- still attached
    complete(irp)  -- the filter completes it again
    assert.is_true(irp.done)
    assert.are.equal(1, #seen)
    assert.are.equal(1, #m:reports())  -- the delete refused above (0xC9/0x201), nothing else
    assert.are.equal(0x201, m:reports()[1].p1)
  end)

  it("IoSetCompletionRoutineEx sets the routine and returns STATUS_SUCCESS", function()
    local ran
    local filter, _, held
    filter, _, held = stack(function(next_dev, irp)
      dma.IoCopyCurrentIrpStackLocationToNext(irp)
      assert.are.equal(dma.STATUS_SUCCESS, dma.IoSetCompletionRoutineEx(filter, irp, function(dev, i, ctx)
        ran = { dev, ctx }
        if i.PendingReturned then dma.IoMarkIrpPending(i) end  -- the WDK's rule (else 0xC9/0x228)
        return dma.STATUS_SUCCESS
      end, 7, true, false, false))
      return dma.IoCallDriver(next_dev, irp)
    end)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    dma.IoCallDriver(filter, irp)
    complete(held[1])
    assert.are.same({ filter, 7 }, ran)
    assert.has_error(function() dma.IoSetCompletionRoutineEx(filter, irp, nil, nil, true, true, true) end,
      "bad argument #2 to 'IoSetCompletionRoutineEx' (IRP was already completed)")
  end)

  it("passes an IRP on with a skip, and reports one sent without a copy (0xC9, P1 0x212)", function()
    local skip = true
    local where = {}
    local filter, lower, held = stack(function(next_dev, irp)
      where[#where + 1] = dma.IoGetCurrentIrpStackLocation(irp).DeviceObject
      if skip then dma.IoSkipCurrentIrpStackLocation(irp) end
      local status = dma.IoCallDriver(next_dev, irp)
      where[#where + 1] = dma.IoGetCurrentIrpStackLocation(irp).DeviceObject
      return status
    end)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(filter, irp))
    assert.are.same({ filter, lower }, where)  -- the lower driver has it now
    complete(held[1])
    assert.is_true(irp.done)
    assert.is_true(irp.PendingReturned)
    skip = false
    local two = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.has_error(function() dma.IoCallDriver(filter, two) end, "IoCallDriver: IRP#" .. two.id ..
      " passed down to DEVICE_OBJECT#" .. lower.id ..
      " without IoCopyCurrentIrpStackLocationToNext or IoSkipCurrentIrpStackLocation")
  end)

  it("refuses the stack calls where the IRP has no location below", function()
    local _, dev = driver_with_device("solo", function(_, irp)
      dma.IoMarkIrpPending(irp)
      return dma.STATUS_PENDING
    end)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.has_error(function() dma.IoCopyCurrentIrpStackLocationToNext(irp) end,
      "bad argument #1 to 'IoCopyCurrentIrpStackLocationToNext' (IRP was never sent to a driver " ..
      "(IoCallDriver))")
    dma.IoCallDriver(dev, irp)
    assert.has_error(function() dma.IoSetCompletionRoutine(irp, function() end, nil, true, true, true) end,
      "bad argument #1 to 'IoSetCompletionRoutine' (IoSetCompletionRoutine: IRP#" .. irp.id ..
      " has no stack location below the current one (the lowest driver of its stack has it))")
    assert.has_error(function() dma.IoCallDriver(dev, irp) end,
      "bad argument #2 to 'IoCallDriver' (IRP was already sent (to DEVICE_OBJECT#" .. dev.id .. "))")
    complete(irp)
  end)
end)

describe("IoDeleteDevice", function()
  local m
  before_each(function() m = machine { seed = 5 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  it("takes the device out of its driver and the name space; a deleted device is refused", function()
    local drv, dev = driver_with_device("gone")
    dma.IoDeleteDevice(dev)
    assert.is_true(dev.deleted)
    assert.is_nil(dev.DriverObject)
    assert.matches("(deleted)", tostring(dev), 1, true)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.has_error(function() dma.IoCallDriver(dev, irp) end,
      "bad argument #1 to 'IoCallDriver' (DEVICE_OBJECT#" .. dev.id .. " was deleted (IoDeleteDevice))")
    assert.has_error(function() dma.IoDeleteDevice(dev) end,
      "bad argument #1 to 'IoDeleteDevice' (DEVICE_OBJECT#" .. dev.id .. " was deleted already)")
    local status, again = dma.IoCreateDevice(drv, 0, "\\Device\\gone", dma.FILE_DEVICE_UNKNOWN, 0, false)
    assert.are.equal(dma.STATUS_SUCCESS, status)  -- the name is free again
    assert.are_not.equal(dev, again)
  end)

  it("refuses a device still in a stack (0xC9, P1 0x201): nothing is deleted", function()
    local _, pdo = driver_with_device("bus")
    local _, fdo = driver_with_device("fn")
    dma.IoAttachDeviceToDeviceStack(fdo, pdo)
    assert.has_error(function() dma.IoDeleteDevice(fdo) end, "IoDeleteDevice: DEVICE_OBJECT#" .. fdo.id ..
      " is still attached to DEVICE_OBJECT#" .. pdo.id .. " (IoDetachDevice first); nothing was deleted")
    assert.is_false(fdo.deleted)
    assert.are.same({ 0xC9, 0x201 }, { m:reports()[1].bugcheck, m:reports()[1].p1 })
    dma.IoDetachDevice(pdo)
    dma.IoDeleteDevice(fdo)
    dma.IoDeleteDevice(pdo)
  end)

  it("refuses a device whose IRP is being processed, or in its device queue", function()
    local drv, dev = driver_with_device("busy", function(d, irp)
      dma.IoMarkIrpPending(irp)
      dma.IoStartPacket(d, irp, nil, nil)
      return dma.STATUS_PENDING
    end)
    drv.DriverStartIo = function() end
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    dma.IoCallDriver(dev, irp)
    assert.has_error(function() dma.IoDeleteDevice(dev) end, "bad argument #1 to 'IoDeleteDevice' " ..
      "(IoDeleteDevice: DEVICE_OBJECT#" .. dev.id .. " still has IRPs in its device queue (CurrentIrp, " ..
      "or waiting for StartIo): complete them first; nothing was deleted)")
    assert.are.same({}, m:reports())
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    complete(irp)
    dma.IoStartNextPacket(dev, false)
    dma.KeLowerIrql(old)
    dma.IoDeleteDevice(dev)
    assert.is_true(dev.deleted)
  end)

  it("refuses a device whose DpcForIsr is queued (0xC7, P1 1)", function()
    local hw = m:device_model { vector = 40, irql = 6 }
    local _, dev = driver_with_device("dpc")
    dma.IoInitializeDpcRequest(dev, function() end)
    dma.IoConnectInterrupt(function()
      hw:clear_interrupt()
      dma.IoRequestDpc(dev, nil, nil)
      return true
    end, nil, nil, 40, 6, 6, dma.LevelSensitive, false, 1, false)
    hw:raise_interrupt()
    m:run_until(m.now + 1500)  -- the ISR ran; the DPC waits its dispatch latency
    local ok, err = pcall(dma.IoDeleteDevice, dev)
    assert.is_false(ok)
    assert.matches("the DpcForIsr %(KDPC#%d+%) of DEVICE_OBJECT#" .. dev.id .. " is still queued", err)
    assert.is_false(dev.deleted)
    assert.are.same({ 0xC7, 1 }, { m:reports()[1].bugcheck, m:reports()[1].p1 })
    m:run()
    dma.IoDeleteDevice(dev)
    assert.is_true(dev.deleted)
    assert.has_error(function() dma.IoDeleteDevice(hw.device) end, "bad argument #1 to 'IoDeleteDevice' " ..
      "(IoDeleteDevice: DEVICE_OBJECT#" .. hw.device.id .. " is still in use by device model#" ..
      hw.device.id .. ": it is the hardware's PDO, which its bus driver (the lab) owns; nothing was " ..
      "deleted)")
  end)

  it("refuses the FDO of a framework device: the framework deletes it", function()
    local hw = m:device_model { name = "kdev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local device = support.wdf_device(m, hw, "kdev")
    local fdo = dma.WdfDeviceWdmGetDeviceObject(device)
    local ok, err = pcall(dma.IoDeleteDevice, fdo)
    assert.is_false(ok)
    assert.matches("is still in use by WDFDEVICE#%d+: it is the framework device's FDO or PDO", err)
    assert.is_false(fdo.deleted)
  end)

  it("refuses a device whose channel request waits on an adapter (issue 16 class 2)", function()
    local a, nmr, one = support.packet(m, "one")
    local two = m:device { name = "two" }
    local granted = 0
    local function control()
      granted = granted + 1
      return dma.KeepObject
    end
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a.DmaOperations.AllocateAdapterChannel(a, one, nmr, control)
    a.DmaOperations.AllocateAdapterChannel(a, two, nmr, control)  -- waits for the channel
    dma.KeLowerIrql(old)
    assert.are.equal(1, granted)
    assert.has_error(function() dma.IoDeleteDevice(two) end, "bad argument #1 to 'IoDeleteDevice' " ..
      "(IoDeleteDevice: DEVICE_OBJECT#" .. two.id .. " is still in use by DMA_ADAPTER#" .. a.id ..
      ": a channel request (AllocateAdapterChannel, GetScatterGatherList) waits for it or holds the " ..
      "adapter channel (FreeAdapterChannel first); nothing was deleted)")
    assert.is_false(two.deleted)
    old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:FreeAdapterChannel()
    assert.are.equal(2, granted)
    a:FreeAdapterChannel()
    dma.KeLowerIrql(old)
    dma.IoDeleteDevice(two)
    dma.IoDeleteDevice(one)
    assert.are.same({}, m:reports())
  end)
end)

describe("issue 16 reproducers that concern devices", function()
  local m1, m2
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m1:close()
    m2:close()
  end)

  it("refuses a device of another machine for a channel, a stack or a deletion's holder", function()
    m1, m2 = machine { seed = 1 }, machine { seed = 2 }
    local dev1 = m1:device { name = "d1" }
    local a, nmr = support.packet(m2, "d2")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.DmaOperations.AllocateAdapterChannel, a, dev1, nmr, function()
      return dma.KeepObject
    end)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.is_false(ok)
    assert.matches("DEVICE_OBJECT of machine#%d+, the call is on machine#%d+: objects of two machines " ..
      "cannot be mixed", err)
    ok, err = pcall(dma.IoAttachDeviceToDeviceStack, dev1, m2:device { name = "x" })
    assert.is_false(ok)
    assert.matches("objects of two machines cannot be mixed", err)
    dma.IoDeleteDevice(dev1)  -- nothing of machine 2 waits for it
    m1:close()
    m1 = machine { seed = 3 }
    assert.are.same({}, m2:reports())
  end)
end)

describe("a hostile completion routine", function()
  it("completes the IRP again, frees its handle, deletes devices, closes the machine: no crash", function()
    local m = machine { verifier = "record" }
    local ldrv = dma.driver { name = "\\Driver\\l" }
    ldrv.MajorFunction[dma.IRP_MJ_READ] = function(_, irp)
      dma.IoMarkIrpPending(irp)
      return dma.STATUS_PENDING
    end
    local _, lower = dma.IoCreateDevice(ldrv, 0, nil)
    local fdrv = dma.driver { name = "\\Driver\\f" }
    local _, filter = dma.IoCreateDevice(fdrv, 0, nil)
    dma.IoAttachDeviceToDeviceStack(filter, lower)
    local seen = {}
    fdrv.MajorFunction[dma.IRP_MJ_READ] = function(_, irp)
      dma.IoCopyCurrentIrpStackLocationToNext(irp)
      dma.IoSetCompletionRoutine(irp, function(dev, i)
        seen[#seen + 1] = pcall(dma.IoCompleteRequest, i, 0)
        seen[#seen + 1] = pcall(getmetatable(i).__close, i)
        seen[#seen + 1] = pcall(getmetatable(i).__gc, i)
        collectgarbage()
        seen[#seen + 1] = pcall(dma.IoDeleteDevice, dev)
        seen[#seen + 1] = pcall(m.close, m)
        return "not a status"
      end, nil, true, true, true)
      return dma.IoCallDriver(lower, irp)
    end
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(16) }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(filter, irp))
    irp.IoStatus.Status = dma.STATUS_SUCCESS
    assert.has_error(function() dma.IoCompleteRequest(irp, 0) end,
      "IoCompleteRequest: the completion routine returned string, not an NTSTATUS")
    assert.are.same({ true, true, true, true, false }, seen)
    assert.is_true(irp.done)
    assert.is_false(filter.deleted)  -- 0xC9/0x201 recorded: still attached
    local codes = {}
    for _, r in ipairs(m:reports()) do codes[#codes + 1] = r.bugcheck end
    assert.are.same({ 0xC9, 0xC9, 0x44 }, codes)
    m:close()
  end)
end)
