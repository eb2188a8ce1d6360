-- Machines: options, RAM ranges, seeded allocation, physical bytes, the clock.
local dma = require "dma"
local support = require "support"

local GiB = 1 << 30

local rss_kib = support.rss_kib

local function buffer_pfns(m, n, opts)
  local b = m:buffer(n, opts)
  local pfns = b:pfns()
  b:free()
  return pfns
end

describe("dma.machine", function()
  it("describes itself and becomes current", function()
    local m = dma.machine { ram = "64G", seed = 7, alloc = "scattered" }
    assert.are.equal("machine seed=7 ram=64 GiB in 1 range page=4096 alloc=scattered t=0ns",
                     tostring(m))
    assert.are.equal(m, dma.current())
    assert.are.equal(7, m.seed)
    assert.are.equal(4096, m.page_size)
    assert.are.same({ { base = 0, size = 64 * GiB } }, m.ram)
  end)

  it("takes RAM as ranges: only above 4 GiB, or with a hole under 4 GiB", function()
    local high = dma.machine { ram = { { "4G", "8G" } }, alloc = "low_first" }
    for _, pfn in ipairs(buffer_pfns(high, 1 << 20)) do
      assert.is_true(pfn * 4096 >= 4 * GiB)
    end
    local holed = dma.machine { ram = { { 0, "3G" }, { base = "4G", size = "4G" } },
                                alloc = "contiguous" }
    assert.are.equal(2, #holed.ram)
    assert.has_error(function() holed:read_phys(3 * GiB, 16) end,
      "bad argument #1 to 'read_phys' (range is not RAM)")
  end)

  it("rejects bad options with an error naming the argument", function()
    assert.has_error(function() dma.machine { ram = { { 0, 4097 } } } end)
    assert.has_error(function() dma.machine { ram = { { 0, "2G" }, { "1G", "2G" } } } end)
    assert.has_error(function() dma.machine { page_size = 1000 } end)
    assert.has_error(function() dma.machine { ram = "lots" } end)
    assert.has_error(function() dma.machine { seed = 1.5 } end,
      "bad argument #1 to 'machine' (seed must be an integer)")
    local ok, err = pcall(dma.machine, { alloc = "sideways" })
    assert.is_false(ok)
    assert.matches("alloc", err)
  end)

  it("gives the same PFNs for the same seed and different ones for another", function()
    local a = buffer_pfns(dma.machine { seed = 1 }, 64 * 4096)
    local b = buffer_pfns(dma.machine { seed = 1 }, 64 * 4096)
    local c = buffer_pfns(dma.machine { seed = 2 }, 64 * 4096)
    assert.are.same(a, b)
    assert.are_not.same(a, c)
  end)

  it("allocates by policy", function()
    local m = dma.machine { ram = "16G" }
    local contiguous = buffer_pfns(m, 16 * 4096, { alloc = "contiguous" })
    for i = 2, #contiguous do assert.are.equal(contiguous[i - 1] + 1, contiguous[i]) end
    local high = buffer_pfns(m, 4 * 4096, { alloc = "high_first" })
    for _, pfn in ipairs(high) do assert.is_true(pfn >= (4 * GiB) // 4096) end
    local low = buffer_pfns(m, 4 * 4096, { alloc = "low_first" })
    assert.are.same({ 0, 1, 2, 3 }, low)
  end)

  it("reads and writes physical memory, zeros where nothing was written", function()
    local m = dma.machine { ram = "1G" }
    m:write_phys(4096 - 3, "abcdef")
    assert.are.equal("abcdef", m:read_phys(4096 - 3, 6))
    assert.are.equal(("\0"):rep(8), m:read_phys(1 << 20, 8))
    m:fill_phys(8192, 0x5a, 3)
    assert.are.equal("ZZZ", m:read_phys(8192, 3))
    assert.has_error(function() m:write_phys(GiB - 2, "xyz") end)
  end)

  it("starts a 1 TiB machine and runs a scenario within a small resident size", function()
    collectgarbage()
    local before = rss_kib()
    local m = dma.machine { ram = "1T", seed = 3 }
    for i = 1, 64 do
      local b = m:buffer(64 * 1024, { offset = i })
      b:write(0, dma.pattern(b.length, i))
      local mdl = dma.IoAllocateMdl(b.va, b.length)
      dma.MmBuildMdlForNonPagedPool(mdl)
      assert.is_true(b:compare(0, dma.pattern(b.length, i)))
      dma.IoFreeMdl(mdl)
      if i % 2 == 0 then b:free() end
    end
    local st = m:stats()
    assert.are.equal(1 << 40, st.ram_bytes)
    assert.is_true(st.host_bytes < 8 << 20, "host_bytes " .. st.host_bytes)
    assert.is_true(rss_kib() - before < 32 * 1024, "RSS grew by " .. (rss_kib() - before) .. " KiB")
    m:close()
  end)

  it("closes once and refuses use afterwards", function()
    local m = dma.machine { ram = "1G" }
    local b = m:buffer(100)
    m:close()
    m:close()
    assert.are.equal("machine (closed)", tostring(m))
    assert.has_error(function() m:buffer(1) end,
      "calling 'buffer' on bad self (machine is closed)")
    assert.has_error(function() b:read() end)
  end)
end)

describe("the clock", function()
  it("runs callbacks in time order, ties in scheduling order", function()
    local m = dma.machine { ram = "1G" }
    local seen = {}
    m:after("2us", function() seen[#seen + 1] = "b@" .. m.now end)
    m:after(1000, function() seen[#seen + 1] = "a1@" .. m.now end)
    m:after("1us", function() seen[#seen + 1] = "a2@" .. m.now end)
    assert.are.equal(3, m:run())
    assert.are.same({ "a1@1000", "a2@1000", "b@2000" }, seen)
  end)

  it("runs until a time, steps, and cancels", function()
    local m = dma.machine { ram = "1G" }
    local fired = 0
    m:after("1ms", function() fired = fired + 1 end)
    local t = m:after("3ms", function() fired = fired + 10 end)
    assert.are.equal(1, m:run_until("2ms"))
    assert.are.equal(2000000, m.now)
    assert.is_true(m:cancel(t))
    assert.is_false(m:cancel(t))
    assert.is_false(m:step())
    assert.are.equal(1, fired)
  end)

  it("cancels only a pending m:after: a stale or made-up id cancels no one else's callback", function()
    local m = dma.machine { ram = "1G" }
    local fired = {}
    local first = m:after(100, function() fired[#fired + 1] = "first" end)
    m:run()
    local second = m:after(100, function() fired[#fired + 1] = "second" end)
    assert.are_not.equal(first, second)  -- ids are never handed out twice
    assert.is_false(m:cancel(first))     -- it ran: nothing to cancel
    assert.is_false(m:cancel(12345))     -- never returned by m:after
    assert.is_false(m:cancel(-1))
    m:run()
    assert.are.same({ "first", "second" }, fired)
    m:close()
  end)

  it("lets a callback schedule more work and reports its errors with a traceback", function()
    local m = dma.machine { ram = "1G" }
    local n = 0
    local function tick()
      n = n + 1
      if n < 5 then m:after(10, tick) end
    end
    m:after(10, tick)
    m:run()
    assert.are.equal(5, n)
    assert.are.equal(50, m.now)
    m:after(1, function() error("device on fire") end)
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("device on fire", err)
    assert.matches("stack traceback", err)
  end)
end)
