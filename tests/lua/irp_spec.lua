-- The minimal IRP layer: DRIVER_OBJECT and IoCreateDevice, requests built by
-- the scenario (m:irp, direct I/O with an MDL the lab makes and frees),
-- IoCallDriver, the device queue (IoStartPacket / StartIo /
-- IoStartNextPacket), IoCompleteRequest, statistics and trace.
local dma = require "dma"
local support = require "support"

local PAGE = 4096

local machine = support.machine

-- A packet-based driver: its read and write dispatch routines queue every
-- request for StartIo; StartIo calls start(dev, irp) (default: records it).
-- Returns the DRIVER_OBJECT, its device and the StartIo log.
local function packet_driver(start)
  local log = {}
  local drv = dma.driver {
    name = "\\Driver\\pkt",
    DriverStartIo = function(dev, irp)
      log[#log + 1] = { id = irp.id, irql = dma.KeGetCurrentIrql(), current = dev.CurrentIrp.id }
      if start then start(dev, irp) end
    end,
  }
  local function queue(dev, irp)
    dma.IoMarkIrpPending(irp)
    dma.IoStartPacket(dev, irp, nil, nil)
    return dma.STATUS_PENDING
  end
  drv.MajorFunction[dma.IRP_MJ_READ] = queue
  drv.MajorFunction[dma.IRP_MJ_WRITE] = queue
  local status, dev = dma.IoCreateDevice(drv, 0, "\\Device\\pkt0", dma.FILE_DEVICE_UNKNOWN, 0, false)
  assert(status == dma.STATUS_SUCCESS)
  return drv, dev, log
end

-- Completes the device's current IRP with `status` and `information`, then
-- starts the next, at DISPATCH_LEVEL (as a DpcForIsr would).
local function finish_current(dev, status, information)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local irp = dev.CurrentIrp
  irp.IoStatus.Status = status
  irp.IoStatus.Information = information
  dma.IoCompleteRequest(irp, dma.IO_NO_INCREMENT)
  dma.IoStartNextPacket(dev, false)
  dma.KeLowerIrql(old)
  return irp
end

-- Completes irp at once with status and the IRP's length as information.
local function complete_now(irp, status)
  irp.IoStatus.Status = status or dma.STATUS_SUCCESS
  irp.IoStatus.Information = irp.length
  dma.IoCompleteRequest(irp, dma.IO_NO_INCREMENT)
end

describe("IoStartPacket and StartIo", function()
  local m
  before_each(function() m = machine { seed = 11 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  it("serialise three requests: the first now at DISPATCH_LEVEL, the rest FIFO on IoStartNextPacket",
    function()
      local _, dev, log = packet_driver()
      local b = m:buffer(3 * PAGE)
      local irps = {}
      for i = 1, 3 do
        irps[i] = m:irp { major = dma.IRP_MJ_READ, buffer = b, offset = (i - 1) * PAGE, length = PAGE }
        assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(dev, irps[i]))
      end
      assert.are.equal(1, #log)  -- the others wait in the device queue
      assert.are.equal(irps[1].id, log[1].id)
      assert.are.equal(dma.DISPATCH_LEVEL, log[1].irql)
      assert.are.equal(irps[1].id, log[1].current)
      assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())  -- restored after StartIo
      assert.are.equal(irps[1], dev.CurrentIrp)
      assert.are.equal(irps[1], finish_current(dev, dma.STATUS_SUCCESS, PAGE))
      assert.are.equal(2, #log)
      assert.are.equal(irps[2].id, log[2].id)
      assert.are.equal(dma.DISPATCH_LEVEL, log[2].irql)
      assert.are.equal(irps[2], dev.CurrentIrp)
      finish_current(dev, dma.STATUS_SUCCESS, PAGE)
      assert.are.same({ irps[1].id, irps[2].id, irps[3].id }, { log[1].id, log[2].id, log[3].id })
      assert.are.equal(irps[3], dev.CurrentIrp)
      finish_current(dev, dma.STATUS_SUCCESS, PAGE)
      assert.is_nil(dev.CurrentIrp)  -- the queue is empty: the device is idle
      assert.are.equal(3, #log)
      for i = 1, 3 do assert.is_true(irps[i].done) end
    end)

  it("queue by Key after the entries whose key is not greater", function()
    local order = {}
    local drv, dev = packet_driver(function(_, irp) order[#order + 1] = irp.device_offset end)
    drv.MajorFunction[dma.IRP_MJ_READ] = function(d, irp)
      dma.IoMarkIrpPending(irp)
      dma.IoStartPacket(d, irp, irp.device_offset // 512, nil)
      return dma.STATUS_PENDING
    end
    local b = m:buffer(512)
    for _, sector in ipairs { 9, 7, 3, 7, 5 } do
      dma.IoCallDriver(dev, m:irp { major = dma.IRP_MJ_READ, buffer = b, device_offset = sector * 512 })
    end
    for _ = 1, 5 do finish_current(dev, dma.STATUS_SUCCESS, 512) end
    assert.are.same({ 9 * 512, 3 * 512, 5 * 512, 7 * 512, 7 * 512 }, order)
  end)

  it("check their IRQL, the StartIo routine and the request's device", function()
    local _, dev = packet_driver()
    assert.has_error(function() dma.IoStartNextPacket(dev, false) end,
      "IoStartNextPacket: called at IRQL 0; it must be called at IRQL 2")
    local nostart = dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = function(d, irp)
      dma.IoMarkIrpPending(irp)
      dma.IoStartPacket(d, irp, nil, nil)
      return dma.STATUS_PENDING
    end } }
    local _, dev2 = dma.IoCreateDevice(nostart, 0, nil, dma.FILE_DEVICE_UNKNOWN, 0, false)
    local b = m:buffer(100)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    assert.has_error(function() dma.IoCallDriver(dev2, irp) end,
      ("IoStartPacket: the driver of DEVICE_OBJECT#%d device%d has no DriverStartIo")
        :format(dev2.id, dev2.id))
    local unsent = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    assert.has_error(function() dma.IoStartPacket(dev, unsent, nil, nil) end,
      "bad argument #2 to 'IoStartPacket' (IRP was never sent to a driver (IoCallDriver))")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    dma.IoStartNextPacket(dev, false)  -- at DISPATCH_LEVEL with nothing queued: stays idle
    assert.is_nil(dev.CurrentIrp)
  end)

  it("raise an error in StartIo out of the call that ran it, with the IRQL restored", function()
    local _, dev = packet_driver(function() error("StartIo failed") end)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.error_matches(function() dma.IoCallDriver(dev, irp) end, "StartIo failed")
    assert.are.equal(dma.PASSIVE_LEVEL, dma.KeGetCurrentIrql())
    assert.are.equal(irp, dev.CurrentIrp)  -- StartIo had it when it failed
  end)

  it("pass the same IRP handle to StartIo after the scenario dropped its own", function()
    local seen = {}
    local _, dev = packet_driver(function(_, irp) seen[#seen + 1] = tostring(irp) end)
    local b = m:buffer(PAGE)
    local done = {}
    for i = 1, 2 do
      dma.IoCallDriver(dev, m:irp { major = dma.IRP_MJ_WRITE, buffer = b,
        completion = function(irp) done[i] = irp.IoStatus.Information end })
    end
    collectgarbage()
    collectgarbage()
    finish_current(dev, dma.STATUS_SUCCESS, 1)
    collectgarbage()
    finish_current(dev, dma.STATUS_SUCCESS, 2)
    collectgarbage()
    assert.are.same({ 1, 2 }, done)
    assert.are.equal(2, #seen)
    assert.matches("^IRP#%d+ IRP_MJ_WRITE length=4096 ", seen[2])
    b:free()  -- both MDLs are gone
  end)

  it("keep an IRP while the driver may use it, and let it go once completed and not current", function()
    local _, dev = packet_driver()
    local b = m:buffer(64)
    local weak = setmetatable({}, { __mode = "v" })
    for i = 1, 3 do
      weak[i] = m:irp { major = dma.IRP_MJ_READ, buffer = b }
      dma.IoCallDriver(dev, weak[i])
    end
    weak[4] = m:irp { major = dma.IRP_MJ_READ, buffer = b }  -- never sent
    collectgarbage()
    collectgarbage()
    assert.is_not_nil(weak[1] and weak[2] and weak[3] and weak[4])
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    complete_now(dev.CurrentIrp)  -- completed, but still CurrentIrp
    collectgarbage()
    collectgarbage()
    assert.is_not_nil(weak[1])
    dma.IoStartNextPacket(dev, false)
    dma.KeLowerIrql(old)
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    assert.are.equal(weak[2], dev.CurrentIrp)
    assert.is_not_nil(weak[3])
  end)

  it("leave nothing behind once completed and collected: the Lua heap stays flat", function()
    local drv = dma.driver {  -- completes each request in StartIo and keeps no log
      name = "\\Driver\\flat",
      DriverStartIo = function(dev) finish_current(dev, dma.STATUS_SUCCESS, 64) end,
    }
    drv.MajorFunction[dma.IRP_MJ_READ] = function(dev, irp)
      dma.IoMarkIrpPending(irp)
      dma.IoStartPacket(dev, irp, nil, nil)
      return dma.STATUS_PENDING
    end
    local _, dev = dma.IoCreateDevice(drv, 0, "\\Device\\flat0", dma.FILE_DEVICE_UNKNOWN, 0, false)
    local b = m:buffer(64)
    local function run(n)
      for _ = 1, n do dma.IoCallDriver(dev, m:irp { major = dma.IRP_MJ_READ, buffer = b }) end
      collectgarbage()
      collectgarbage()
      return collectgarbage("count")
    end
    run(2000)
    local first = run(20000)  -- the tables' high-water marks reached
    -- each collected IRP handle gives its machine's pin-table key back (it
    -- used to keep one per IRP: ~17 bytes a request, 340 KiB a window). A
    -- leak grows the heap in every window; a table of the interpreter's own
    -- (its string table) may still double once, so the smaller growth of
    -- two windows is the measure
    local second = run(20000)
    local grew = math.min(second - first, run(20000) - second)
    assert.is_true(grew < 64, "the Lua heap grew by " .. grew .. " KiB")
  end)
end)

describe("IoCompleteRequest", function()
  local m
  before_each(function() m = machine { seed = 12 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  it("sets status and information, calls completion with the IRP and frees the MDL", function()
    local _, dev = packet_driver()
    local b = m:buffer(2 * PAGE, { offset = 0x40 })
    local got
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = b, completion = function(i)
      got = { irp = i, status = i.IoStatus.Status, info = i.IoStatus.Information,
              mdl = i.MdlAddress, irql = dma.KeGetCurrentIrql() }
    end }
    local mdl = irp.MdlAddress
    dma.IoCallDriver(dev, irp)
    assert.has_error(function() b:free() end)  -- locked by the request's MDL
    assert.is_false(irp.done)
    finish_current(dev, dma.STATUS_SUCCESS, 1234)
    assert.are.equal(irp, got.irp)
    assert.are.equal(dma.STATUS_SUCCESS, got.status)
    assert.are.equal(1234, got.info)
    assert.is_nil(got.mdl)
    assert.are.equal(dma.DISPATCH_LEVEL, got.irql)  -- a completion routine runs at the caller's IRQL
    assert.is_true(irp.done)
    assert.is_true(irp.PendingReturned)
    assert.is_nil(irp.MdlAddress)
    assert.are.equal("MDL (freed)", tostring(mdl))
    b:free()
  end)

  it("raises when completing twice, naming the call", function()
    local _, dev = packet_driver()
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    dma.IoCallDriver(dev, irp)
    finish_current(dev, dma.STATUS_SUCCESS, 64)
    assert.has_error(function() dma.IoCompleteRequest(irp, dma.IO_NO_INCREMENT) end,
      "IoCompleteRequest: MULTIPLE_IRP_COMPLETE_REQUESTS (0x44): IRP#" .. irp.id ..
      " was already completed")
    assert.has_error(function() irp.IoStatus.Status = dma.STATUS_UNSUCCESSFUL end,
      "IoStatus.Status: IRP#" .. irp.id .. " was already completed")
    assert.are.equal(1, m:run_stats().requests)
  end)

  it("reports passing a queued IRP down its stack (0xC9, P1 0x205) and leaves it queued", function()
    local _, fdo = packet_driver()
    local pdo_drv = dma.driver { name = "\\Driver\\bus" }
    local _, pdo = dma.IoCreateDevice(pdo_drv, 0, "\\Device\\bus0", dma.FILE_DEVICE_UNKNOWN, 0, false)
    assert.are.equal(pdo, dma.IoAttachDeviceToDeviceStack(fdo, pdo))
    local b = m:buffer(64)
    local first = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    local second = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    dma.IoCallDriver(fdo, first)
    dma.IoCallDriver(fdo, second)  -- waits in fdo's queue behind first
    assert.has_error(function() dma.IoCopyCurrentIrpStackLocationToNext(second) end,
      "bad argument #1 to 'IoCopyCurrentIrpStackLocationToNext' (IRP is in a device queue waiting " ..
      "for StartIo: its stack locations are StartIo's)")
    assert.has_error(function() dma.IoCallDriver(pdo, second) end,
      "IoCallDriver: IRP#" .. second.id .. " is in a device queue waiting for StartIo: it cannot be " ..
      "passed down")
    local r = m:reports()
    assert.are.same({ 0xC9, 0x205, second.id }, { r[#r].bugcheck, r[#r].p1, r[#r].p2 })
    assert.matches(" queued ", tostring(second))  -- nothing done: still in the queue
    finish_current(fdo, dma.STATUS_SUCCESS, 64)  -- first done; second goes to StartIo
    assert.matches(" in StartIo ", tostring(second))
  end)

  it("reports completing with a cancel routine set (0xC9, P1 0x07): completion goes on", function()
    local drv = dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = function(_, irp)
      dma.IoMarkIrpPending(irp)
      dma.IoSetCancelRoutine(irp, function() end)
      return dma.STATUS_PENDING
    end } }
    local _, dev = dma.IoCreateDevice(drv, 0, "\\Device\\c0", dma.FILE_DEVICE_UNKNOWN, 0, false)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(64) }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(dev, irp))
    assert.has_error(function() complete_now(irp) end, "IoCompleteRequest: IRP#" .. irp.id ..
      " still has a cancel routine (IoSetCancelRoutine(Irp, NULL) before completing it)")
    local r = m:reports()
    assert.are.same({ 0xC9, 0x07, irp.id }, { r[#r].bugcheck, r[#r].p1, r[#r].p3 })
    assert.is_true(irp.done)
    assert.is_false(dma.IoCancelIrp(irp))  -- a completed IRP is never cancelled
    assert.has_error(function() dma.IoSetCancelRoutine(irp, nil) end,
      "bad argument #1 to 'IoSetCancelRoutine' (IRP was already completed)")
  end)

  it("refuses a queued IRP and an unsent IRP, and reports STATUS_PENDING as final status "
     .. "(0xC9, P1 0x06)", function()
    local _, dev = packet_driver()
    local b = m:buffer(64)
    local first = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    local second = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    dma.IoCallDriver(dev, first)
    dma.IoCallDriver(dev, second)
    assert.has_error(function() dma.IoCompleteRequest(second, 0) end,
      "bad argument #1 to 'IoCompleteRequest' (IRP is still in its device queue, waiting for StartIo)")
    first.IoStatus.Status = dma.STATUS_PENDING
    assert.has_error(function() dma.IoCompleteRequest(first, 0) end, "IoCompleteRequest: IRP#"
      .. first.id .. " completed with IoStatus.Status 0x00000103, which is not a final status "
      .. "(set it before completing)")
    local r = m:reports()
    assert.are.same({ 0xC9, 0x06, dma.STATUS_PENDING, first.id },
                    { r[#r].bugcheck, r[#r].p1, r[#r].p2, r[#r].p3 })
    assert.is_false(first.done)
    assert.has_error(function() dma.IoCompleteRequest(m:irp { major = dma.IRP_MJ_READ, buffer = b }, 0) end,
      "bad argument #1 to 'IoCompleteRequest' (IRP was never sent to a driver (IoCallDriver))")
    dma.KeRaiseIrql(dma.HIGH_LEVEL)
    first.IoStatus.Status = dma.STATUS_SUCCESS
    assert.has_error(function() dma.IoCompleteRequest(first, 0) end,
      "IoCompleteRequest: called at IRQL 15; it must be called at IRQL <= 2")
  end)

  it("raises when the driver freed the I/O manager's MDL", function()
    local _, dev = packet_driver(function(_, irp)
      dma.MmUnlockPages(irp.MdlAddress)
      dma.IoFreeMdl(irp.MdlAddress)
    end)
    local irp = m:irp { major = dma.IRP_MJ_WRITE, buffer = m:buffer(100) }
    dma.IoCallDriver(dev, irp)
    irp.IoStatus.Status = dma.STATUS_SUCCESS
    assert.has_error(function() dma.IoCompleteRequest(irp, 0) end,
      "IoCompleteRequest: the driver freed Irp.MdlAddress of IRP#" .. irp.id ..
      "; the I/O manager owns it and frees it at completion")
    dma.IoCompleteRequest(irp, 0)  -- nothing left to free: completes
    assert.is_true(irp.done)
  end)

  it("refuses while a scatter/gather request waiting for map registers still needs the MDL", function()
    m:close()
    m = machine { ram = { { "1M", "256K" }, { "4G", "4G" } }, map_registers = 4, seed = 12 }
    local drv = dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = function(_, irp)
      dma.IoMarkIrpPending(irp)
      return dma.STATUS_PENDING
    end } }
    local _, dev = dma.IoCreateDevice(drv, 0, nil, dma.FILE_DEVICE_UNKNOWN, 0, false)
    local a = dma.IoGetDmaAdapter(dev, { Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true,
      ScatterGather = true, Dma32BitAddresses = true, InterfaceType = dma.PCIBus, MaximumLength = 16 * 1024 })
    local b = m:buffer(3 * PAGE)  -- above 4 GiB: each list needs 3 of the 4 map registers
    local irps, lists = {}, {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    for i = 1, 2 do
      irps[i] = m:irp { major = dma.IRP_MJ_READ, buffer = b }
      dma.IoCallDriver(dev, irps[i])
      local mdl = irps[i].MdlAddress
      a:GetScatterGatherList(dev, mdl, dma.MmGetMdlVirtualAddress(mdl), dma.MmGetMdlByteCount(mdl),
        function(_, _, sg) lists[i] = sg end, nil, false)
    end
    assert.is_nil(lists[2])  -- waiting for registers
    complete_now(irps[1])  -- its list is built: the MDL may go
    assert.has_error(function() complete_now(irps[2]) end,
      ("IoCompleteRequest: IRP#%d's MDL is still needed by a scatter/gather request waiting on " ..
       "DMA_ADAPTER#%d"):format(irps[2].id, a.id))
    a:PutScatterGatherList(lists[1], false)
    assert.is_not_nil(lists[2])
    a:PutScatterGatherList(lists[2], false)
    complete_now(irps[2])
    assert.is_true(irps[2].done)
    a:PutDmaAdapter()
  end)
end)

describe("IoCallDriver", function()
  local m
  before_each(function() m = machine { seed = 13 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  it("dispatches by major function at the caller's IRQL and returns the routine's status", function()
    local calls = {}
    local function routine(name)
      return function(dev, irp)
        calls[#calls + 1] = { name = name, dev = dev, irp = irp, irql = dma.KeGetCurrentIrql(),
                              stack = dma.IoGetCurrentIrpStackLocation(irp) }
        complete_now(irp)
        return dma.STATUS_SUCCESS
      end
    end
    local drv = dma.driver { name = "\\Driver\\three" }
    drv.MajorFunction[dma.IRP_MJ_READ] = routine("read")  -- as DriverEntry sets them
    drv.MajorFunction[dma.IRP_MJ_WRITE] = routine("write")
    drv.MajorFunction = { [dma.IRP_MJ_READ] = drv.MajorFunction[dma.IRP_MJ_READ],
                          [dma.IRP_MJ_WRITE] = drv.MajorFunction[dma.IRP_MJ_WRITE],
                          [dma.IRP_MJ_DEVICE_CONTROL] = routine("ioctl") }
    local _, dev = dma.IoCreateDevice(drv, 16, "\\Device\\three0", dma.FILE_DEVICE_UNKNOWN, 0, false)
    local b = m:buffer(PAGE)
    local w = m:irp { major = dma.IRP_MJ_WRITE, buffer = b }
    local r = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    local c = m:irp { major = dma.IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = 0x222004 }
    assert.are.equal(dma.STATUS_SUCCESS, dma.IoCallDriver(dev, w))
    assert.are.equal(dma.STATUS_SUCCESS, dma.IoCallDriver(dev, r))
    assert.are.equal(dma.STATUS_SUCCESS, dma.IoCallDriver(dev, c))
    assert.are.same({ "write", "read", "ioctl" }, { calls[1].name, calls[2].name, calls[3].name })
    assert.are.equal(w, calls[1].irp)
    assert.are.equal(dev, calls[2].dev)
    assert.are.equal(dma.PASSIVE_LEVEL, calls[1].irql)
    assert.are.equal(dma.IRP_MJ_DEVICE_CONTROL, calls[3].stack.MajorFunction)
    assert.are.equal(0x222004, calls[3].stack.Parameters.DeviceIoControl.IoControlCode)
    assert.are.equal(PAGE, calls[3].stack.Parameters.DeviceIoControl.OutputBufferLength)
  end)

  it("fails a major function the driver has no routine for with STATUS_INVALID_DEVICE_REQUEST", function()
    local drv = dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = function() error("not me") end } }
    local dev = m:device { name = "bare" }
    dev.DriverObject = drv
    assert.are.equal(drv, dev.DriverObject)
    local completed
    local irp = m:irp { major = dma.IRP_MJ_WRITE, buffer = m:buffer(10),
                        completion = function(i) completed = i.IoStatus.Status end }
    assert.are.equal(dma.STATUS_INVALID_DEVICE_REQUEST, dma.IoCallDriver(dev, irp))
    assert.are.equal(dma.STATUS_INVALID_DEVICE_REQUEST, completed)
    assert.is_true(irp.done)
    assert.are.equal(1, m:run_stats().requests_failed)
  end)

  it("raises for STATUS_PENDING without IoMarkIrpPending, and the other broken returns", function()
    local result
    local drv = dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = function(_, irp) return result(irp) end } }
    local _, dev = dma.IoCreateDevice(drv, 0, nil, dma.FILE_DEVICE_UNKNOWN, 0, false)
    local b = m:buffer(64)
    local function send(fn)
      result = fn
      local irp = m:irp { major = dma.IRP_MJ_READ, buffer = b }
      return irp, function() return dma.IoCallDriver(dev, irp) end
    end
    local irp, call = send(function() return dma.STATUS_PENDING end)
    assert.has_error(call, "IoCallDriver: the IRP_MJ_READ dispatch routine returned STATUS_PENDING " ..
      "for IRP#" .. irp.id .. " without calling IoMarkIrpPending")
    irp, call = send(function(i) dma.IoMarkIrpPending(i); complete_now(i); return dma.STATUS_SUCCESS end)
    assert.has_error(call, ("IoCallDriver: the IRP_MJ_READ dispatch routine called IoMarkIrpPending for " ..
      "IRP#%d but returned 0x00000000, not STATUS_PENDING"):format(irp.id))
    irp, call = send(function() return dma.STATUS_SUCCESS end)
    assert.has_error(call, ("IoCallDriver: the IRP_MJ_READ dispatch routine returned 0x00000000 for " ..
      "IRP#%d without completing it (IoCompleteRequest) or returning STATUS_PENDING"):format(irp.id))
    _, call = send(function() return "ok" end)
    assert.has_error(call, "IoCallDriver: the IRP_MJ_READ dispatch routine returned string, not an NTSTATUS")
    irp, call = send(function(i) dma.IoMarkIrpPending(i); return dma.STATUS_PENDING end)
    assert.are.equal(dma.STATUS_PENDING, call())
    assert.has_error(call, "bad argument #2 to 'IoCallDriver' (IRP was already sent (to DEVICE_OBJECT#" ..
      dev.id .. "))")
    assert.is_false(irp.done)
  end)

  it("needs a device with a DriverObject", function()
    local dev = m:device { name = "orphan" }
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = m:buffer(8) }
    assert.has_error(function() dma.IoCallDriver(dev, irp) end,
      "IoCallDriver: DEVICE_OBJECT#" .. dev.id .. " orphan has no DriverObject " ..
      "(IoCreateDevice, or set DeviceObject.DriverObject)")
  end)
end)

describe("m:irp", function()
  local m
  before_each(function() m = machine { seed = 14, alloc = "scattered" } end)
  after_each(function() m:close() end)

  it("locks [va+offset, +length) with an MDL for the device's access", function()
    local b = m:buffer(5 * PAGE, { offset = 0x123 })
    local r = m:irp { major = dma.IRP_MJ_READ, buffer = b, offset = 0x2000, length = 3 * PAGE }
    local mdl = r.MdlAddress
    assert.are.equal(b.va + 0x2000, dma.MmGetMdlVirtualAddress(mdl))
    assert.are.equal(3 * PAGE, dma.MmGetMdlByteCount(mdl))
    assert.are.equal((b.va + 0x2000) % PAGE, dma.MmGetMdlByteOffset(mdl))
    assert.are.equal(dma.MDL_PAGES_LOCKED | dma.MDL_WRITE_OPERATION, mdl.MdlFlags)  -- a read writes memory
    local all = b:pfns()  -- the range starts 0x123 into the buffer's 3rd page and spans 4
    assert.are.same({ all[3], all[4], all[5], all[6] }, dma.MmGetMdlPfnArray(mdl))
    local w = m:irp { major = dma.IRP_MJ_WRITE, buffer = b, offset = 10 }
    assert.are.equal(b.length - 10, dma.MmGetMdlByteCount(w.MdlAddress))
    assert.are.equal(dma.MDL_PAGES_LOCKED, w.MdlAddress.MdlFlags)   -- a write only reads it
    assert.matches(" locked$", tostring(w.MdlAddress))
    assert.is_nil(m:irp { major = dma.IRP_MJ_READ, buffer = b, offset = b.length }.MdlAddress)  -- 0 bytes
  end)

  it("gives a stack location with the request's parameters, made once", function()
    local b = m:buffer(PAGE)
    local irp = m:irp { major = dma.IRP_MJ_WRITE, buffer = b, offset = 96, length = 1000,
                        device_offset = 7 * 512 }
    local s = dma.IoGetCurrentIrpStackLocation(irp)
    assert.are.equal(s, dma.IoGetCurrentIrpStackLocation(irp))
    assert.are.equal(dma.IRP_MJ_WRITE, s.MajorFunction)
    assert.are.equal(1000, s.Parameters.Write.Length)
    assert.are.equal(7 * 512, s.Parameters.Write.ByteOffset)
    assert.are.equal(s.Parameters.Read, s.Parameters.Write)  -- one union in the WDK
    assert.are.equal(1000, irp.length)
    assert.are.equal(7 * 512, irp.device_offset)
    assert.is_false(irp.Cancel)
    assert.is_false(irp.PendingReturned)
    assert.are.equal(irp.IoStatus, irp.IoStatus)
    assert.are.equal(0, irp.IoStatus.Status)
  end)

  it("rejects bad requests, naming the field", function()
    local b = m:buffer(100)
    assert.has_error(function() m:irp { major = dma.IRP_MJ_READ, buffer = b, lenght = 4 } end,
      "bad argument #1 to 'irp' (a request has no field 'lenght' (major, buffer, offset, length, " ..
      "device_offset, completion, ioctl, input, input_offset, input_length, file, file_name))")
    assert.has_error(function() m:irp { major = dma.IRP_MJ_READ, buffer = b, offset = 50, length = 51 } end,
      "bad argument #1 to 'irp' (range [50, 101) outside the buffer of 100 bytes)")
    assert.has_error(function() m:irp { major = dma.IRP_MJ_WRITE } end,
      "bad argument #1 to 'irp' (a read or write needs a buffer (field 'buffer'))")
    assert.has_error(function() m:irp { major = 99, buffer = b } end,
      "bad argument #1 to 'irp' (major must be IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_CLEANUP, IRP_MJ_READ, "
        .. "IRP_MJ_WRITE, IRP_MJ_DEVICE_CONTROL or IRP_MJ_INTERNAL_DEVICE_CONTROL)")
    assert.has_error(function() m:irp { major = dma.IRP_MJ_READ, buffer = b, ioctl = 1 } end,
      "bad argument #1 to 'irp' (ioctl is for IRP_MJ_DEVICE_CONTROL)")
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = b }
    assert.has_error(function() irp.MdlAddress = nil end,
      "field 'MdlAddress' of IRP is read-only (set Irp.IoStatus.Status and .Information)")
    assert.has_error(function() irp.IoStatus.Information = -1 end,
      "IoStatus.Information must be a non-negative integer")
  end)
end)

describe("drivers and device objects", function()
  local m
  before_each(function() m = machine { seed = 15 } end)
  after_each(function() m:close() end)

  it("keep the WDK's fields: settable routines, a DeviceExtension per device", function()
    local unload = function() end
    local drv = dma.driver { name = "\\Driver\\x", DriverUnload = unload }
    assert.are.equal(unload, drv.DriverUnload)
    assert.are.equal("\\Driver\\x", drv.DriverName)
    assert.are.same({}, drv.MajorFunction)
    local start = function() end
    drv.DriverStartIo = start
    assert.are.equal(start, drv.DriverStartIo)
    local s1, d1 = dma.IoCreateDevice(drv, 64, "\\Device\\x0", dma.FILE_DEVICE_UNKNOWN, 0, false)
    local _, d2 = dma.IoCreateDevice(drv, 64, "\\Device\\x1", dma.FILE_DEVICE_UNKNOWN, 0, false)
    assert.are.equal(dma.STATUS_SUCCESS, s1)
    assert.are.equal("\\Device\\x0", d1.name)
    assert.are.equal(drv, d1.DriverObject)
    d1.DeviceExtension.sectors = 8
    assert.are.equal(8, d1.DeviceExtension.sectors)
    assert.is_nil(d2.DeviceExtension.sectors)
    assert.is_nil(d1.CurrentIrp)
    assert.has_error(function() drv.DriverStartIo = 1 end, "DriverStartIo must be a function or nil")
    assert.has_error(function() drv.Flags = 1 end,
      "DRIVER_OBJECT has no field 'Flags' to set (DriverStartIo, MajorFunction, DriverUnload)")
    assert.has_error(function() d1.DriverObject = {} end,
      "DEVICE_OBJECT.DriverObject must be a DRIVER_OBJECT (dma.driver{...}) or nil")
    assert.has_error(function() d1.name = "y" end,
      "field 'name' of DEVICE_OBJECT is read-only (only DriverObject and Flags may be set)")
    assert.has_error(function() dma.driver { MajorFunction = { [dma.IRP_MJ_READ] = 3 } } end,
      "bad argument #1 to 'driver' (MajorFunction[3] must be a function)")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.has_error(function() dma.IoCreateDevice(drv, 0, nil, dma.FILE_DEVICE_UNKNOWN, 0, false) end,
      "IoCreateDevice: called at IRQL 2; it must be called at IRQL 0")
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
  end)
end)

describe("requests in a run", function()
  local m
  before_each(function() m = machine { seed = 16 } end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end)

  -- A disk whose medium is a string: StartIo starts a transfer that takes
  -- 10 us per KiB on a timer; the "interrupt" queues a DPC that moves the
  -- bytes through the MDL's system address, completes and starts the next.
  local function disk(medium)
    local dpc
    local drv = dma.driver {
      DriverStartIo = function(dev, irp)
        m:after(10000 * (irp.length // 1024 + 1), function() dma.KeInsertQueueDpc(dpc, irp, nil) end)
        dev.DeviceExtension.started = (dev.DeviceExtension.started or 0) + 1
      end,
    }
    local function queue(dev, irp)
      local s = dma.IoGetCurrentIrpStackLocation(irp)
      if s.Parameters.Read.ByteOffset + s.Parameters.Read.Length > #medium then
        irp.IoStatus.Status = dma.STATUS_INVALID_PARAMETER
        irp.IoStatus.Information = 0
        dma.IoCompleteRequest(irp, dma.IO_NO_INCREMENT)
        return dma.STATUS_INVALID_PARAMETER
      end
      dma.IoMarkIrpPending(irp)
      dma.IoStartPacket(dev, irp, nil, nil)
      return dma.STATUS_PENDING
    end
    drv.MajorFunction[dma.IRP_MJ_READ] = queue
    drv.MajorFunction[dma.IRP_MJ_WRITE] = queue
    local _, dev = dma.IoCreateDevice(drv, 0, "\\Device\\disk0", dma.FILE_DEVICE_DISK, 0, false)
    dpc = dma.KeInitializeDpc(nil, function(_, _, irp)
      assert(irp == dev.CurrentIrp)
      local s = dma.IoGetCurrentIrpStackLocation(irp)
      local va = dma.MmGetSystemAddressForMdlSafe(irp.MdlAddress, dma.NormalPagePriority)
      local off, len = s.Parameters.Read.ByteOffset, s.Parameters.Read.Length
      if s.MajorFunction == dma.IRP_MJ_READ then
        m:write(va, medium:sub(off + 1, off + len))
      else
        medium = medium:sub(1, off) .. m:read(va, len) .. medium:sub(off + len + 1)
      end
      irp.IoStatus.Status = dma.STATUS_SUCCESS
      irp.IoStatus.Information = len
      dma.IoCompleteRequest(irp, dma.IO_DISK_INCREMENT)
      dma.IoStartNextPacket(dev, false)
    end, nil)
    return dev, function() return medium end
  end

  it("complete asynchronously from a timer and a DPC under m:run()", function()
    local medium = dma.pattern(16 * 1024, 3)
    local dev, contents = disk(medium)
    local b = m:buffer(8 * 1024, { offset = 0x10 })
    local w = m:buffer(2048)
    w:write(0, ("w"):rep(2048))
    local finished = {}
    local function done(irp)
      finished[#finished + 1] = { id = irp.id, status = irp.IoStatus.Status, n = irp.IoStatus.Information,
                                  t = m.now }
    end
    local r1 = m:irp { major = dma.IRP_MJ_READ, buffer = b, length = 4096, device_offset = 1024,
                       completion = done }
    local r2 = m:irp { major = dma.IRP_MJ_READ, buffer = b, offset = 4096, length = 4096,
                       device_offset = 8192, completion = done }
    local wr = m:irp { major = dma.IRP_MJ_WRITE, buffer = w, device_offset = 0, completion = done }
    local bad = m:irp { major = dma.IRP_MJ_READ, buffer = b, device_offset = 15 * 1024, completion = done }
    for _, irp in ipairs { r1, r2, wr } do
      assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(dev, irp))
    end
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, dma.IoCallDriver(dev, bad))
    assert.is_false(r1.done)
    m:run()
    assert.are.same({ bad.id, r1.id, r2.id, wr.id },
      { finished[1].id, finished[2].id, finished[3].id, finished[4].id })
    assert.is_true(finished[2].t < finished[3].t and finished[3].t < finished[4].t)  -- one at a time
    assert.are.equal(4096, finished[2].n)
    assert.are.equal(2048, finished[4].n)
    assert.are.equal(dma.STATUS_SUCCESS, r2.IoStatus.Status)
    assert.is_true(b:compare(0, medium:sub(1025, 1024 + 4096)))
    assert.is_true(b:compare(4096, medium:sub(8193, 8192 + 4096)))
    assert.are.equal(("w"):rep(2048) .. medium:sub(2049), contents())
    assert.are.equal(3, dev.DeviceExtension.started)
    assert.is_nil(dev.CurrentIrp)
    assert.is_true(r1.completed_at > r1.sent_at)
    b:free()
    w:free()
    local st = m:run_stats()
    assert.are.equal(4, st.requests)
    assert.are.equal(1, st.requests_failed)
  end)

  it("are traced: request_start and request_complete with the IRP, major, status and count", function()
    local dev = disk(dma.pattern(4096, 1))
    local b = m:buffer(1000)
    local irp = m:irp { major = dma.IRP_MJ_READ, buffer = b, length = 1000 }
    dma.IoCallDriver(dev, irp)
    while not irp.done and m:step() do end
    assert.is_true(irp.done)
    local starts, ends = m:trace("request_start"), m:trace("request_complete")
    assert.are.equal(1, #starts)
    assert.are.equal(1, #ends)
    assert.are.equal(irp.id, starts[1].obj)
    assert.are.equal(dma.IRP_MJ_READ, starts[1].a)
    assert.are.equal(1000, starts[1].b)
    assert.are.equal(irp.id, ends[1].obj)
    assert.are.equal(dma.STATUS_SUCCESS, ends[1].a)
    assert.are.equal(1000, ends[1].b)
    assert.are.equal(dma.DISPATCH_LEVEL, ends[1].irql)  -- completed from the DPC
    assert.is_true(ends[1].seq > starts[1].seq)
  end)

  it("leave nothing behind when the machine closes with requests in flight", function()
    local dev = disk(dma.pattern(8192, 2))
    local b = m:buffer(4096)
    for _ = 1, 3 do dma.IoCallDriver(dev, m:irp { major = dma.IRP_MJ_READ, buffer = b }) end
    local irp = dev.CurrentIrp
    m:close()
    assert.error_matches(function() return irp.IoStatus end, "(its machine is closed)", 1, true)
    assert.are.equal("IRP (machine closed)", tostring(irp))
    m = machine {}
    collectgarbage()
  end)
end)
