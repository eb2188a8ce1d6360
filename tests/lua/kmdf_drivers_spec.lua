-- The KMDF bus-master drivers (scripts/drivers/kmdf_packet.lua and
-- kmdf_sg.lua) driven as the I/O manager would: brought up as random_io.lua's
-- start_driver does (WdfDriverCreate, m:wdf_add_device), then m:irp and
-- IoCallDriver on the framework device's FDO, every byte checked. Low memory
-- (m:wdf_fail_allocations): the driver that reuses one transaction keeps
-- working, the one that creates a transaction per request fails those
-- requests cleanly. Power down and up (m:wdf_set_power) with requests queued.
local dma = require "dma"
local support = require "support"

package.path = "scripts/?.lua;" .. package.path

local KiB, MiB = 1024, 1 << 20
-- Two transfers a request for either driver, at an odd byte offset.
local LENGTH, BYTE_OFFSET = 100 * KiB + 123, 0x234
-- The power log of a D3 then D0 for these drivers (no enabler callbacks).
local AROUND_D3_D0 = { "interrupts_disabled", "EvtDeviceD0Exit", "EvtDeviceD0Entry", "interrupts_enabled" }

-- A machine with RAM below and above 4 GiB, a 32-bit bus-master device and
-- the KMDF driver `name` entered and its device added and started.
local function setup(name)
  local m = support.machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 11, alloc = "scattered" }
  local hw = m:busmaster { name = "disk0", address_width = 32, max_transfer = "256K", max_sg = 32 }
  local drv = require("drivers." .. name)
  local status, Driver = drv.DriverEntry(dma.driver { name = name }, nil)  -- WdfDriverCreate
  assert.are.equal(dma.STATUS_SUCCESS, status)
  local Device, started = m:wdf_add_device(Driver, hw)                      -- DeviceAdd, start
  assert.are.equal(dma.STATUS_SUCCESS, started)
  return { m = m, hw = hw, drv = drv, Device = Device, fdo = dma.WdfDeviceWdmGetDeviceObject(Device),
           ctx = drv.Context(Device), buffers = {} }
end

-- Removes the device (nothing may stay held) and closes the machine.
local function teardown(run)
  for _, b in ipairs(run.buffers) do b:free() end
  assert.are.equal(dma.STATUS_SUCCESS, run.m:wdf_remove_device(run.Device))
  assert.are.same({}, run.m:check_leaks())
  run.m:close()
end

-- Sends write i (pattern i at i MiB) or read i (of i MiB, into a buffer of
-- 0xEE); the framework must pend it. Returns a record: irp, buffer, data
-- (the pattern), offset, calls/status/information from the completion.
local function send(run, write, i)
  local b = run.m:buffer(LENGTH, { offset = BYTE_OFFSET })
  run.buffers[#run.buffers + 1] = b
  local data = dma.pattern(LENGTH, i)
  if write then b:write(0, data) else b:fill(0xEE) end
  local rec = { buffer = b, data = data, offset = i * MiB, calls = 0 }
  rec.irp = run.m:irp { major = write and dma.IRP_MJ_WRITE or dma.IRP_MJ_READ, buffer = b,
                        device_offset = rec.offset, completion = function(done)
    rec.calls = rec.calls + 1
    rec.status = done.IoStatus.Status
    rec.information = done.IoStatus.Information
  end }
  assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(run.fdo, rec.irp))
  return rec
end

-- The write completed once with STATUS_SUCCESS and the medium holds its pattern.
local function written(run, rec)
  assert.is_true(rec.irp.done, "the request never completed")
  assert.are.equal(1, rec.calls)
  assert.are.equal(dma.STATUS_SUCCESS, rec.status)
  assert.are.equal(LENGTH, rec.information)
  assert.is_true(run.hw:medium_read(rec.offset, LENGTH) == rec.data, "the medium does not hold the pattern")
end

