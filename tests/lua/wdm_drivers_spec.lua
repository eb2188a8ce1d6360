-- The WDM bus-master drivers (scripts/drivers/wdm_packet.lua and wdm_sg.lua)
-- driven as the I/O manager would: m:irp and IoCallDriver on the built-in
-- bus-master device. A megabyte both ways through 32-bit DMA on scattered
-- RAM (which pages each driver bounces), what each injected device fault
-- does to a request (and a completion racing the drivers' watchdog), and the
-- random_io scenario's determinism under dmalab.
local dma = require "dma"
local support = require "support"

package.path = "scripts/?.lua;" .. package.path

local KiB, MiB = 1024, 1 << 20
local MS = 1000000
local WATCHDOG = 10 * MS  -- the drivers' KeSetTimer(-100000)
local DRIVERS = { "wdm_packet", "wdm_sg" }

-- A new machine (collecting first: see adapter_spec.lua).
local function machine(opts)
  collectgarbage()
  return dma.machine(opts)
end

-- A machine with RAM below and above 4 GiB, a 32-bit bus-master device and
-- the driver `name` entered and added; `faults` are hw:inject tables.
local function setup(name, faults)
  local m = machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = 11, alloc = "scattered" }
  local hw = m:busmaster { name = "disk0", address_width = 32, max_transfer = "256K", max_sg = 32 }
  for _, f in ipairs(faults or {}) do hw:inject(f) end
  local drv = require("drivers." .. name)
  local DriverObject = dma.driver { name = "\\Driver\\" .. name }
  assert.are.equal(dma.STATUS_SUCCESS, drv.DriverEntry(DriverObject))
  assert.are.equal(dma.STATUS_SUCCESS, drv.AddDevice(DriverObject, hw.device, hw.resources))
  return { m = m, hw = hw, drv = drv, ext = hw.device.DeviceExtension }
end

-- Removes the device (nothing may stay held) and closes the machine.
local function teardown(run)
  run.drv.RemoveDevice(run.hw.device, run.hw.resources)
  assert.are.same({}, run.m:check_leaks())
  run.m:close()
end

-- Sends a read or write of buffer b at device offset `offset`; the driver
-- must pend it. Returns the IRP and a record its completion routine fills.
local function send(run, write, b, offset)
  local seen = {}
  local irp = run.m:irp { major = write and dma.IRP_MJ_WRITE or dma.IRP_MJ_READ, buffer = b,
                          device_offset = offset, completion = function(done)
    seen.calls = (seen.calls or 0) + 1
    seen.status = done.IoStatus.Status
    seen.information = done.IoStatus.Information
    seen.at = run.m.now
  end }
  assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(run.hw.device, irp))
  return irp, seen
end

-- Sends one request and runs the machine until nothing is left to do;
-- returns the completion record, with `took` the ns from send to completion.
local function call(run, write, b, offset)
  local sent = run.m.now
  local irp, seen = send(run, write, b, offset)
  run.m:run()
  assert.is_true(irp.done, "the request never completed")
  assert.are.equal(1, seen.calls)
  seen.sent, seen.took = sent, seen.at - sent
  return seen
end

