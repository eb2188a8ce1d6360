-- MapTransfer / FlushAdapterBuffers / KeFlushIoBuffers (reference 1.4) and
-- device-side access by logical address.
local dma = require "dma"
local support = require "support"

local MiB, GiB = 1 << 20, 1 << 30
local PAGE = 4096

local machine, adapter, buffer = support.machine, support.adapter, support.buffer

-- Runs fn(base) inside AdapterControl with all the adapter's registers, at
-- DISPATCH_LEVEL; frees the registers afterwards.
local function with_registers(a, nmr, dev, fn)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local ran = false
  a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
    ran = true
    fn(base)
    a:FreeMapRegisters(base, nmr)
    return dma.DeallocateObjectKeepRegisters
  end)
  dma.KeLowerIrql(old)
  assert.is_true(ran)
end

describe("MapTransfer", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("shortens the length at a physical break for a scatter/gather master only", function()
    m = machine { ram = "16G", seed = 4, alloc = "scattered" }
    local b, mdl = buffer(m, 3 * PAGE, { offset = 0x100 })
    local pfns = b:pfns()
    assert.are_not.equal(pfns[1] + 1, pfns[2])  -- precondition: the pages are scattered
    local sg, snmr, sdev = adapter(m, "sg64")
    with_registers(sg, snmr, sdev, function(base)
      local logical, len = sg:MapTransfer(mdl, base, b.va, b.length, true)
      assert.are.equal(PAGE - 0x100, len)  -- to the end of the first page
      assert.are.equal(b:pa(0), logical)   -- 64-bit: no bounce
      local l2, len2 = sg:MapTransfer(mdl, base, b.va + len, b.length - len, true)
      assert.are.equal(b:pa(len), l2)
      assert.is_true(len2 <= PAGE)
      assert.is_true(sg:FlushAdapterBuffers(mdl, base, b.va, len + len2, true))
    end)
    local p, pnmr, pdev = adapter(m, "packet64")
    with_registers(p, pnmr, pdev, function(base)
      local logical, len = p:MapTransfer(mdl, base, b.va, b.length, true)
      assert.are.equal(b.length, len)           -- the full length...
      assert.is_true(logical < 16 * MiB)         -- ...in one contiguous bounce
      assert.are.equal(b:read(), m:device_read(logical, len))
      p:FlushAdapterBuffers(mdl, base, b.va, len, true)
    end)
    assert.are.equal(b.length, p:stats().bytes_bounced)
    assert.are.equal(0, sg:stats().bytes_bounced)
  end)

  it("maps a contiguous run straight through when it is below the ceiling", function()
    m = machine { ram = "16G", seed = 4 }
    local b, mdl = buffer(m, 5 * PAGE, { offset = 0x30, alloc = "contiguous" })
    for _, kind in ipairs { "packet64", "sg64" } do
      local a, nmr, dev = adapter(m, kind)
      with_registers(a, nmr, dev, function(base)
        local logical, len = a:MapTransfer(mdl, base, b.va, b.length, true)
        assert.are.equal(b.length, len, kind)
        assert.are.equal(b:pa(0), logical, kind)
        a:FlushAdapterBuffers(mdl, base, b.va, len, true)
      end)
      assert.are.equal(0, a:stats().bytes_bounced, kind)
      assert.are.equal(b.length, a:stats().bytes_mapped, kind)
    end
  end)

  it("bounces pages above the ceiling: RAM only above 4 GiB and a 32-bit device", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 4 }
    local b, mdl = buffer(m, 2 * PAGE, { alloc = "contiguous", offset = 8 })
    assert.is_true(b:pa(0) >= 4 * GiB)
    for _, kind in ipairs { "packet32", "sg32" } do
      local a, nmr, dev = adapter(m, kind)
      with_registers(a, nmr, dev, function(base)
        local logical, len = a:MapTransfer(mdl, base, b.va, b.length, true)
        assert.are.equal(b.length, len, kind)
        assert.is_true(logical + len - 1 <= 0xFFFFFFFF, kind)
        assert.are.equal(b:read(), m:device_read(logical, len), kind)
        a:FlushAdapterBuffers(mdl, base, b.va, len, true)
      end)
      assert.are.equal(b.length, a:stats().bytes_bounced, kind)
    end
    local wide, wnmr, wdev = adapter(m, "packet64")
    with_registers(wide, wnmr, wdev, function(base)
      local logical = wide:MapTransfer(mdl, base, b.va, b.length, true)
      assert.are.equal(b:pa(0), logical)
      wide:FlushAdapterBuffers(mdl, base, b.va, b.length, true)
    end)
  end)

  it("copies a write into the bounce pages at map time", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 4 }
    local b, mdl = buffer(m, 3 * PAGE, { offset = 0x123 }, 9)
    local before = b:read()
    local a, nmr, dev = adapter(m, "packet32")
    with_registers(a, nmr, dev, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va, b.length, true)
      b:write(0, ("x"):rep(64))  -- too late: the device sees what was there at map time
      assert.are.equal(before, m:device_read(logical, len))
      a:FlushAdapterBuffers(mdl, base, b.va, len, true)
    end)
  end)

  it("copies a read back into the buffer only at FlushAdapterBuffers", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 4 }
    local b, mdl = buffer(m, 3 * PAGE, { offset = 0x200 }, 2)
    local old, data = b:read(), dma.pattern(3 * PAGE, 77)
    local a, nmr, dev = adapter(m, "packet32")
    with_registers(a, nmr, dev, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va, b.length, false)
      assert.is_true(m:device_write(logical, data:sub(1, len)))
      assert.are.equal(old, b:read())  -- still in the bounce pages
      assert.are.equal(true, a:FlushAdapterBuffers(mdl, base, b.va, len, false))
      assert.are.equal(data, b:read())
    end)
    assert.are.equal(1, a:stats().flushes)
  end)

  it("never copies a read back when the registers are freed unflushed (0x10)", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 4, verifier = "record" }
    local b, mdl = buffer(m, 2 * PAGE, {}, 2)
    local old = b:read()
    local a, nmr, dev = adapter(m, "packet32")
    with_registers(a, nmr, dev, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va, b.length, false)
      m:device_write(logical, ("d"):rep(len))
    end)
    assert.are.equal(old, b:read())
    assert.are.equal(0x10, m:reports()[1].p1)
    assert.are.equal(1, #m:reports())
  end)

  it("lets the device write straight into an unbounced buffer", function()
    m = machine { ram = "16G", seed = 4 }
    local b, mdl = buffer(m, 2 * PAGE, { alloc = "contiguous", offset = 0x10 }, 3)
    local data = dma.pattern(b.length, 55)
    local a, nmr, dev = adapter(m, "packet64")
    with_registers(a, nmr, dev, function(base)
      local logical, len = a:MapTransfer(mdl, base, b.va, b.length, false)
      assert.are.equal(b:pa(0), logical)
      m:device_write(logical, data)
      assert.are.equal(data, b:read())  -- before any flush: no bounce, no copy
      assert.is_true(a:FlushAdapterBuffers(mdl, base, b.va, len, false))
      assert.are.equal(data, b:read())
    end)
    assert.are.equal(0, a:stats().bytes_bounced)
  end)

  it("shows CPU writes to a device only after KeFlushIoBuffers on a non-coherent machine", function()
    for _, coherent in ipairs { false, true } do
      m = machine { ram = "16G", seed = 4, coherent = coherent }
      local b, mdl = buffer(m, 2 * PAGE, { alloc = "contiguous" }, 1)
      local fresh = dma.pattern(b.length, 99)
      dma.KeFlushIoBuffers(mdl, false, true)  -- the pattern written before reaches memory
      m:write(b.va, fresh)
      local a, nmr, dev = adapter(m, "packet64")
      with_registers(a, nmr, dev, function(base)
        local logical, len = a:MapTransfer(mdl, base, b.va, b.length, true)
        if coherent then
          assert.are.equal(fresh, m:device_read(logical, len))
        else
          assert.are.equal(dma.pattern(b.length, 1), m:device_read(logical, len))
          dma.KeFlushIoBuffers(mdl, false, true)
          assert.are.equal(fresh, m:device_read(logical, len))
        end
        assert.are.equal(fresh, b:read())  -- the CPU always sees its own writes
        a:FlushAdapterBuffers(mdl, base, b.va, len, true)
      end)
      m:close()
    end
    m = machine {}
  end)
