-- A scenario with cases: a buffer through an MDL, byte for byte.
local dma = require "dma"

describe("an MDL", function()
  local m = dma.machine { ram = "1G", seed = 3 }
  local b <close> = m:buffer(10000, { offset = 0x10 })
  it("spans the pages of its buffer", function()
    local mdl = IoAllocateMdl(b.va, b.length)
    MmBuildMdlForNonPagedPool(mdl)
    assert(ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va, b.length) == 3)
    IoFreeMdl(mdl)
  end)
  it("reads back what was written", function()
    b:write(0, dma.pattern(b.length, 1))
    assert(b:compare(0, dma.pattern(b.length, 1)))
  end)
end)
