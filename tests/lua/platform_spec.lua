-- platform_spec.lua: the platform what-ifs from Lua: dma.machine's iommu,
-- bounce_policy and swiotlb options (unknown values rejected with the valid
-- ones listed), m:iommu_stats / m:iommu_faults / m:swiotlb_stats, the
-- swiotlb_full trace record and its message, m:iommu_interface()'s WDK
-- names, and the identity mode's trace hashes (pinned: the seam changes
-- nothing without an IOMMU or swiotlb).
local dma = require "dma"
local support = require "support"

local PAGE = 4096

local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok)
  return tostring(err)
end

describe("dma.machine platform options", function()
  it("rejects unknown values and keys, naming the valid ones", function()
    local e = err_of(dma.machine, { bounce_policy = "freebsd" })
    local want = "bounce_policy: unknown value 'freebsd' (valid: \"windows\", \"swiotlb\")"
    assert.truthy(e:find(want, 1, true), e)
    e = err_of(dma.machine, { iommu = { mode = "lazy" } })
    assert.truthy(e:find("iommu.mode: unknown value 'lazy' (valid: \"strict\", \"deferred\")", 1, true), e)
    e = err_of(dma.machine, { iommu = { iotbl = 4 } })
    assert.truthy(e:find("unknown field 'iotbl', did you mean 'iotlb'?", 1, true), e)
    e = err_of(dma.machine, { swiotlb = { slot = 128 } })
    assert.truthy(e:find("unknown field 'slot'", 1, true), e)
    e = err_of(dma.machine, { iommu = "yes" })
    assert.truthy(e:find("iommu must be true, false or a table", 1, true), e)
    e = err_of(dma.machine, { bounce_policy = "swiotlb", swiotlb = { slots = 100 } })
    assert.truthy(e:find("swiotlb.slots must be a nonzero multiple of segment_slots", 1, true), e)
    e = err_of(dma.machine, { bounce_policy = "swiotlb", iommu = true })
    assert.truthy(e:find("cannot be combined with iommu", 1, true), e)
    e = err_of(dma.machine, { policy = "swiotlb" })
    assert.truthy(e:find("unknown field 'policy'", 1, true), e)
  end)

  it("gives statistics only for what is on", function()
    local m = support.machine {}
    assert.is_nil(m:iommu_stats())
    assert.is_nil(m:swiotlb_stats())
    assert.are.same({}, m:iommu_faults())
    m:close()
    m = support.machine { iommu = { mode = "deferred", iotlb = 8, miss_latency = "1us", flush_batch = 4 } }
    assert.are.equal(0, m:iommu_stats().mappings)
    m:close()
    m = support.machine { bounce_policy = "swiotlb", swiotlb = { slots = 256 } }
    local s = m:swiotlb_stats()
    assert.are.equal(256, s.io_tlb_nslabs)
    assert.are.equal(0, s.io_tlb_used)
    assert.are.equal(256 * 1024, s.max_mapping_size)
    m:close()
  end)
end)

describe("swiotlb fail-fast from Lua", function()
  it("returns STATUS_INSUFFICIENT_RESOURCES and traces Linux's message", function()
    local m = support.machine { ram = { { 0, "256M" }, { "4G", "1G" } }, alloc = "high_first",
                                bounce_policy = "swiotlb", swiotlb = { slots = 128 } }
    local a, _, dev = support.adapter(m, "sg32", 1024 * 1024)
    local lists = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    for i = 1, 4 do  -- four buffers: one buffer mapped twice is 0xE6/0x1D
      local b, mdl = support.buffer(m, 16 * PAGE)
      assert.are.equal(dma.STATUS_SUCCESS, a:GetScatterGatherList(dev, mdl, b.va, b.length,
        function(_, _, sg) lists[i] = sg end, nil, false))
    end
    local called = false
    local b, mdl = support.buffer(m, PAGE)
    assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES, a:GetScatterGatherList(dev, mdl, b.va, PAGE,
      function() called = true end, nil, false))
    assert.is_false(called)
    for _, sg in ipairs(lists) do a:PutScatterGatherList(sg, false) end
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    local rec = m:trace("swiotlb_full")[1]
    assert.are.equal("swiotlb buffer is full (sz: 4096 bytes), total 128 (slots), used 128 (slots)",
                     rec.message)
    assert.truthy(m:timeline():find("swiotlb buffer is full", 1, true))
    local s = m:swiotlb_stats(true)
    assert.are.equal(0, s.io_tlb_used)
    assert.are.equal(128, s.io_tlb_used_hiwater)
    assert.are.equal(0, m:swiotlb_stats().io_tlb_used_hiwater)  -- reset, as the debugfs file
    dma.PutDmaAdapter(a)
    m:close()
  end)
end)

describe("m:iommu_interface()", function()
  it("creates, attaches, maps an identity range and faults outside it", function()
    local m = support.machine { iommu = true, verifier = "record" }
    local dev = m:device { name = "nic" }
    local io = m:iommu_interface()
    assert.are.equal(3, io.Version)
    assert.are.equal(dma.STATUS_NOT_SUPPORTED, io.CreateDomainEx(dma.DomainTypePassThrough))
    local st, d = io.CreateDomainEx(dma.DomainTypeTranslate)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(dma.STATUS_SUCCESS, io.AttachDeviceEx(d, dev))
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, io.AttachDeviceEx(d, dev))
    local b = m:buffer(2 * PAGE, { alloc = "contiguous" })
    local pa = b:pfns()[1] * PAGE
    assert.are.equal(dma.STATUS_SUCCESS, io.MapIdentityRangeEx(d, dma.IOMMU_ACCESS_READ,
                                                               { base = pa, size = 2 * PAGE }))
    b:write(0, "hello")
    assert.are.equal("hello", m:device_read(pa, 5, "nic"))
    assert.is_false(m:device_write(pa, "x", "nic"))     -- read-only
    assert.is_nil(m:device_read(pa + 2 * PAGE, 1, "nic"))  -- not mapped
    local f = m:iommu_faults()
    assert.are.equal(2, #f)
    assert.are.equal("write", f[1].access)
    assert.are.equal(pa, f[1].iova)
    assert.are.equal(0x26, m:reports()[1].p1)
    assert.are.equal(dma.STATUS_INVALID_DEVICE_STATE, io.DeleteDomain(d))
    assert.are.equal(dma.STATUS_SUCCESS, io.UnmapIdentityRangeEx(d, { base = pa, size = 2 * PAGE }))
    assert.are.equal(dma.STATUS_SUCCESS, io.DetachDeviceEx(dev))
    assert.are.equal(dma.STATUS_SUCCESS, io.DeleteDomain(d))
    assert.are.equal(2, m:iommu_stats().faults)
    m:close()
  end)
end)

describe("the identity translation", function()
  it("keeps random_io's trace hashes of before the seam", function()
    local DMALAB = os.getenv("DMALAB") or "bin/dmalab"
    local p = assert(io.popen(("DMALAB_REQUESTS=40 DMALAB_SEED=1 %s scripts/scenarios/random_io.lua 2>&1")
                              :format(DMALAB)))
    local out = p:read("a")
    p:close()
    local hashes = {}
    for h in out:gmatch("trace hash (0x%x+)") do hashes[#hashes + 1] = h end
    -- the values of the tree just before the seam landed (the word-wise
    -- trace hash of the speed work already in it)
    assert.are.same({ "0x3a7f48e4fe69d04b", "0x81fc1cd8c309653c", "0x4d1a7dbe8bcc7ae5",
                      "0x79a17713b69050b7" }, hashes)
  end)
end)
