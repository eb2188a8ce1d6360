-- The version-3 DMA operations as DMA_ADAPTER methods: present on a
-- DEVICE_DESCRIPTION_VERSION3 adapter only, the transfer context,
-- AllocateAdapterChannelEx with and without a routine, cancelling,
-- MapTransferEx against GetDmaTransferInfo, FlushAdapterBuffersEx with real
-- bytes, the verifier reports, AllocateCommonBufferEx.
local dma = require "dma"
local support = require "support"

local PAGE = 4096
local machine, buffer, p1s = support.machine, support.buffer, support.p1s

-- A version-3 bus-master adapter for a new device: adapter, nmr, device.
local function v3(m, name, fields)
  local dev = m:device { name = name }
  local d = { Version = dma.DEVICE_DESCRIPTION_VERSION3, Master = true, ScatterGather = true,
              DmaAddressWidth = 64, InterfaceType = dma.PCIBus, MaximumLength = 64 * 1024 }
  for k, v in pairs(fields or {}) do d[k] = v end
  local a, nmr = dma.IoGetDmaAdapter(dev, d)
  return a, nmr, dev
end

local function context(a)
  local st, ctx = a:InitializeDmaTransferContext(nil)
  assert.are.equal(dma.STATUS_SUCCESS, st)
  return ctx
end

-- AllocateAdapterChannelEx without a routine, at DISPATCH_LEVEL: the base.
local function take(a, dev, ctx, n)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local st, base = a:AllocateAdapterChannelEx(dev, ctx, n, dma.DMA_SYNCHRONOUS_CALLBACK, nil)
  dma.KeLowerIrql(old)
  assert.are.equal(dma.STATUS_SUCCESS, st)
  return base
end

local function free_object(a, action)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  a:FreeAdapterObject(action)
  dma.KeLowerIrql(old)
end

