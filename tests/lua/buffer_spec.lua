-- Buffers: bytes at a virtual address, backed by the machine's pages.
local dma = require "dma"

describe("buffer", function()
  local m
  before_each(function() m = dma.machine { ram = "4G", seed = 11 } end)
  after_each(function() m:close() end)

  it("sits at its byte offset and spans its pages", function()
    local b = m:buffer(48 * 1024, { offset = 0x234 })
    assert.are.equal(0x234, b.va % 4096)
    assert.are.equal(0x234, b.offset)
    assert.are.equal(49152, b.length)
    assert.are.equal(13, b.pages)
    assert.are.equal(13, #b:pfns())
    assert.are.equal("nonpaged", b.kind)
    assert.matches("^buffer#%d+ va=0x%x+234 length=49152 pages=13 nonpaged$", tostring(b))
  end)

  it("reads back what was written, and compares byte for byte", function()
    local b = m:buffer(10000, { offset = 4000 })
    local p = dma.pattern(10000, 5)
    b:write(0, p)
    assert.are.equal(p, b:read())
    assert.are.equal(p:sub(101, 200), b:read(100, 100))
    assert.is_true(b:compare(0, p))
    b:write(5000, "X")
    local same, at = b:compare(0, p)
    assert.is_false(same)
    assert.are.equal(5000, at)
    b:fill(0x41, 10, 5)
    assert.are.equal("AAAAA", b:read(10, 5))
  end)

  it("is written where its page table says: bytes read back by physical address", function()
    local b = m:buffer(3 * 4096, { offset = 100 })
    local p = dma.pattern(b.length, 9)
    b:write(0, p)
    for _, off in ipairs({ 0, 3995, 3996, 4095, 8191, b.length - 1 }) do
      assert.are.equal(p:sub(off + 1, off + 1), m:read_phys(b:pa(off), 1), "offset " .. off)
    end
    local pfns = b:pfns()
    assert.are.equal(pfns[2] * 4096, b:pa(3996))
  end)

  it("rejects ranges outside itself and bad options, naming the argument", function()
    local b = m:buffer(100)
    assert.has_error(function() b:read(90, 11) end,
      "bad argument #1 to 'read' (range [90, 101) outside the buffer of 100 bytes)")
    assert.has_error(function() b:write(99, "ab") end)
    assert.has_error(function() b:fill(256) end, "bad argument #1 to 'fill' (byte must be 0..255)")
    assert.has_error(function() m:buffer(0) end, "bad argument #1 to 'buffer' (length must be > 0)")
    assert.has_error(function() m:buffer(10, { offset = 4096 }) end)
    assert.has_error(function() m:buffer(10, { alloc = "nope" }) end)
    assert.has_error(function() m:buffer("10Q") end)
  end)

  it("fails cleanly when memory runs out, and frees its pages", function()
    local small = dma.machine { ram = "64K" }
    local b = small:buffer(60 * 1024)
    assert.has_error(function() small:buffer(8 * 1024) end)
    b:free()
    assert.are.equal("buffer (freed)", tostring(b))
    assert.has_error(function() b:read() end)
    small:buffer(64 * 1024)  -- all of it again
    small:close()
  end)

  it("frees itself when a to-be-closed variable goes out of scope", function()
    local free_before = m:stats().free_bytes
    do
      local b <close> = m:buffer(8192)
      assert.are.equal(free_before - 8192, m:stats().free_bytes)
      assert.truthy(b)
    end
    assert.are.equal(free_before, m:stats().free_bytes)
  end)

  it("stays allocated when only its handle is collected (deterministic pages)", function()
    local free_before = m:stats().free_bytes
    m:buffer(4096)
    collectgarbage()
    collectgarbage()
    assert.are.equal(free_before - 4096, m:stats().free_bytes)
  end)
end)
