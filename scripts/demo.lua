-- demo.lua: a 48 KiB buffer at a non-page-aligned address on a machine whose
-- pages are scattered; its MDL, physical runs, span pages, and a pattern
-- written through it and read back (by virtual and by physical address).
local dma = require "dma"
dma.export()  -- WDK names as globals (dmalab does this already; stock lua5.4 needs it)

local m = dma.machine { ram = "64G", seed = 7, alloc = "scattered" }
print(m)

local b = m:buffer(48 * 1024, { offset = 0x234 })
print(b)

local mdl = IoAllocateMdl(b.va, b.length)
MmBuildMdlForNonPagedPool(mdl)
print(mdl)

local va, n = MmGetMdlVirtualAddress(mdl), MmGetMdlByteCount(mdl)
print(("ADDRESS_AND_SIZE_TO_SPAN_PAGES(%s, %d) = %d  (byte offset 0x%x)"):format(
  dma.hex(va), n, ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, n), MmGetMdlByteOffset(mdl)))

print("physical runs:")
for i, run in ipairs(mdl:runs()) do
  print(("  %2d  pfn 0x%x  x%d  (pa 0x%x)"):format(i, run.pfn, run.count, run.pfn * PAGE_SIZE))
end

local pattern = dma.pattern(b.length, 42)
b:write(0, pattern)
assert(b:compare(0, pattern), "pattern did not read back through the buffer")

-- the same bytes seen the way a device would: by physical address, page by page
local pfns = MmGetMdlPfnArray(mdl)
local seen, got = {}, 0
for i, pfn in ipairs(pfns) do
  local first = (i == 1) and BYTE_OFFSET(va) or 0
  local len = math.min(PAGE_SIZE - first, n - got)
  seen[i] = m:read_phys(pfn * PAGE_SIZE + first, len)
  got = got + len
end
local physical = table.concat(seen)
print(("wrote %d bytes of pattern; read back by VA: %s; by physical address: %s"):format(
  #pattern, b:compare(0, pattern) and "identical" or "DIFFERENT",
  physical == pattern and "identical" or "DIFFERENT"))
assert(physical == pattern, "physical view differs")

IoFreeMdl(mdl)
b:free()
m:close()
