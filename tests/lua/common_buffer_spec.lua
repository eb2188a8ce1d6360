-- Common buffers (reference 1.6): AllocateCommonBuffer / FreeCommonBuffer.
local dma = require "dma"
local support = require "support"

local KiB, GiB = 1024, 1 << 30
local PAGE = 4096

local machine = support.machine

local function adapter(m, bits)
  local dev = m:device { name = "cb" .. bits }
  return (dma.IoGetDmaAdapter(dev, {
    Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, InterfaceType = dma.PCIBus,
    Dma32BitAddresses = bits >= 32, Dma64BitAddresses = bits == 64, MaximumLength = 64 * KiB }))
end

describe("AllocateCommonBuffer", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("gives memory the CPU and the device share, contiguous and below the ceiling", function()
    m = machine { ram = "16G", seed = 21, alloc = "high_first" }
    for _, bits in ipairs { 24, 32, 64 } do
      local a = adapter(m, bits)
      local len = 40 * KiB
      local va, logical = a.DmaOperations.AllocateCommonBuffer(a, len, false)
      assert.is_not_nil(va, bits)
      assert.is_true(logical + len - 1 <= a.ceiling or a.ceiling == 0xFFFFFFFFFFFFFFFF, bits)
      assert.are.equal(logical >> 32, (logical + len - 1) >> 32, bits)  -- no 4 GiB crossing
      local cpu = dma.pattern(len, bits)
      m:write(va, cpu)
      assert.are.equal(cpu, m:device_read(logical, len), bits)
      assert.are.equal(cpu, m:read_phys(logical, len), bits)  -- one physical run
      local dev = dma.pattern(len, bits + 100)
      assert.is_true(m:device_write(logical, dev))
      assert.are.equal(dev, m:read(va, len), bits)
      a:FreeCommonBuffer(len, logical, va, false)
      assert.has_error(function() m:read(va, 1) end)
    end
    assert.are.same({}, m:reports())
  end)

  it("does not cross a 4 GiB boundary", function()
    -- the only RAM: 8 KiB below 4 GiB and 64 KiB above (and the map registers' 256 KiB)
    m = machine { ram = { { "1M", "256K" }, { 4 * GiB - 8 * KiB, 72 * KiB } } }
    local a = adapter(m, 64)
    local va, logical = a:AllocateCommonBuffer(16 * KiB, false)
    assert.is_not_nil(va)
    assert.are.equal(4 * GiB, logical)
    local low = adapter(m, 32)
    assert.is_nil(low:AllocateCommonBuffer(16 * KiB, false))  -- 8 KiB below its ceiling
    local lva, llogical = low:AllocateCommonBuffer(8 * KiB, false)
    assert.is_not_nil(lva)
    assert.are.equal(4 * GiB - 8 * KiB, llogical)
    a:FreeCommonBuffer(16 * KiB, logical, va, false)
    low:FreeCommonBuffer(8 * KiB, llogical, lva, false)
  end)

  it("gives a 32-bit device nil when RAM is only above 4 GiB", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } } }
    assert.is_nil(adapter(m, 32):AllocateCommonBuffer(4096, false))
    local wide = adapter(m, 64)
    local va, logical = wide:AllocateCommonBuffer(4096, false)
    assert.is_not_nil(va)
    wide:FreeCommonBuffer(4096, logical, va, false)
    assert.are.same({}, m:reports())
  end)

  it("reports a double free (0x03) and an unmapped device access after the free", function()
    m = machine { verifier = "record" }
    local a = adapter(m, 32)
    local va, logical = a:AllocateCommonBuffer(5000, true)
    a:FreeCommonBuffer(5000, logical + PAGE, va, true)  -- not this buffer's logical address
    assert.are.equal(0x03, m:reports()[1].p1)
    assert.is_not_nil(m:device_read(logical, 8))        -- still allocated
    a:FreeCommonBuffer(5000, logical, va, true)
    assert.are.equal(1, #m:reports())
    assert.is_nil(m:device_read(logical, 8))
    a:FreeCommonBuffer(5000, logical, va, true)
    local r = m:reports()
    assert.are.equal(3, #r)
    assert.are.equal(0x26, r[2].p1)
    assert.are.equal(0x03, r[3].p1)
    assert.are.equal(0xE6, r[3].bugcheck)
    assert.matches("FreeCommonBuffer", r[3].message)
  end)
end)