describe("WDM drivers", function()
  for _, name in ipairs(DRIVERS) do
    describe(name, function()
      it("writes and reads 1 MiB at offset 4096 through 32-bit DMA on scattered RAM", function()
        local run = setup(name)
        local m, len = run.m, 1 * MiB
        local data = dma.pattern(len, 42)
        local src = m:buffer(len)
        src:write(0, data)
        local dst = m:buffer(len)
        dst:fill(0)
        local above = 0  -- bytes of the buffers in pages above 4 GiB
        for _, b in ipairs { src, dst } do
          for _, pfn in ipairs(b:pfns()) do
            if pfn * dma.PAGE_SIZE >= 4 << 30 then above = above + dma.PAGE_SIZE end
          end
        end
        assert.is_true(above > 0 and above < 2 * len, "the buffers must straddle 4 GiB")

        local w = call(run, true, src, 4096)
        assert.are.equal(dma.STATUS_SUCCESS, w.status)
        assert.are.equal(len, w.information)
        assert.is_true(run.hw:medium_read(4096, len) == data, "the medium does not hold the pattern")
        assert.is_true(run.hw:medium_read(0, 4096) == ("\0"):rep(4096), "bytes before the offset changed")
        local r = call(run, false, dst, 4096)
        assert.are.equal(dma.STATUS_SUCCESS, r.status)
        assert.are.equal(len, r.information)
        assert.is_true(dst:compare(0, data))

        local a = run.ext.Adapter:stats()
        assert.are.equal(2 * len, a.bytes_mapped)
        if name == "wdm_packet" then
          -- not S/G: every piece goes through map registers into bounce pages
          assert.are.equal(a.bytes_mapped, a.bytes_bounced)
        else
          -- S/G with 32-bit addresses: only the pages above 4 GiB bounce
          assert.is_true(a.bytes_bounced > 0)
          assert.is_true(a.bytes_bounced < a.bytes_mapped)
          assert.are.equal(above, a.bytes_bounced)
        end
        assert.are.equal(0, run.ext.Errors + run.ext.LostInterrupts + run.ext.Timeouts)
        src:free()
        dst:free()
        teardown(run)
      end)
    end)
  end
end)

-- A request of two pieces for either driver (the map registers allow
-- 64972 bytes from byte offset 0x234), at an odd device offset.
local LENGTH, BYTE_OFFSET, OFFSET = 100 * KiB + 123, 0x234, 3 * MiB + 512

-- The fault scenario: on a new machine with `faults` injected, a write of a
-- pattern, then a read of it back into a cleared buffer, then (if the write
-- failed) the write again. Returns what a test checks.
local function scenario(name, faults)
  local run = setup(name, faults)
  local m = run.m
  local data = dma.pattern(LENGTH, 7)
  local src = m:buffer(LENGTH, { offset = BYTE_OFFSET })
  src:write(0, data)
  local dst = m:buffer(LENGTH, { offset = BYTE_OFFSET })
  dst:fill(0xEE)
  local out = { data = data }
  out.write = call(run, true, src, OFFSET)
  local first = m:trace("dma_end")[1]  -- the first transfer's end, if it ended during the write
  out.first_done = first and first.time <= out.write.at and first.time - out.write.sent or nil
  out.medium_after_write = run.hw:medium_read(OFFSET, LENGTH)
  out.read = call(run, false, dst, OFFSET)
  out.read_bytes = dst:read()
  if not dma.NT_SUCCESS(out.write.status) then
    out.retry = call(run, true, src, OFFSET)
  end
  out.medium = run.hw:medium_read(OFFSET, LENGTH)
  out.dma_ends = #m:trace("dma_end")
  out.faults = #m:trace("fault")
  out.stats = m:run_stats()
  out.device = run.hw:device_stats()
  local ext = run.ext
  out.ext = { Errors = ext.Errors, LostInterrupts = ext.LostInterrupts, Timeouts = ext.Timeouts,
              Transfers = ext.Transfers }
  src:free()
  dst:free()
  teardown(run)
  return out
end

-- Both requests succeeded with every byte: the medium and the read buffer
-- hold the pattern.
local function all_bytes(out)
  for _, which in ipairs { "write", "read" } do
    assert.are.equal(dma.STATUS_SUCCESS, out[which].status, which)
    assert.are.equal(LENGTH, out[which].information, which)
  end
  assert.is_true(out.medium == out.data, "the medium does not hold the pattern")
  assert.is_true(out.read_bytes == out.data, "the read did not return the pattern")
end

