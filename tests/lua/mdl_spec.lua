-- MDLs through the WDK calls, against the reference (1.7) and the DDI rules.
local dma = require "dma"

describe("MDL", function()
  local m, b
  before_each(function()
    m = dma.machine { ram = "64G", seed = 7, alloc = "scattered" }
    b = m:buffer(48 * 1024, { offset = 0x234 })
  end)
  after_each(function() m:close() end)

  it("describes a buffer once built for nonpaged pool", function()
    local mdl = dma.IoAllocateMdl(b.va, b.length)
    assert.matches("^MDL#%d+ va=0x%x+234 bytes=49152 pages=13 not built$", tostring(mdl))
    dma.MmBuildMdlForNonPagedPool(mdl)
    assert.are.equal(b.va, dma.MmGetMdlVirtualAddress(mdl))
    assert.are.equal(49152, dma.MmGetMdlByteCount(mdl))
    assert.are.equal(0x234, dma.MmGetMdlByteOffset(mdl))
    assert.are.equal(b.va - 0x234, dma.MmGetMdlBaseVa(mdl))
    assert.are.equal(mdl.StartVa + mdl.ByteOffset, dma.MmGetMdlVirtualAddress(mdl))
    assert.are.same(b:pfns(), dma.MmGetMdlPfnArray(mdl))
    assert.are.equal(13, dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(dma.MmGetMdlVirtualAddress(mdl),
                                                            dma.MmGetMdlByteCount(mdl)))
    assert.are.equal(dma.MDL_SOURCE_IS_NONPAGED_POOL, mdl.MdlFlags)
    assert.matches("runs=%[pfn 0x%x+ ×1, .* … %d+ more%] nonpaged$", tostring(mdl))
  end)

  it("shows physically contiguous pages as one run", function()
    local c = m:buffer(5 * 4096, { alloc = "contiguous", offset = 16 })
    local mdl = dma.IoAllocateMdl(c.va, c.length)
    dma.MmBuildMdlForNonPagedPool(mdl)
    local pfns = c:pfns()
    assert.are.same({ { pfn = pfns[1], count = 6 } }, mdl:runs())
    assert.matches(("runs=%%[pfn 0x%x ×6%%]"):format(pfns[1]), tostring(mdl))
  end)

  it("probes and locks pages, refuses to free them while locked, unlocks", function()
    local paged = m:buffer(10000, { paged = true })
    local mdl = dma.IoAllocateMdl(paged.va, paged.length)
    assert.has_error(function() dma.MmBuildMdlForNonPagedPool(mdl) end,
      "bad argument #1 to 'MmBuildMdlForNonPagedPool' (range is paged pool (use MmProbeAndLockPages))")
    dma.MmProbeAndLockPages(mdl, dma.KernelMode, dma.IoWriteAccess)
    assert.are.equal(dma.MDL_PAGES_LOCKED | dma.MDL_WRITE_OPERATION, mdl.MdlFlags)
    assert.matches(" locked$", tostring(mdl))
    assert.has_error(function() paged:free() end)
    assert.has_error(function() dma.IoFreeMdl(mdl) end,
      "bad argument #1 to 'IoFreeMdl' (pages are still locked (MmUnlockPages first))")
    assert.has_error(function() dma.MmProbeAndLockPages(mdl, dma.KernelMode, dma.IoReadAccess) end)
    dma.MmUnlockPages(mdl)
    assert.are.equal(0, mdl.MdlFlags)
    assert.has_error(function() dma.MmUnlockPages(mdl) end,
      "bad argument #1 to 'MmUnlockPages' (MDL is not locked by MmProbeAndLockPages)")
    dma.IoFreeMdl(mdl)
    paged:free()
  end)

  it("raises an access violation for an unmapped range, and rejects bad modes", function()
    local mdl = dma.IoAllocateMdl(b.va + b.length - 10, 100)  -- runs off the buffer
    assert.has_error(function() dma.MmProbeAndLockPages(mdl, dma.KernelMode, dma.IoReadAccess) end)
    assert.has_error(function() dma.MmBuildMdlForNonPagedPool(mdl) end)
    local ok = dma.IoAllocateMdl(b.va, 10)
    assert.has_error(function() dma.MmProbeAndLockPages(ok, 7, dma.IoReadAccess) end,
      "bad argument #2 to 'MmProbeAndLockPages' (KernelMode or UserMode expected)")
    assert.has_error(function() dma.MmProbeAndLockPages(ok, dma.KernelMode, 3) end)
  end)

  it("rejects a zero length and returns nil beyond what an MDL can describe", function()
    assert.has_error(function() dma.IoAllocateMdl(b.va, 0) end,
      "bad argument #2 to 'IoAllocateMdl' (length must be > 0)")
    assert.is_nil(dma.IoAllocateMdl(b.va, 1 << 32))
    assert.has_error(function() dma.IoAllocateMdl("x", 10) end)
  end)

  it("builds partial MDLs over a sub-range of a locked source", function()
    local src = dma.IoAllocateMdl(b.va, b.length)
    dma.MmProbeAndLockPages(src, dma.KernelMode, dma.IoReadAccess)
    local va = b.va + 5000
    local part = dma.IoAllocateMdl(va, 10000)
    dma.IoBuildPartialMdl(src, part, va, 10000)
    assert.are.equal(va, dma.MmGetMdlVirtualAddress(part))
    assert.are.equal((0x234 + 5000) % 4096, dma.MmGetMdlByteOffset(part))
    assert.are.equal(10000, dma.MmGetMdlByteCount(part))
    local all, sub = dma.MmGetMdlPfnArray(src), dma.MmGetMdlPfnArray(part)
    local first = (0x234 + 5000) // 4096
    assert.are.equal(dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, 10000), #sub)
    for i = 1, #sub do assert.are.equal(all[first + i], sub[i]) end
    assert.truthy(part.MdlFlags & dma.MDL_PARTIAL ~= 0)
    assert.matches(("partial of MDL#%d$"):format(src.id), tostring(part))
    -- length 0: to the end of the source
    local rest = dma.IoAllocateMdl(va, b.length - 5000)
    dma.IoBuildPartialMdl(src, rest, va, 0)
    assert.are.equal(b.length - 5000, dma.MmGetMdlByteCount(rest))
    -- the partial is valid only while the source is locked
    dma.MmUnlockPages(src)
    assert.matches("%(source not locked%)$", tostring(part))
    dma.IoFreeMdl(src)
    assert.matches("partial %(source gone%)$", tostring(part))
    dma.MmPrepareMdlForReuse(part)
    assert.are.equal(0, part.MdlFlags & dma.MDL_PARTIAL)
  end)

  it("rejects partial MDLs outside the source, too small, or over unlocked pages", function()
    local src = dma.IoAllocateMdl(b.va, b.length)
    local small = dma.IoAllocateMdl(b.va, 100)
    assert.has_error(function() dma.IoBuildPartialMdl(src, small, b.va, 100) end,
      "bad argument #1 to 'IoBuildPartialMdl' (source pages are not locked or built)")
    dma.MmBuildMdlForNonPagedPool(src)
    assert.has_error(function() dma.IoBuildPartialMdl(src, small, b.va - 1, 10) end,
      "bad argument #3 to 'IoBuildPartialMdl' (range lies outside the source MDL)")
    assert.has_error(function() dma.IoBuildPartialMdl(src, small, b.va + b.length - 10, 20) end)
    assert.has_error(function() dma.IoBuildPartialMdl(src, small, b.va, 8192) end,
      "bad argument #2 to 'IoBuildPartialMdl' (target MDL was allocated too small for the range)")
    assert.has_error(function() dma.IoBuildPartialMdl(src, src, b.va, 10) end)
  end)

  it("chains through Next, refusing loops and clearing links to freed MDLs", function()
    local b2 = m:buffer(4096)
    local a, c = dma.IoAllocateMdl(b.va, b.length), dma.IoAllocateMdl(b2.va, b2.length)
    assert.is_nil(a.Next)
    a.Next = c
    assert.are.equal(c, a.Next)
    assert.matches(("next=MDL#%d$"):format(c.id), tostring(a))
    assert.has_error(function() c.Next = a end)
    assert.has_error(function() a.StartVa = 1 end,
      "field 'StartVa' of MDL is read-only (Next, ByteCount and ByteOffset may be set)")
    dma.IoFreeMdl(c)
    assert.is_nil(a.Next)
  end)

  it("refuses every use of a freed MDL or one whose machine is closed", function()
    local mdl = dma.IoAllocateMdl(b.va, b.length)
    dma.IoFreeMdl(mdl)
    assert.are.equal("MDL (freed)", tostring(mdl))
    assert.has_error(function() dma.MmGetMdlByteCount(mdl) end,
      "bad argument #1 to 'MmGetMdlByteCount' (MDL has been freed)")
    assert.has_error(function() dma.IoFreeMdl(mdl) end)
    assert.has_error(function() dma.MmBuildMdlForNonPagedPool({}) end)
    local other = dma.IoAllocateMdl(b.va, 10)
    m:close()
    assert.has_error(function() dma.MmGetMdlByteCount(other) end,
      "bad argument #1 to 'MmGetMdlByteCount' (its machine is closed)")
    assert.has_error(function() dma.IoAllocateMdl(0, 10) end)
  end)

  it("marks a built MDL stale when its buffer is freed", function()
    local mdl = dma.IoAllocateMdl(b.va, b.length)
    dma.MmBuildMdlForNonPagedPool(mdl)
    assert.are.equal(b.va, dma.MmGetSystemAddressForMdlSafe(mdl, dma.NormalPagePriority))
    assert.truthy(mdl.MdlFlags & dma.MDL_MAPPED_TO_SYSTEM_VA ~= 0)
    b:free()
    assert.matches("stale %(buffer freed%)$", tostring(mdl))
    assert.is_nil(dma.MmGetSystemAddressForMdlSafe(mdl, dma.NormalPagePriority))
  end)

  it("lives on when its handle is collected, and comes back through Next", function()
    local a = dma.IoAllocateMdl(b.va, b.length)
    a.Next = dma.IoAllocateMdl(b.va, 100)
    local id = a.Next.id
    collectgarbage()
    collectgarbage()
    assert.are.equal(id, a.Next.id)
    assert.are.equal(2, m:stats().mdls)
  end)

  it("is freed by a to-be-closed variable, unlocking first", function()
    do
      local mdl <close> = dma.IoAllocateMdl(b.va, b.length)
      dma.MmProbeAndLockPages(mdl, dma.KernelMode, dma.IoReadAccess)
    end
    assert.are.equal(0, m:stats().mdls)
    b:free()  -- not locked any more
  end)
end)
