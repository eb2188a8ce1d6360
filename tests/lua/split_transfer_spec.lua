-- dma.split_transfer (seed 004, reference 1.4 and 5): the transfers a driver
-- must perform for a buffer, given its map registers and the device's limits.
local dma = require "dma"
local support = require "support"

local KiB, MiB = 1024, 1 << 20
local PAGE = 4096

local machine, buffer = support.machine, support.buffer

describe("dma.split_transfer", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  -- Checks the pieces cover [va, va+len) exactly, in order.
  local function covers(pieces, va, len)
    local at = va
    for _, p in ipairs(pieces) do
      assert.are.equal(at, p.va)
      assert.is_true(p.length > 0)
      at = at + p.length
    end
    assert.are.equal(va + len, at)
  end

  -- Physically contiguous runs in [va, va+len) of buffer b.
  local function runs(b, va, len)
    local n, last = 0, nil
    for off = va - b.va, va - b.va + len - 1 do
      local pa = b:pa(off)
      if pa ~= last then n = n + 1 end
      last = pa + 1
    end
    return n
  end

  it("needs 3 transfers for 12 map registers with 5 (seed 004)", function()
    m = machine { seed = 4 }
    local b, mdl = buffer(m, 11 * PAGE, { offset = 0x200 })
    assert.are.equal(12, dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va, b.length))
    local pieces = dma.split_transfer(mdl, 5)
    assert.are.equal(3, #pieces)
    covers(pieces, b.va, b.length)
    for _, p in ipairs(pieces) do
      assert.is_true(p.map_registers <= 5)
      assert.are.equal(dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(p.va, p.length), p.map_registers)
    end
    assert.are.same({ 5, 5, 2 },
                    { pieces[1].map_registers, pieces[2].map_registers, pieces[3].map_registers })
  end)

  it("splits 1 MiB into 8 transfers of 256 sectors (the AT disk limit)", function()
    m = machine { seed = 4 }
    local b, mdl = buffer(m, MiB, {})
    local pieces = dma.split_transfer(mdl, 64, { max_bytes = 256 * 512 })
    assert.are.equal(8, #pieces)
    covers(pieces, b.va, b.length)
    for _, p in ipairs(pieces) do assert.are.equal(128 * KiB, p.length) end
  end)

  it("keeps alignment and max_elements, and every piece within the registers", function()
    m = machine { seed = 4, alloc = "scattered" }
    local b, mdl = buffer(m, 40 * KiB, { offset = 0x345 })
    local pieces = dma.split_transfer(mdl, 5, { alignment = 512 })
    covers(pieces, b.va, b.length)
    for i, p in ipairs(pieces) do
      assert.is_true(p.map_registers <= 5)
      if i < #pieces then assert.are.equal(0, p.length % 512) end
    end
    local few = dma.split_transfer(mdl, 16, { max_elements = 2 })
    covers(few, b.va, b.length)
    assert.is_true(#few > 1)
    for _, p in ipairs(few) do
      assert.are.equal(runs(b, p.va, p.length), p.elements)
      assert.is_true(p.elements <= 2)
    end
    local part = dma.split_transfer(mdl, 3, { va = b.va + 5000, length = 20000 })
    covers(part, b.va + 5000, 20000)
  end)

  it("rejects a range outside the MDL and zero registers", function()
    m = machine {}
    local b, mdl = buffer(m, 4 * PAGE, {})
    assert.has_error(function() dma.split_transfer(mdl, 0) end)
    assert.has_error(function() dma.split_transfer(mdl, 4, { va = b.va + 100, length = 4 * PAGE }) end)
  end)
end)