end)

describe("device access by logical address", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("raises report 0x26 for an address nobody mapped", function()
    m = machine {}
    local ok, err = pcall(m.device_read, m, 0x5000, 16)
    assert.is_false(ok)
    assert.matches("DRIVER_VERIFIER_DMA_VIOLATION %(0xE6, P1=0x26%): a device reads 16 bytes at "
                   .. "logical address 0x5000", err)
    ok, err = pcall(m.device_write, m, 0x5000, "abc", "nic7")
    assert.is_false(ok)
    assert.matches("P1=0x26%): nic7 writes 3 bytes", err)
  end)

  it("records 0x26 and returns nil / false in record mode; a flushed range is unmapped", function()
    m = machine { verifier = "record", ram = { { "1M", "256K" }, { "4G", "8G" } } }
    local b, mdl = buffer(m, PAGE, {})
    assert.is_nil(m:device_read(b:pa(0), 16))
    assert.is_false(m:device_write(b:pa(0), "zz"))
    local a, nmr, dev = adapter(m, "packet32")
    local logical, len
    with_registers(a, nmr, dev, function(base)
      logical, len = a:MapTransfer(mdl, base, b.va, b.length, false)
      assert.is_true(m:device_write(logical, ("q"):rep(len)))
      assert.are.equal(2, #m:reports())
      a:FlushAdapterBuffers(mdl, base, b.va, len, false)
      assert.is_nil(m:device_read(logical, 1))
      assert.is_false(m:device_write(logical, "q"))
    end)
    local p1 = {}
    for i, r in ipairs(m:reports()) do p1[i] = r.p1 end
    assert.are.same({ 0x26, 0x26, 0x26, 0x26 }, p1)
    assert.are.equal(("q"):rep(PAGE), b:read())
  end)
end)
