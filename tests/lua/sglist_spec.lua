-- Scatter/gather lists (reference 1.5): Calculate/Get/Build/PutScatterGatherList.
local dma = require "dma"
local support = require "support"

local KiB = 1024
local PAGE = 4096

local machine, adapter, buffer, p1s = support.machine, support.adapter, support.buffer, support.p1s

-- Physically contiguous runs of a buffer (page granularity from its PFNs).
local function runs(b)
  local pfns, n = b:pfns(), 1
  for i = 2, #pfns do if pfns[i] ~= pfns[i - 1] + 1 then n = n + 1 end end
  return n
end

-- Elements of a list as a Lua array of {Address, Length}, checking the count.
local function elements(sg)
  local out = {}
  for i = 0, sg.NumberOfElements - 1 do
    out[#out + 1] = { sg.Elements[i].Address, sg.Elements[i].Length }
  end
  assert.is_nil(sg.Elements[sg.NumberOfElements])
  return out
end

-- What the device reads through every element, concatenated.
local function device_bytes(m, els)
  local parts = {}
  for i, e in ipairs(els) do parts[i] = m:device_read(e[1], e[2]) end
  return table.concat(parts)
end

describe("CalculateScatterGatherList", function()
  local m
  after_each(function()
    m:close()
    m = nil
  end)

  it("gives the worst case without an MDL, and the real need with one", function()
    m = machine { seed = 11, alloc = "scattered" }
    local b, mdl = buffer(m, 10 * PAGE, { offset = 0x10 })
    local span = dma.ADDRESS_AND_SIZE_TO_SPAN_PAGES(b.va, b.length)
    assert.are.equal(11, span)
    local sg64 = adapter(m, "sg64")
    local st, size, regs = sg64:CalculateScatterGatherList(nil, b.va, b.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24 * span, size)  -- one element per page, x64 layout
    assert.are.equal(0, regs)                -- a 64-bit S/G master uses none
    local sg32 = adapter(m, "sg32")
    st, size, regs = sg32.DmaOperations.CalculateScatterGatherList(sg32, nil, b.va, b.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24 * span, size)
    assert.are.equal(span, regs)
    local pk = adapter(m, "packet32")
    st, size, regs = pk:CalculateScatterGatherList(nil, b.va, b.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24, size)  -- a packet device gets one element
    assert.are.equal(span, regs)
    -- with the MDL: one element per physical run
    st, size, regs = sg64:CalculateScatterGatherList(mdl, b.va, b.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24 * runs(b), size)
    assert.are.equal(0, regs)
    st, size, regs = pk:CalculateScatterGatherList(mdl, b.va, b.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24, size)  -- still one element: the packet device's bounce
    assert.are.equal(span, regs)
    local c, cmdl = buffer(m, 10 * PAGE, { offset = 0x10, alloc = "contiguous" })
    st, size = sg64:CalculateScatterGatherList(cmdl, c.va, c.length)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(16 + 24, size)
    st = sg64:CalculateScatterGatherList(cmdl, c.va, c.length + 1)
    assert.are.equal(dma.STATUS_BUFFER_TOO_SMALL, st)  -- Length past the end (issue 15)
    -- any IRQL
    dma.KeRaiseIrql(dma.HIGH_LEVEL)
    st = sg64:CalculateScatterGatherList(nil, c.va, c.length)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.same({}, m:reports())
  end)
end)

describe("GetScatterGatherList", function()
  local m
  after_each(function() m = support.close(m) end)

  it("calls AdapterListControl at DISPATCH_LEVEL with elements covering the buffer", function()
    m = machine { seed = 11, alloc = "scattered" }
    local b, mdl = buffer(m, 6 * PAGE, { offset = 0x321 }, 5)
    local a, _, dev = adapter(m, "sg64")
    local ctx, got = {}, nil
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local status = a:GetScatterGatherList(dev, mdl, b.va, b.length, function(d, irp, sg, c)
      got = { d = d, irp = irp, c = c, irql = dma.KeGetCurrentIrql(), els = elements(sg), sg = sg,
              bytes = nil }
      got.bytes = device_bytes(m, got.els)
    end, ctx, true)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    assert.are.equal(dev, got.d)
    assert.is_nil(got.irp)
    assert.are.equal(ctx, got.c)
    assert.are.equal(dma.DISPATCH_LEVEL, got.irql)
    assert.are.equal(runs(b), #got.els)
    assert.is_true(#got.els > 1)
    assert.are.equal(b:pa(0), got.els[1][1])
    assert.are.equal(b:read(), got.bytes)
    a:PutScatterGatherList(got.sg, true)
    assert.are.equal(1, a:stats().sg_lists)
  end)

  it("gives a packet device a one-element list through bounce registers", function()
    m = machine { seed = 11, alloc = "scattered" }
    local b, mdl = buffer(m, 5 * PAGE, { offset = 0x40 }, 6)
    local a, _, dev = adapter(m, "packet32")
    local els
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:GetScatterGatherList(dev, mdl, b.va, b.length, function(_, _, sg)
      els = elements(sg)
      assert.are.equal(b:read(), device_bytes(m, els))
      a:PutScatterGatherList(sg, true)
    end, nil, true)
    assert.are.equal(1, #els)
    assert.are.equal(b.length, els[1][2])
    assert.are.equal(0, a:stats().map_registers_held)
  end)

  it("refuses a transfer needing too many registers: STATUS_INSUFFICIENT_RESOURCES", function()
    m = machine {}
    local b, mdl = buffer(m, 12 * PAGE, {})
    local a, nmr, dev = adapter(m, "packet32", 16 * KiB)
    assert.are.equal(5, nmr)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ran = false
    local status = a:GetScatterGatherList(dev, mdl, b.va, b.length, function() ran = true end, nil, true)
    assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES, status)
    assert.is_false(ran)
    status = a:GetScatterGatherList(dev, mdl, b.va, 5 * PAGE, function(_, _, sg)
      ran = true
      a:PutScatterGatherList(sg, true)
    end, nil, true)
    assert.are.equal(dma.STATUS_SUCCESS, status)
    assert.is_true(ran)
  end)

  it("BuildScatterGatherList refuses a too-small buffer: STATUS_BUFFER_TOO_SMALL", function()
    m = machine { seed = 11, alloc = "scattered" }
    local b, mdl = buffer(m, 4 * PAGE, { offset = 8 })
    local a, _, dev = adapter(m, "sg64")
    local _, size = a:CalculateScatterGatherList(mdl, b.va, b.length)
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ran = 0
    local function put(_, _, sg)
      ran = ran + 1
      a:PutScatterGatherList(sg, true)
    end
    assert.are.equal(dma.STATUS_BUFFER_TOO_SMALL,
      a:BuildScatterGatherList(dev, mdl, b.va, b.length, put, nil, true, nil, size - 1))
    assert.are.equal(0, ran)
    assert.are.equal(dma.STATUS_SUCCESS,
      a:BuildScatterGatherList(dev, mdl, b.va, b.length, put, nil, true, nil, size))
    assert.are.equal(1, ran)
  end)

  it("PutScatterGatherList copies a read back and frees the registers; a second put is 0x06", function()
    m = machine { ram = { { "1M", "256K" }, { "4G", "8G" } }, seed = 11, verifier = "record" }
    local b, mdl = buffer(m, 3 * PAGE, { offset = 0x77 }, 1)
    local old, data = b:read(), dma.pattern(3 * PAGE, 42)
    local a, _, dev = adapter(m, "sg32")
    local list
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:GetScatterGatherList(dev, mdl, b.va, b.length, function(_, _, sg) list = sg end, nil, false)
    local at = 1
    for _, e in ipairs(elements(list)) do
      assert.is_true(e[1] < 1 << 32)
      assert.is_true(m:device_write(e[1], data:sub(at, at + e[2] - 1)))
      at = at + e[2]
    end
    assert.are.equal(old, b:read())  -- still in the bounce pages
    assert.is_true(a:stats().map_registers_held > 0)
    a:PutScatterGatherList(list, false)
    assert.are.equal(data, b:read())
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.same({}, m:reports())
    a:PutScatterGatherList(list, false)
    assert.are.same({ 0x06 }, p1s(m))
    assert.matches("PutScatterGatherList", m:reports()[1].message)
    assert.has_error(function() return list.NumberOfElements end)
  end)

  it("allows several lists outstanding per device", function()
    m = machine { seed = 11 }
    local b1, mdl1 = buffer(m, 2 * PAGE, {}, 1)
    local b2, mdl2 = buffer(m, 3 * PAGE, {}, 2)
    local a, _, dev = adapter(m, "packet32")
    local lists = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    for i, x in ipairs { { b1, mdl1 }, { b2, mdl2 } } do
      a:GetScatterGatherList(dev, x[2], x[1].va, x[1].length, function(_, _, sg) lists[i] = sg end, nil, true)
    end
    assert.are.equal(2, #lists)
    assert.are.equal(5, a:stats().map_registers_held)
    assert.are.equal(b1:read(), device_bytes(m, elements(lists[1])))
    assert.are.equal(b2:read(), device_bytes(m, elements(lists[2])))
    a:PutScatterGatherList(lists[2], true)
    assert.are.equal(b1:read(), device_bytes(m, elements(lists[1])))
    a:PutScatterGatherList(lists[1], true)
    assert.are.equal(0, a:stats().map_registers_held)
  end)

  it("refuses IoFreeMdl on the MDL of a waiting request, naming both; the list is built later", function()
    m = machine { verifier = "record", map_registers = 4 }
    local x, xnmr, xdev = adapter(m, "packet32", 12 * KiB)
    local a, _, dev = adapter(m, "packet32", 12 * KiB)
    local b, mdl = buffer(m, 2 * PAGE, {})
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local base
    x:AllocateAdapterChannel(xdev, xnmr, function(_, _, bb)
      base = bb
      return dma.DeallocateObjectKeepRegisters
    end)
    local list
    assert.are.equal(dma.STATUS_SUCCESS,
      a:GetScatterGatherList(dev, mdl, b.va, b.length, function(_, _, sg) list = sg end, nil, true))
    local ok, err = pcall(dma.IoFreeMdl, mdl)  -- the driver's bug: the list is not even built yet
    assert.is_false(ok)
    assert.truthy(err:find(("IoFreeMdl: MDL#%d is still in use by DMA_ADAPTER#%d: a "
      .. "GetScatterGatherList request waiting for map registers"):format(mdl.id, a.id), 1, true), err)
    assert.truthy(err:find("nothing was freed", 1, true), err)
    x:FreeMapRegisters(base, xnmr)
    assert.is_not_nil(list)  -- built over the MDL that was kept
    ok, err = pcall(dma.IoFreeMdl, mdl)  -- a live list refers to it still
    assert.is_false(ok)
    assert.truthy(err:find("PutScatterGatherList", 1, true), err)
    a:PutScatterGatherList(list, true)
    dma.IoFreeMdl(mdl)
    assert.are.same({}, p1s(m))
    assert.are.equal(0, a:stats().map_registers_held)
    assert.are.same({}, m:check_leaks())
  end)

  it("takes elements from every MDL of a chain", function()
    m = machine { seed = 11, alloc = "scattered" }
    local b1, mdl1 = buffer(m, 2 * PAGE + 100, { offset = 0x10 }, 1)
    local b2, mdl2 = buffer(m, PAGE + 7, { offset = 0x900 }, 2)
    mdl1.Next = mdl2
    local total = b1.length + b2.length
    for _, kind in ipairs { "sg64", "packet32" } do
      local a, _, dev = adapter(m, kind)
      local els
      dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
      local status = a:GetScatterGatherList(dev, mdl1, b1.va, total, function(_, _, sg)
        els = elements(sg)
        assert.are.equal(b1:read() .. b2:read(), device_bytes(m, els), kind)
        a:PutScatterGatherList(sg, true)
      end, nil, true)
      dma.KeLowerIrql(dma.PASSIVE_LEVEL)
      assert.are.equal(dma.STATUS_SUCCESS, status, kind)
      if kind == "sg64" then
        assert.are.equal(runs(b1) + runs(b2), #els)
        assert.are.equal(b2:pa(0), els[runs(b1) + 1][1])
      else
        assert.are.equal(2, #els)  -- one per MDL
      end
    end
  end)
end)
