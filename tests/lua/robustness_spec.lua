-- No Lua input can crash the engine (issue 16): the reproducers of a
-- hostile run become tests. Objects of two machines mixed in one call are a
-- Lua error naming the function, the argument and both machines; a machine
-- dropped without m:close() is freed by __gc; sizes that overflow are
-- rejected.
local dma = require "dma"
local support = require "support"

local KiB = 1024

-- "bad argument #arg to 'fname' (... machine#A ... machine#B ...)"; a
-- method call counts its arguments after the object, as Lua does.
local function assert_cross(fn, fname, arg)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  err = tostring(err)
  assert.truthy(err:find("bad argument #" .. arg .. " to '" .. fname .. "'", 1, true), err)
  local a, b = err:match("machine#(%d+).-machine#(%d+)")
  assert.truthy(a and b and a ~= b, err)
end

describe("objects of two machines in one call", function()
  local m1, m2
  before_each(function()
    m1 = support.machine { verifier = "record" }
    m2 = support.machine { verifier = "record" }
  end)
  after_each(function()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    if m1 then m1:close() end
    m2:close()
    m1, m2 = nil, nil
  end)

  it("AllocateAdapterChannel with a device of another machine is an error", function()
    local dev1 = m1:device { name = "d1" }
    local a2, nmr = support.packet(m2, "d2")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert_cross(function()
      a2:AllocateAdapterChannel(dev1, nmr, function() return dma.KeepObject end)
    end, "AllocateAdapterChannel", 1)
    assert_cross(function()
      a2.DmaOperations.AllocateAdapterChannel(a2, dev1, nmr, function() return dma.KeepObject end)
    end, "AllocateAdapterChannel", 2)
    assert_cross(function()
      dma.IoAllocateAdapterChannel(a2, dev1, nmr, function() return dma.KeepObject end)
    end, "IoAllocateAdapterChannel", 2)
    assert.are.equal(0, a2:stats().channel_grants)
  end)

  it("GetScatterGatherList with a device or an MDL of another machine is an error", function()
    local dev1 = m1:device { name = "d1" }
    m1:select()
    local b1, mdl1 = support.built(m1, 8 * KiB)
    m2:select()
    local a2, _, dev2 = support.adapter(m2, "sg64")
    local b2, mdl2 = support.built(m2, 8 * KiB)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert_cross(function()
      a2:GetScatterGatherList(dev1, mdl2, b2.va, b2.length, function() end, nil, true)
    end, "GetScatterGatherList", 1)
    assert_cross(function()
      a2:GetScatterGatherList(dev2, mdl1, b1.va, b1.length, function() end, nil, true)
    end, "GetScatterGatherList", 2)
  end)

  it("a channel request for another machine's device never waits on a closed machine", function()
    local dev1 = m1:device { name = "d1" }
    local a2, nmr, dev2 = support.packet(m2, "d2")
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local held = support.ask(a2, dev2, nmr, {}, "first", dma.KeepObject)
    assert.are.equal(dma.STATUS_SUCCESS, held.status)
    assert_cross(function() support.ask(a2, dev1, nmr, {}, "second") end,
                 "AllocateAdapterChannel", 1)
    m1:close()
    m1 = nil
    a2:FreeMapRegisters(held.base, nmr)
    a2:FreeAdapterChannel()  -- no request of the closed machine is granted
    assert.are.equal(1, a2:stats().channel_grants)
  end)

  it("KeSetTimer with a KDPC of another machine is an error; closing that machine is safe", function()
    m1:select()
    local ran = false
    local dpc1 = dma.KeInitializeDpc(nil, function() ran = true end, nil)
    m2:select()
    local t2 = dma.KeInitializeTimer(nil)
    assert_cross(function() dma.KeSetTimer(t2, -1000, dpc1) end, "KeSetTimer", 3)
    assert_cross(function() dma.KeSetTimerEx(t2, -1000, 0, dpc1) end, "KeSetTimerEx", 4)
    m1:close()
    m1 = nil
    m2:run()
    assert.is_false(ran)
  end)

  it("IoCallDriver with an IRP of another machine is an error", function()
    local drv = dma.driver { name = "\\Driver\\x" }
    local _, dev = dma.IoCreateDevice(drv, 0, nil, dma.FILE_DEVICE_UNKNOWN, 0, false)
    local b1 = m1:buffer(4 * KiB)
    local irp1 = m1:irp { major = dma.IRP_MJ_READ, buffer = b1, device_offset = 0 }
    assert_cross(function() dma.IoCallDriver(dev, irp1) end, "IoCallDriver", 2)
  end)
end)