describe("version-3 DMA operations", function()
  local m
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("raise a misuse by default", function()
    m = machine { ram = "1G" }
    local a, _, dev = v3(m, "sg")
    local _, ctx = a:InitializeDmaTransferContext(nil)
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    take(a, dev, ctx, 1)
    assert.has_error(function() a:AllocateAdapterChannelEx(m:device { name = "d2" }, ctx, 1,
                                                             dma.DMA_SYNCHRONOUS_CALLBACK, nil) end,
                     "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x00): AllocateAdapterChannelEx: the DMA "
                     .. "transfer context is in use by an earlier allocation (it must be unique across "
                     .. "all adapter allocation requests)")
    a:FreeAdapterObject(dma.DeallocateObject)
    dma.KeLowerIrql(old)
  end)

  it("refuse what the context's state does not allow, changing nothing (core/hal/dl_ctxstate.c)", function()
    m = machine { ram = "1G" }
    local a, _, dev = v3(m, "sg")
    local ctx = context(a)
    take(a, dev, ctx, 1)
    assert.has_error(function() a:InitializeDmaTransferContext(ctx) end,
                     "DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x00): InitializeDmaTransferContext: the "
                     .. "context is in use (an allocation holds the channel, registers or a list)")
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.is_false(a:CancelAdapterChannel(dev, ctx))  -- granted: FALSE, no report
    assert.are.equal(dma.STATUS_SUCCESS, a:CancelMappedTransfer(ctx))
    a:FreeAdapterObject(dma.DeallocateObject)
    -- cancelled: its next allocation is STATUS_CANCELLED until initialised again
    assert.are.equal(dma.STATUS_CANCELLED, (a:AllocateAdapterChannelEx(dev, ctx, 1,
                                                                         dma.DMA_SYNCHRONOUS_CALLBACK, nil)))
    dma.KeLowerIrql(old)
    assert.is_true(ctx.initialized and ctx.cancelled and not ctx.pending)
    assert.are.equal(dma.STATUS_SUCCESS, (a:InitializeDmaTransferContext(ctx)))
    take(a, dev, ctx, 1)
    free_object(a, dma.DeallocateObject)
  end)

  it("exist on a version-3 adapter only", function()
    m = machine { ram = "1G" }
    local a3 = v3(m, "v3")
    local a2 = support.adapter(m, "sg64")
    assert.is_function(a3.MapTransferEx)
    assert.is_nil(a2.MapTransferEx)
    assert.is_nil(a2.InitializeDmaTransferContext)
    assert.is_function(a2.MapTransfer)
    local ok, err = pcall(a3.DmaOperations.GetDmaAdapterInfo, a2, { Version = 1 })
    assert.is_false(ok)
    assert.matches("GetDmaAdapterInfo is not available.-version 2.-DEVICE_DESCRIPTION_VERSION3", err)
  end)

  it("maps a whole MDL chain in one MapTransferEx, as GetDmaTransferInfo said", function()
    m = machine { ram = "1G", seed = 3, alloc = "scattered" }
    local b1, m1 = buffer(m, 3 * PAGE, { offset = 0x200 }, 1)
    local b2, m2 = buffer(m, 2 * PAGE, nil, 2)
    m1.Next = m2
    local a, _, dev = v3(m, "sg")
    local total = b1.length + b2.length
    local st, info = a:GetDmaTransferInfo(m1, 0, total, true, { Version = dma.DMA_TRANSFER_INFO_VERSION1 })
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(0, info.V1.MapRegisterCount)  -- a 64-bit S/G master needs none
    assert.is_true(info.V1.ScatterGatherElementCount >= 2)
    local ctx = context(a)
    local base = take(a, dev, ctx, info.V1.MapRegisterCount)
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local st2, len, list = a:MapTransferEx(m1, base, 0, 0, total, true, {}, info.V1.ScatterGatherListSize)
    assert.are.equal(dma.STATUS_SUCCESS, st2)
    assert.are.equal(total, len)
    assert.are.equal(info.V1.ScatterGatherElementCount, list.NumberOfElements)
    local seen = {}
    for i = 0, list.NumberOfElements - 1 do
      local e = list.Elements[i]
      seen[#seen + 1] = m:device_read(e.Address, e.Length)
    end
    assert.are.equal(b1:read() .. b2:read(), table.concat(seen))  -- the device reads the bytes
    assert.is_true(ctx.mapped)
    assert.are.equal(dma.STATUS_SUCCESS, a:FlushAdapterBuffersEx(m1, base, 0, len, true))
    -- a buffer one element short: *Length stops before the last element
    local st3, len3, list3 = a:MapTransferEx(m1, base, 0, 0, total, true, {},
                                             info.V1.ScatterGatherListSize - 24)
    assert.are.equal(dma.STATUS_SUCCESS, st3)
    assert.are.equal(info.V1.ScatterGatherElementCount - 1, list3.NumberOfElements)
    assert.is_true(len3 < total)
    a:FlushAdapterBuffersEx(m1, base, 0, len3, true)
    dma.KeLowerIrql(old)
    free_object(a, dma.DeallocateObject)
    assert.are.same({}, p1s(m))
  end)

  it("bounces a read through the registers and copies it back at the flush", function()
    m = machine { ram = "8G", seed = 5 }
    local b, mdl = support.built(m, 2 * PAGE, { alloc = "high_first" })
    local a, _, dev = v3(m, "packet32", { ScatterGather = false, DmaAddressWidth = 32 })
    local ctx = context(a)
    local base = take(a, dev, ctx, 2)
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local st, len, list = a:MapTransferEx(mdl, base, 0, 0, b.length, false, {}, 64)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(b.length, len)
    local e = list.Elements[0]
    assert.is_true(b:pa(0) >= (1 << 32))  -- precondition: above the 32-bit ceiling
    assert.is_true(e.Address < (1 << 32))
    local data = dma.pattern(len, 7)
    assert.is_true(m:device_write(e.Address, data))
    assert.are.equal(dma.STATUS_SUCCESS, a:FlushAdapterBuffersEx(mdl, base, 0, len, false))
    dma.KeLowerIrql(old)
    assert.are.equal(data, b:read())
    free_object(a, dma.DeallocateObject)
    assert.are.same({}, p1s(m))
  end)

  it("runs a routine at DISPATCH_LEVEL, or fails a synchronous request that would wait", function()
    m = machine { ram = "1G" }
    local a, _, dev = v3(m, "sg")
    local dev1 = m:device { name = "dev1" }
    local c0, c1, c2 = context(a), context(a), context(a)
    take(a, dev, c0, 1)
    local ran = 0
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local st = a:AllocateAdapterChannelEx(dev1, c1, 1, 0, function(d, _, base, ctx)
      ran = ran + 1
      assert.are.equal(dev1, d)
      assert.are.equal("ctx", ctx)
      assert.is_userdata(base)
      assert.are.equal(dma.DISPATCH_LEVEL, dma.KeGetCurrentIrql())
      return dma.DeallocateObject
    end, "ctx")
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.is_true(c1.pending)
    assert.are.equal(dma.STATUS_INSUFFICIENT_RESOURCES,
                     (a:AllocateAdapterChannelEx(dev1, c2, 1, dma.DMA_SYNCHRONOUS_CALLBACK, nil)))
    dma.KeLowerIrql(old)
    free_object(a, dma.DeallocateObject)
    assert.are.equal(1, ran)  -- granted when dev0 let go
    assert.is_false(c1.pending)
    old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.is_false(a:CancelAdapterChannel(dev1, c1))  -- too late: it ran
    dma.KeLowerIrql(old)
  end)

  it("cancels a waiting request: its routine never runs", function()
    m = machine { ram = "1G" }
    local a, _, dev = v3(m, "sg")
    local dev1 = m:device { name = "dev1" }
    local c0, c1 = context(a), context(a)
    take(a, dev, c0, 1)
    local ran = false
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannelEx(dev1, c1, 1, 0, function() ran = true return dma.DeallocateObject end)
    assert.is_true(a:CancelAdapterChannel(dev1, c1))
    assert.is_true(c1.cancelled)
    dma.KeLowerIrql(old)
    free_object(a, dma.DeallocateObject)
    assert.is_false(ran)
    old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.are.equal(dma.STATUS_CANCELLED,
                     (a:AllocateAdapterChannelEx(dev1, c1, 1, 0, function() return dma.DeallocateObject end)))
    dma.KeLowerIrql(old)
    assert.are.same({}, p1s(m))
  end)

  it("cancels a mapped transfer: the flush is still owed, the next map is STATUS_CANCELLED", function()
    m = machine { ram = "1G" }
    local b, mdl = buffer(m, PAGE)
    local a, _, dev = v3(m, "sg")
    local ctx = context(a)
    local base = take(a, dev, ctx, 1)
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local st, len = a:MapTransferEx(mdl, base, 0, 0, b.length, true, {}, 64)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(dma.STATUS_SUCCESS, a:CancelMappedTransfer(ctx))
    assert.is_true(ctx.cancelled and ctx.mapped)
    assert.are.equal(dma.STATUS_SUCCESS, a:FlushAdapterBuffersEx(mdl, base, 0, len, true))
    assert.are.equal(dma.STATUS_CANCELLED, (a:MapTransferEx(mdl, base, 0, 0, b.length, true, {}, 64)))
    dma.KeLowerIrql(old)
    free_object(a, dma.DeallocateObject)
    assert.are.same({}, p1s(m))
  end)

  it("reports misuse as Driver Verifier does", function()
    m = machine { ram = "1G", verifier = "record" }
    local _, mdl = buffer(m, 2 * PAGE)
    local a, _, dev = v3(m, "sg")
    local ctx = context(a)
    -- a MapRegisterBase from AllocateAdapterChannel has no transfer context
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local v1base
    a:AllocateAdapterChannel(dev, 1, function(_, _, base) v1base = base return dma.KeepObject end)
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, (a:MapTransferEx(mdl, v1base, 0, 0, PAGE, true, {}, 64)))
    a:FreeAdapterChannel()
    dma.KeLowerIrql(old)
    local base = take(a, dev, ctx, 2)
    old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    -- a bus master takes no completion routine
    assert.are.equal(dma.STATUS_INVALID_PARAMETER,
                     (a:MapTransferEx(mdl, base, 0, 0, PAGE, true, {}, 64, function() end, nil)))
    assert.are.equal(dma.STATUS_SUCCESS, (a:MapTransferEx(mdl, base, 0, 0, PAGE, true, {}, 64)))
    a:MapTransferEx(mdl, base, PAGE, 0, PAGE, true, {}, 64)  -- before the flush: 0x0D
    dma.KeLowerIrql(old)
    free_object(a, dma.DeallocateObject)  -- still mapped: 0x10
    assert.are.same({ 0x00, 0x0D, 0x10 }, p1s(m))
    assert.matches("FreeAdapterObject", m:reports()[3].message)
    -- a second FreeAdapterObject: no channel held (0x04); wrong IRQL for Ex too (0x13)
    free_object(a, dma.DeallocateObject)
    a:AllocateAdapterChannelEx(dev, ctx, 1, dma.DMA_SYNCHRONOUS_CALLBACK, nil)
    assert.are.same({ 0x00, 0x0D, 0x10, 0x04, 0x13 }, p1s(m))
    free_object(a, dma.DeallocateObject)
  end)

  it("returns a synchronous GetScatterGatherListEx list; checks BuildScatterGatherListEx's buffer", function()
    m = machine { ram = "1G", seed = 2, alloc = "scattered" }
    local b, mdl = buffer(m, 3 * PAGE, { offset = 0x80 })
    local a, _, dev = v3(m, "sg")
    local ctx = context(a)
    local _, info = a:GetDmaTransferInfo(mdl, 0, b.length, true, { Version = 1 })
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local st = a:BuildScatterGatherListEx(dev, ctx, mdl, 0, b.length, dma.DMA_SYNCHRONOUS_CALLBACK, nil,
                                          nil, true, {}, info.V1.ScatterGatherListSize - 1)
    assert.are.equal(dma.STATUS_BUFFER_TOO_SMALL, st)
    local st2, sg = a:GetScatterGatherListEx(dev, ctx, mdl, 0, b.length, dma.DMA_SYNCHRONOUS_CALLBACK,
                                             nil, nil, true)
    assert.are.equal(dma.STATUS_SUCCESS, st2)
    assert.are.equal(info.V1.ScatterGatherElementCount, sg.NumberOfElements)
    a:PutScatterGatherList(sg, true)
    dma.KeLowerIrql(old)
    assert.are.same({}, p1s(m))
  end)

  it("answers GetDmaAdapterInfo, ConfigureAdapterChannel and AllocateCommonBufferEx", function()
    m = machine { ram = "1G" }
    local a = v3(m, "p32", { ScatterGather = false, DmaAddressWidth = 32 })
    local st, ai = a:GetDmaAdapterInfo { Version = dma.DMA_ADAPTER_INFO_VERSION1 }
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(32, ai.V1.DmaAddressWidth)
    assert.is_false(ai.V1.ReadDmaCounterAvailable)
    assert.are.equal(dma.ADAPTER_INFO_SYNCHRONOUS_CALLBACK, ai.V1.Flags)
    assert.are.equal(dma.STATUS_NOT_SUPPORTED, (a:GetDmaAdapterInfo { Version = 2 }))
    assert.are.equal(dma.STATUS_NOT_IMPLEMENTED, a:ConfigureAdapterChannel(1, nil))
    local max = (1 << 24) - 1
    local va, logical = a:AllocateCommonBufferEx(max, 2 * PAGE, true, dma.MM_ANY_NODE_OK)
    assert.is_true(logical + 2 * PAGE - 1 <= max)
    assert.is_nil(a:AllocateCommonBufferEx(nil, PAGE, true, 3))  -- no NUMA node 3
    a:FreeCommonBuffer(2 * PAGE, logical, va, true)
    a:PutDmaAdapter()
    assert.are.same({}, p1s(m))
  end)

  it("rejects bad arguments by name", function()
    m = machine { ram = "1G" }
    local a = v3(m, "sg")
    assert.has_error(function() a:GetDmaTransferInfo(nil, 0, 1, true, { Version = 1 }) end)
    assert.has_error(function() a:GetDmaAdapterInfo {} end, "bad argument #1 to 'GetDmaAdapterInfo' "
                       .. "(DMA_ADAPTER_INFO.Version must be set (e.g. DMA_ADAPTER_INFO_VERSION1))")
    assert.has_error(function() a:FreeAdapterObject(7) end)
    assert.has_error(function() a:CancelMappedTransfer({}) end)
  end)
end)
