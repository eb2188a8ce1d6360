-- Simulated memory costs host memory only when touched, and a machine-level
-- cap bounds what it may take (README "Limits and safety", issue 16 item 4).
local dma = require "dma"
local support = require "support"

local machine = support.machine

describe("lazy simulated memory", function()
  it("a machine with 2^50 bytes of RAM costs nothing up front", function()
    local m = machine { ram = 1 << 50 }
    assert.are.equal(1 << 50, m:stats().ram_bytes)
    assert.is_true(m:stats().host_bytes < 1 << 20, m:stats().host_bytes)
    local b = m:buffer("1T", { alloc = "contiguous" })
    assert.are.equal(0, m:stats().touched_pages)
    b:free()
    m:close()
  end)

  it("fill_phys with zeros over 1 TiB stores no page", function()
    local m = machine { ram = "2T" }
    m:write_phys(4096, "abc")
    assert.are.equal(1, m:stats().touched_pages)
    m:fill_phys(0, 0, 1 << 40)
    assert.are.equal(0, m:stats().touched_pages)
    assert.are.equal("\0\0\0", m:read_phys(4096, 3))
    m:close()
  end)

  it("b:fill(0) over a 1 TiB buffer stores nothing and forgets what was written", function()
    local m = machine { ram = "4T" }
    local b = m:buffer("1T")
    b:write(12345, "abc")
    b:fill(0x11, 4096, 4096)
    assert.are.equal(2, m:stats().touched_pages)
    local t0 = os.clock()
    b:fill(0)
    assert.is_true(os.clock() - t0 < 1)
    assert.are.equal(0, m:stats().touched_pages)
    assert.are.equal("\0\0", b:read(4096, 1) .. b:read(12345, 1))
    b:free()
    m:close()
  end)

  it("RAM ending beyond 2^52 and overflowing sizes are refused", function()
    local ok, err = pcall(dma.machine, { ram = { { 1 << 52, 4096 } } })
    assert.is_false(ok)
    assert.matches("2%^52", err)
    ok = pcall(dma.machine, { ram = { { (1 << 62), 1 << 62 } } })
    assert.is_false(ok)
    assert.has_error(function() dma.size("0xFFFFFFFFFFFFFFFF") end)
  end)
end)

describe("limits = { host_memory = }", function()
  it("stops a fill that would pass it, naming the limit, and the machine stays usable", function()
    local m = machine { ram = "4T", limits = { host_memory = "8M" } }
    assert.are.equal(8 << 20, m.limits.host_memory)
    local ok, err = pcall(m.fill_phys, m, 0, 0xAA, 1 << 40)
    assert.is_false(ok)
    assert.matches("limit: host_memory: simulated RAM may take at most 8388608 bytes", err)
    assert.matches("m:fill_phys", err)
    assert.is_true(m:stats().host_bytes <= 8 << 20)
    ok, err = pcall(m.write_phys, m, 1 << 39, "x")
    assert.is_false(ok)
    assert.matches("limit: host_memory", err)
    m:fill_phys(0, 0, 1 << 40)  -- zeros give the pages back
    m:write_phys(1 << 39, "ok")
    assert.are.equal("ok", m:read_phys(1 << 39, 2))
    local b = m:buffer("1M")
    b:fill(0x55)
    ok, err = pcall(b.fill, b, 0x66)  -- within what is stored already: fine
    assert.is_true(ok, err)
    assert.are.equal(0x66, b:read(0, 1):byte())
    m:close()
  end)

  it("stops a device's DMA write that would pass it", function()
    local m = machine { ram = "1G", limits = { host_memory = "2M" } }
    local dev = m:device { name = "nic0" }
    local a = dma.IoGetDmaAdapter(dev, { Version = dma.DEVICE_DESCRIPTION_VERSION2,
      Master = dma.TRUE, InterfaceType = dma.PCIBus, MaximumLength = 64 * 1024,
      Dma32BitAddresses = true })
    local va, logical = a:AllocateCommonBuffer(4 << 20, false)
    local ok, err = pcall(m.device_write, m, logical, string.rep("x", 4 << 20))
    assert.is_false(ok)
    assert.matches("limit: host_memory", err)
    a:FreeCommonBuffer(4 << 20, logical, va, false)
    local b = m:buffer("8K")
    b:write(0, "y")
    assert.are.equal("y", b:read(0, 1))
    dma.PutDmaAdapter(a)
    m:close()
  end)

  it("0 is no limit; a bad value is an error naming it", function()
    local m = machine { limits = { host_memory = 0 } }
    assert.are.equal(0, m.limits.host_memory)
    m:close()
    local ok, err = pcall(dma.machine, { limits = { host_memory = "lots" } })
    assert.is_false(ok)
    assert.matches("limits.host_memory must be a size", err)
    ok, err = pcall(dma.machine, { limits = { host_memory = -1 } })
    assert.is_false(ok)
    assert.matches("limits.host_memory must be a non%-negative integer", err)
  end)
end)
