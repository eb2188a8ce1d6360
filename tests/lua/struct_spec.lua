-- dma.struct and typed access: a descriptor layout declared once (C's
-- natural alignment, arrays, nested structs) read and written in a common
-- buffer as the C driver does; m:read_u32 / m:write_u16...; no garbage per
-- scalar field access. The layout rules are the core's (test_layout.c).
local dma = require "dma"
local support = require "support"
dma.export()

local DESC = dma.struct { { "Status", "ULONG" }, { "Link", "ULONG" }, { "BufferAddress", "ULONG64" },
                          { "Length", "USHORT" } }

describe("dma.struct", function()
  local m
  before_each(function() m = support.machine {} end)
  after_each(function() m:close() end)

  it("lays a descriptor out as C does", function()
    assert.are.same({ 24, 8 }, { DESC.size, DESC.align })
    assert.are.same({ 0, 4, 8, 16 }, { DESC:offset("Status"), DESC:offset("Link"),
                                       DESC:offset("BufferAddress"), DESC:offset("Length") })
    local INNER = dma.struct { { "a", "UCHAR" }, { "b", "USHORT" } }
    local OUTER = dma.struct { { "c", "UCHAR" }, { "in", INNER, 3 }, { "tail", "UCHAR", 5 }, { "x", "LONG" } }
    assert.are.same({ 4, 24, 2, 14, 20 }, { INNER.size, OUTER.size, OUTER:offset("in"), OUTER:offset("tail"),
                                           OUTER:offset("x") })
  end)

  it("reads and writes a ring of descriptors in a common buffer, 0-based", function()
    local va = ExAllocatePool2(POOL_FLAG_NON_PAGED, 4 * DESC.size, "Ring")
    local ring = DESC:array(m, va, 4)
    assert.are.equal(4, #ring)
    for i = 0, 3 do
      local d = ring[i]
      d.Status, d.Link, d.BufferAddress, d.Length = 0x80000000 | i, (i + 1) % 4, 0x1234500000 + i, 1500
    end
    assert.are.equal(string.pack("<I4I4I8I2", 0x80000002, 3, 0x1234500002, 1500), m:read(va + 48, 18))
    assert.are.equal(va + 24, ring[1]._address)
    assert.are.equal(DESC, ring[1]._type)
    assert.are.equal(0x80000003, m:read_u32(va + 72))
    m:write_u16(va + 16, 60)
    assert.are.equal(60, DESC:at(m, va).Length)
    assert.has_error(function() return ring[4] end, "index 4 out of range: the array has 4 elements (0 .. 3)")
    assert.has_error(function() ring[0].Length = 0x10000 end)
    assert.has_error(function() ring[0].Nope = 1 end)
    ExFreePool(va)
    assert.has_error(function() return ring[0].Status end)
  end)

  it("reads signed fields sign-extended, arrays and nested structs", function()
    local T = dma.struct { { "x", "LONG" }, { "b", "UCHAR", 3 }, { "p", "PHYSICAL_ADDRESS" },
                           { "s", dma.struct { { "w", "USHORT" } }, 2 } }
    local va = ExAllocatePool2(POOL_FLAG_NON_PAGED, T.size, "Strc")
    local t = T:at(m, va)
    t.x = -2
    assert.are.equal(-2, t.x)
    assert.are.equal(0xFFFFFFFE, m:read_u32(va))
    t.b[2] = 7
    t.s[1].w = 9
    assert.are.same({ 3, 7, 9 }, { #t.b, m:read_u8(va + 6), m:read_u16(va + 16 + 2) })
    assert.has_error(function() t.b = 1 end)
    ExFreePool(va)
  end)

  it("rejects bad declarations", function()
    assert.has_error(function() dma.struct {} end)
    assert.has_error(function() dma.struct { { "a", "FLOAT" } } end)
    assert.has_error(function() dma.struct { { "a", "ULONG" }, { "a", "ULONG" } } end)
    assert.has_error(function() dma.struct { { "a", "ULONG", 0 } } end)
  end)

  it("allocates nothing per scalar field access", function()
    local va = ExAllocatePool2(POOL_FLAG_NON_PAGED, DESC.size, "Ring")
    local d, x = DESC:at(m, va), 0
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for i = 1, 10000 do
      d.Length = i & 0xFFFF
      x = x + d.Length + m:read_u32(va)
    end
    local grown = collectgarbage("count") - before
    collectgarbage("restart")
    assert.are.equal(0, grown)
    assert.is_true(x > 0)
    ExFreePool(va)
  end)
end)
