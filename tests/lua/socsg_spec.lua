-- Scatter/gather on the SoC system DMA controller from Lua:
-- m:soc_dma{ scatter_gather = true, max_elements = N }, a chain programmed
-- with c:program(ch, { chain = ... }) walked at the UART's pace, and a
-- version-3 system adapter on it: ScatterGatherLimit, GetDmaTransferInfo,
-- MapTransferEx mapping a discontiguous buffer's runs (unbounced) into one
-- transfer, ReadDmaCounter over the chain, DmaComplete once at the end.
local dma = require "dma"
local support = require "support"

local enable_tx, at_dispatch = support.enable_tx, support.at_dispatch

-- Physically contiguous runs of [0, len) of buffer b.
local function runs(b, len)
  local n, at = 0, 0
  while at < len do
    local step = dma.PAGE_SIZE - (b:pa(at) % dma.PAGE_SIZE)
    local pa = b:pa(at)
    while at + step < len and b:pa(at + step) == pa + step do
      step = step + dma.PAGE_SIZE - ((pa + step) % dma.PAGE_SIZE)
    end
    n, at = n + 1, at + step
  end
  return n
end

describe("scatter/gather SoC system DMA controller", function()
  local m
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("takes scatter_gather and max_elements, and refuses them apart or out of range", function()
    m = dma.machine {}
    assert.are.equal(1, m:soc_dma { instance = 0 }.max_elements)
    assert.are.equal(16, m:soc_dma { instance = 1, scatter_gather = true }.max_elements)
    assert.are.equal(4, m:soc_dma { instance = 2, scatter_gather = true, max_elements = 4 }.max_elements)
    assert.has_error(function() m:soc_dma { instance = 3, max_elements = 4 } end,
                     "bad argument #1 to 'soc_dma' (field 'max_elements' needs scatter_gather = true)")
    assert.has_error(function() m:soc_dma { instance = 3, scatter_gather = true, max_elements = 1 } end)
    assert.has_error(function() m:soc_dma { instance = 3, scatter_gather = true, max_elements = 5000 } end)
    assert.are.equal(1, m:soc_dma { instance = 3 }.max_elements)  -- the refusals left instance 3 free
  end)

  it("walks a chain as one transfer at the device's pace", function()
    m = dma.machine { ram = "1G" }
    local c = m:soc_dma { scatter_gather = true, max_elements = 4 }
    local uart = m:uart { name = "uart0", baud = 1000000 }
    uart:connect_dma(c, { tx = 1 })
    enable_tx(uart)
    local b = m:buffer(3 * dma.PAGE_SIZE)
    b:write(0, dma.pattern(b.length, 3))
    -- the third page, then the first: 100 + 50 bytes
    c:program(0, { line = 1, to_device = true,
                   chain = { { address = b:pa(2 * dma.PAGE_SIZE), count = 100 },
                             { address = b:pa(0), count = 50 } } })
    assert.are.equal(150, c:counter(0))
    assert.has_error(function() c:program(1, { line = 1, chain = { {}, {}, {}, {}, {} } }) end)
    assert.has_error(function() c:program(1, { line = 1, chain = { { address = 0, count = 0 } } }) end)
    c:mask(0, false)
    m:run()
    assert.are.equal(0, c:counter(0))
    local st = c:stats()
    assert.are.equal(1, st.terminal_counts)
    assert.are.equal(1, st.descriptors)
    assert.are.equal(150, st.units)
    assert.are.equal(b:read(2 * dma.PAGE_SIZE, 100) .. b:read(0, 50), uart:sent())
  end)

  it("moves a discontiguous buffer in one MapTransferEx, unbounced", function()
    m = dma.machine { ram = "1G", alloc = "scattered", seed = 11 }
    local c = m:soc_dma { scatter_gather = true, max_elements = 8 }
    local uart = m:uart { name = "uart0", baud = 1000000 }
    uart:connect_dma(c, { tx = 2 })
    enable_tx(uart)
    local a = dma.IoGetDmaAdapter(uart.device, { Version = dma.DEVICE_DESCRIPTION_VERSION3, Master = false,
      InterfaceType = dma.ACPIBus, DmaRequestLine = 2, DmaWidth = dma.Width8Bits, DmaAddressWidth = 32,
      DeviceAddress = uart.resources.memory.start, MaximumLength = 16384 })
    assert.are.equal(5, a.NumberOfMapRegisters)  -- BYTES_TO_PAGES(16384) + 1
    local _, info = a:GetDmaAdapterInfo { Version = dma.DMA_ADAPTER_INFO_VERSION1 }
    assert.are.equal(8, info.V1.ScatterGatherLimit)
    local len = 3 * dma.PAGE_SIZE + 300
    local b = m:buffer(len, { offset = 0x80 })
    b:write(0, dma.pattern(len, 5))
    local mdl = dma.IoAllocateMdl(b.va, len)
    dma.MmBuildMdlForNonPagedPool(mdl)
    local nruns = runs(b, len)
    assert.is_true(nruns >= 2)
    local _, ti = a:GetDmaTransferInfo(mdl, 0, len, true, { Version = dma.DMA_TRANSFER_INFO_VERSION1 })
    assert.are.equal(nruns, ti.V1.ScatterGatherElementCount)
    local _, ctx = a:InitializeDmaTransferContext(nil)
    local _, base = at_dispatch(a.AllocateAdapterChannelEx, a, uart.device, ctx, ti.V1.MapRegisterCount,
                                dma.DMA_SYNCHRONOUS_CALLBACK, nil)
    local calls = {}
    local function routine(_, _, _, Status) calls[#calls + 1] = { Status, m.now } end
    local st, mapped, list = at_dispatch(a.MapTransferEx, a, mdl, base, 0, dma.uart_registers.DATA, len, true,
      {}, ti.V1.ScatterGatherListSize, routine, nil)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(len, mapped)
    assert.are.equal(nruns, list.NumberOfElements)
    assert.are.equal(b:pa(0), list.Elements[0].Address)  -- the buffer's own pages
    assert.are.equal(0, a:stats().bytes_bounced)
    assert.are.equal(len, a:ReadDmaCounter())
    m:run_until(2 * dma.PAGE_SIZE * 10000)                   -- 10 us a character
    local left = a:ReadDmaCounter()
    assert.is_true(left > 0 and left < len - 2 * dma.PAGE_SIZE + 20)
    assert.are.equal(0, #calls)
    m:run()
    assert.are.equal(1, #calls)
    assert.are.equal(dma.DmaComplete, calls[1][1])
    assert.are.equal(1, c:stats().terminal_counts)
    assert.are.equal(nruns - 1, c:stats().descriptors)
    assert.are.equal(b:read(), uart:sent())
    assert.are.equal(dma.STATUS_SUCCESS, at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, 0, mapped, true))
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    dma.IoFreeMdl(mdl)
    a:PutDmaAdapter()
  end)

  it("maps no more elements than the controller walks, and one with the default buffer", function()
    m = dma.machine { ram = "1G", alloc = "scattered", seed = 3 }
    local c = m:soc_dma { scatter_gather = true, max_elements = 2 }
    local uart = m:uart { name = "uart0", baud = 1000000 }
    uart:connect_dma(c, { tx = 2 })
    enable_tx(uart)
    local a = dma.IoGetDmaAdapter(uart.device, { Version = dma.DEVICE_DESCRIPTION_VERSION3, Master = false,
      InterfaceType = dma.ACPIBus, DmaRequestLine = 2, DmaWidth = dma.Width8Bits, DmaAddressWidth = 32,
      MaximumLength = 16384 })
    local len = 4 * dma.PAGE_SIZE
    local b = m:buffer(len)
    local mdl = dma.IoAllocateMdl(b.va, len)
    dma.MmBuildMdlForNonPagedPool(mdl)
    assert.is_true(runs(b, len) > 2)
    local _, ctx = a:InitializeDmaTransferContext(nil)
    local _, base = at_dispatch(a.AllocateAdapterChannelEx, a, uart.device, ctx, a.NumberOfMapRegisters,
                                dma.DMA_SYNCHRONOUS_CALLBACK, nil)
    local st, mapped, list = at_dispatch(a.MapTransferEx, a, mdl, base, 0, 0, len, true, {}, 4096, nil, nil)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(2, list.NumberOfElements)
    assert.are.equal(list.Elements[0].Length + list.Elements[1].Length, mapped)
    assert.is_true(mapped < len)
    m:run()  -- the transfer completes before its flush (else 0xE6/0x23)
    at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, 0, mapped, true)
    local st2, mapped2, list2 = at_dispatch(a.MapTransferEx, a, mdl, base, mapped, 0, len - mapped, true,
                                            nil, 0, nil, nil)
    assert.are.equal(dma.STATUS_SUCCESS, st2)
    assert.are.equal(1, list2.NumberOfElements)
    assert.are.equal(b:pa(mapped), list2.Elements[0].Address)
    assert.are.equal(list2.Elements[0].Length, mapped2)
    m:run()
    at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, mapped, mapped2, true)
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    dma.IoFreeMdl(mdl)
    a:PutDmaAdapter()
  end)
end)