-- The write failed with `status` having moved nothing; the read after it
-- succeeded (returning the untouched medium, zeros) and so did the retry.
local function failed_then_recovered(out, status)
  assert.are.equal(status, out.write.status)
  assert.are.equal(0, out.write.information)
  assert.is_true(out.medium_after_write == ("\0"):rep(LENGTH), "the failed write moved bytes")
  assert.are.equal(dma.STATUS_SUCCESS, out.read.status)
  assert.are.equal(LENGTH, out.read.information)
  assert.is_true(out.read_bytes == ("\0"):rep(LENGTH), "the read did not return the medium")
  assert.are.equal(dma.STATUS_SUCCESS, out.retry.status)
  assert.are.equal(LENGTH, out.retry.information)
  assert.is_true(out.medium == out.data, "the retried write did not reach the medium")
end

describe("WDM drivers under injected device faults", function()
  for _, name in ipairs(DRIVERS) do
    describe(name, function()
      local base  -- the same scenario without faults, run once
      before_each(function()
        base = base or scenario(name, {})
      end)

      it("baseline: no fault, two pieces a request, nothing lost", function()
        all_bytes(base)
        assert.are.equal(4, base.dma_ends)
        assert.are.equal(4, base.ext.Transfers)
        assert.are.same({ Errors = 0, LostInterrupts = 0, Timeouts = 0, Transfers = 4 }, base.ext)
        assert.are.equal(0, base.stats.interrupts_unclaimed)
        assert.are.equal(0, base.faults)
      end)

      it("error: the request fails with STATUS_IO_DEVICE_ERROR, the next one succeeds", function()
        local out = scenario(name, { { kind = "error", at_command = 1 } })
        failed_then_recovered(out, dma.STATUS_IO_DEVICE_ERROR)
        assert.are.equal(1, out.ext.Errors)
        assert.are.equal(0, out.ext.Timeouts)
        assert.are.equal(1, out.device.errors)
        assert.are.equal(1, out.faults)
      end)

      it("short: the driver moves the rest in one more transfer; every byte arrives", function()
        local out = scenario(name, { { kind = "short", at_command = 1 } })
        all_bytes(out)
        assert.are.equal(base.dma_ends + 1, out.dma_ends)
        assert.are.equal(base.ext.Transfers + 1, out.ext.Transfers)
        assert.are.same({ 0, 0, 0 }, { out.ext.Errors, out.ext.LostInterrupts, out.ext.Timeouts })
        assert.are.equal(1, out.faults)
      end)

      it("short on a read: the read buffer still gets every byte", function()
        local out = scenario(name, { { kind = "short", at_command = 4 } })
        all_bytes(out)
        assert.are.equal(base.dma_ends + 1, out.dma_ends)
      end)

      it("drop_interrupt: the watchdog finishes the transfer about 10 ms later", function()
        local out = scenario(name, { { kind = "drop_interrupt", at_command = 1 } })
        all_bytes(out)
        assert.are.equal(1, out.ext.LostInterrupts)
        assert.are.equal(0, out.ext.Errors + out.ext.Timeouts)
        local late = out.write.took - base.write.took
        assert.is_true(math.abs(late - WATCHDOG) < MS // 5,
                       ("completion %d ns later, not about %d"):format(late, WATCHDOG))
        assert.are.equal(base.read.took, out.read.took)
        assert.are.equal(base.dma_ends, out.dma_ends)
      end)

      it("spurious_interrupt: the ISR does not claim it; the requests succeed", function()
        -- during the write's first transfer (its device takes ~60 us)
        local out = scenario(name, { { kind = "spurious_interrupt", at = "20us" } })
        all_bytes(out)
        assert.are.equal(1, out.faults)
        assert.are.equal(1, out.stats.interrupts_unclaimed)
        assert.are.equal(base.stats.interrupts + 1, out.stats.interrupts)
        assert.are.equal(base.write.took, out.write.took)
        assert.are.same({ 0, 0, 0 }, { out.ext.Errors, out.ext.LostInterrupts, out.ext.Timeouts })
      end)

      it("latency: completion 2 ms later", function()
        local out = scenario(name, { { kind = "latency", at_command = 2, extra = "2ms" } })
        all_bytes(out)
        assert.are.equal(base.write.took + 2 * MS, out.write.took)
        assert.are.equal(base.read.took, out.read.took)
        assert.are.same({ 0, 0, 0 }, { out.ext.Errors, out.ext.LostInterrupts, out.ext.Timeouts })
      end)

      it("a transfer ending just before the watchdog expires is neither a hang nor lost", function()
        -- The device ends the first transfer `before` ns ahead of the expiry:
        -- the ISR's DPC may run just before the watchdog's (which must then
        -- leave the next transfer alone), or the ISR may take the completion
        -- while the watchdog's DPC waits in the queue (which must then let
        -- the ISR's DPC finish it).
        for _, before in ipairs { 20000, 5000, 4000, 3500, 3000, 2500, 2000, 1500, 1000, 750, 500, 1, 0 } do
          local extra = WATCHDOG - before - base.first_done
          local out = scenario(name, { { kind = "latency", at_command = 1, extra = extra } })
          assert.are.equal(WATCHDOG - before, out.first_done)
          assert.are.same({ 0, 0, 0 }, { out.ext.Errors, out.ext.LostInterrupts, out.ext.Timeouts },
                          ("errors, lost interrupts, timeouts with the end %d ns early"):format(before))
          all_bytes(out)
          -- no later than the latency alone makes it (its DPC may even run
          -- earlier, in the watchdog's DPC queue drain)
          assert.is_true(out.write.took <= base.write.took + extra)
        end
      end)

      it("hang: STATUS_IO_TIMEOUT after the watchdog; the reset device serves the next", function()
        local out = scenario(name, { { kind = "hang", at_command = 1 } })
        failed_then_recovered(out, dma.STATUS_IO_TIMEOUT)
        assert.are.equal(1, out.ext.Timeouts)
        assert.are.equal(1, out.ext.Errors)
        assert.are.equal(0, out.ext.LostInterrupts)
        assert.is_true(out.write.took >= WATCHDOG, "failed before the watchdog")
        assert.is_true(out.write.took < WATCHDOG + MS // 10, "failed long after the watchdog")
        assert.are.equal(base.read.took, out.read.took)
        -- the hung command never ends; the read and the retried write do
        assert.are.equal(base.dma_ends, out.dma_ends)
      end)
    end)
  end
end)

describe("scripts/scenarios/random_io.lua under dmalab", function()
  -- Runs the scenario with 40 requests and `seed`; returns its exit status,
  -- the trace hash of each driver, in order, and its output.
  local function random_io(seed)
    local code, out, err = support.run_script("scripts/scenarios/random_io.lua wdm_packet wdm_sg",
                                              ("DMALAB_REQUESTS=40 DMALAB_SEED=%d"):format(seed))
    assert.are.equal("", err)
    local hashes = {}
    for hash in out:gmatch("trace hash (0x%x+)") do hashes[#hashes + 1] = hash end
    return code, hashes, out
  end

  it("prints the same trace hashes for the same seed, others for another seed", function()
    local code1, first, out = random_io(1)
    assert.are.equal(0, code1)
    assert.are.equal(2, #first, out)  -- wdm_packet, wdm_sg
    assert.truthy(out:find("wdm_packet: 40 requests", 1, true))
    assert.truthy(out:find("wdm_sg: 40 requests", 1, true))
    assert.are_not.equal(first[1], first[2])
    local code2, again = random_io(1)
    assert.are.equal(0, code2)
    assert.are.same(first, again)
    local code3, other = random_io(2)
    assert.are.equal(0, code3)
    assert.are.equal(2, #other)
    assert.are_not.equal(first[1], other[1])
    assert.are_not.equal(first[2], other[2])
  end)
end)