-- The last `n` entries of the device's power log.
local function last(device, n)
  local log = device:power_log()
  return { table.unpack(log, #log - n + 1) }
end

local function has_enabler_entry(log)
  for _, e in ipairs(log) do
    if e:match("^EvtDmaEnabler") then return true end
  end
  return false
end

describe("KMDF drivers under low memory (m:wdf_fail_allocations)", function()
  it("kmdf_packet reuses its transaction: all three requests succeed with every byte", function()
    local run = setup("kmdf_packet")
    run.m:wdf_fail_allocations(3)
    for i = 1, 3 do
      local w = send(run, true, i)
      run.m:run()
      written(run, w)
    end
    -- the requests created no DMA object: the switch is still armed
    local st, t = dma.WdfDmaTransactionCreate(run.ctx.DmaEnabler, dma.WDF_NO_OBJECT_ATTRIBUTES)
    assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES, st)
    assert.is_nil(t)
    run.m:wdf_fail_allocations(0)
    -- and the bytes read back
    local r = send(run, false, 2)
    run.m:run()
    assert.are.equal(dma.STATUS_SUCCESS, r.status)
    assert.are.equal(LENGTH, r.information)
    assert.is_true(r.buffer:compare(0, r.data), "the read did not return the pattern")
    assert.are.equal(0, run.ctx.Errors)
    teardown(run)
  end)

  it("kmdf_sg fails the three requests with STATUS_INSUFFICIENT_RESOURCES, then the next succeeds",
     function()
    local run = setup("kmdf_sg")
    run.m:wdf_fail_allocations(3)
    for i = 1, 3 do
      local w = send(run, true, i)
      run.m:run()
      assert.is_true(w.irp.done)
      assert.are.equal(1, w.calls)
      assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES, w.status)
      assert.are.equal(0, w.information)
      assert.is_true(run.hw:medium_read(w.offset, LENGTH) == ("\0"):rep(LENGTH), "a failed write moved bytes")
    end
    assert.are.equal(0, run.hw:device_stats().commands)  -- nothing reached the device
    local w = send(run, true, 4)
    run.m:run()
    written(run, w)
    local r = send(run, false, 4)
    run.m:run()
    assert.are.equal(dma.STATUS_SUCCESS, r.status)
    assert.is_true(r.buffer:compare(0, r.data), "the read did not return the pattern")
    assert.are.equal(0, run.ctx.Errors)
    teardown(run)  -- m:check_leaks() empty after removal
  end)
end)

describe("KMDF drivers powered down and up (m:wdf_set_power)", function()
  for _, name in ipairs { "kmdf_packet", "kmdf_sg" } do
    describe(name, function()
      it("keeps requests sent in D3 in the queue and serves them all after D0", function()
        local run = setup(name)
        local m, Device = run.m, run.Device
        local first = send(run, true, 1)  -- before the power-down, run to completion
        m:run()
        written(run, first)
        local before = #Device:power_log()
        assert.are.equal(dma.STATUS_SUCCESS, m:wdf_set_power(Device, "D3"))
        assert.are.same({ "stopped", "D3" }, { Device:state() })
        local recs = {}
        for i = 2, 5 do recs[#recs + 1] = send(run, true, i) end
        m:run()  -- nothing is presented in D3
        for _, rec in ipairs(recs) do assert.is_false(rec.irp.done) end
        local q = run.ctx.Queue:stats()
        assert.are.same({ 0, 4 }, { q.in_flight, q.waiting })
        assert.are.equal(dma.STATUS_SUCCESS, m:wdf_set_power(Device, "D0"))
        -- the drivers register no enabler power callbacks: the log holds the
        -- device's own D0Exit/D0Entry around the interrupts only
        local log = { table.unpack(Device:power_log(), before + 1) }
        assert.are.same(AROUND_D3_D0, log)
        assert.is_false(has_enabler_entry(Device:power_log()))
        m:run()
        for _, rec in ipairs(recs) do written(run, rec) end
        local reads = {}
        for i = 2, 5 do reads[#reads + 1] = send(run, false, i) end
        m:run()
        for _, r in ipairs(reads) do
          assert.are.equal(dma.STATUS_SUCCESS, r.status)
          assert.is_true(r.buffer:compare(0, r.data), "the read did not return the pattern")
        end
        assert.are.equal(0, run.ctx.Errors + run.ctx.Timeouts + run.ctx.LostInterrupts)
        teardown(run)
      end)

      -- A power-managed queue drains before power-down: the request in flight
      -- completes, then EvtDeviceD0Exit runs; the waiting one is presented
      -- only after power comes back.
      it("finishes the request in flight before powering down mid-run, then resumes", function()
        local run = setup(name)
        local m, Device = run.m, run.Device
        local recs = {}
        for i = 1, 3 do recs[i] = send(run, true, i) end
        -- run partway: the first request done, the second in flight
        while not recs[1].irp.done do m:run_until(m.now + 1000) end
        written(run, recs[1])
        local q = run.ctx.Queue:stats()
        assert.are.same({ 1, 1 }, { q.in_flight, q.waiting })
        local before = #Device:power_log()
        assert.are.equal(dma.STATUS_PENDING, m:wdf_set_power(Device, "D3"))
        assert.are.equal("stopping", (Device:state()))
        assert.are.equal(before, #Device:power_log())  -- nothing powered down yet
        m:run()
        written(run, recs[2])                            -- the one in flight completed
        assert.are.equal("stopped", (Device:state()))
        assert.is_false(recs[3].irp.done)                 -- not presented in D3
        assert.are.same({ "interrupts_disabled", "EvtDeviceD0Exit" }, last(Device, 2))
        assert.are.equal(dma.STATUS_SUCCESS, m:wdf_set_power(Device, "D0"))
        assert.are.same(AROUND_D3_D0, last(Device, 4))
        m:run()
        written(run, recs[3])
        assert.are.equal(0, run.ctx.Errors + run.ctx.Timeouts + run.ctx.LostInterrupts)
        teardown(run)
      end)
    end)
  end
end)
