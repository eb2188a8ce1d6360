-- The WDK page macros, against their definitions in the reference (1.7).
local dma = require "dma"

describe("page macros", function()
  before_each(function() dma.machine { ram = "1G" } end)

  it("ADDRESS_AND_SIZE_TO_SPAN_PAGES equals (BYTE_OFFSET(va)+n+4095)>>12 over a grid", function()
    local offsets = { 0, 1, 0x234, 2048, 4095 }
    local lengths = { 0, 1, 2, 4095, 4096, 4097, 8191, 8192, 49152, 65536 + 3, 1 << 20 }
    for _, page in ipairs({ 0, 0xA0000000000, 0x7ffff000 }) do
      for _, off in ipairs(offsets) do
        for _, n in ipairs(lengths) do
          local va = page + off
          assert.are.equal((((va & 4095) + n + 4095) >> 12),
                           dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, n),
                           ("va=0x%x n=%d"):format(va, n))
        end
      end
    end
  end)

  it("gives 13 span pages for 48 KiB at offset 0x234 and 12 when page-aligned", function()
    assert.are.equal(13, dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1234, 48 * 1024))
    assert.are.equal(12, dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 48 * 1024))
  end)

  it("BYTES_TO_PAGES rounds up", function()
    assert.are.same({ 0, 1, 1, 2, 3 }, {
      dma.BYTES_TO_PAGES(0), dma.BYTES_TO_PAGES(1), dma.BYTES_TO_PAGES(4096),
      dma.BYTES_TO_PAGES(4097), dma.BYTES_TO_PAGES(3 * 4096) })
  end)

  it("BYTE_OFFSET, PAGE_ALIGN and ROUND_TO_PAGES", function()
    assert.are.equal(0x234, dma.BYTE_OFFSET(0xA0000001234))
    assert.are.equal(0xA0000001000, dma.PAGE_ALIGN(0xA0000001234))
    assert.are.equal(8192, dma.ROUND_TO_PAGES(4097))
    assert.are.equal(4096, dma.ROUND_TO_PAGES(4096))
  end)

  it("follow the page size of the current machine", function()
    local big = dma.machine { ram = "1G", page_size = "16K" }
    assert.are.equal(16384, dma.PAGE_SIZE)
    assert.are.equal(14, dma.PAGE_SHIFT)
    assert.are.equal(2, dma.BYTES_TO_PAGES(16385))
    assert.are.equal(0x234, dma.BYTE_OFFSET(0x4234))
    local env = dma.export({})
    assert.are.equal(16384, env.PAGE_SIZE)
    dma.machine { ram = "1G" }
    assert.are.equal(4096, env.PAGE_SIZE)
    assert.are.equal(4096, dma.PAGE_SIZE)
    big:close()
  end)

  it("reject negative and non-integer arguments, naming the argument", function()
    assert.has_error(function() dma.BYTES_TO_PAGES(-1) end,
      "bad argument #1 to 'BYTES_TO_PAGES' (must not be negative)")
    assert.has_error(function() dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(0, "x") end)
  end)

  it("NT_SUCCESS separates success and informational codes from errors", function()
    assert.is_true(dma.NT_SUCCESS(dma.STATUS_SUCCESS))
    assert.is_true(dma.NT_SUCCESS(dma.STATUS_PENDING))
    assert.is_false(dma.NT_SUCCESS(dma.STATUS_INSUFFICIENT_RESOURCES))
    assert.is_false(dma.NT_SUCCESS(dma.STATUS_DEVICE_BUSY))
  end)
end)

describe("dma.export", function()
  it("copies exactly the capitalised (WDK) names", function()
    local env = dma.export({})
    assert.are.equal(dma.IoAllocateMdl, env.IoAllocateMdl)
    assert.are.equal(dma.STATUS_SUCCESS, env.STATUS_SUCCESS)
    assert.is_true(env.TRUE)
    assert.is_nil(env.machine)
    assert.is_nil(env.pattern)
    for k in pairs(env) do assert.truthy(k:match("^%u"), k) end
  end)
end)
