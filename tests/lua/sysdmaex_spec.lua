-- The version-3 DMA operations on system (slave) DMA adapters from Lua: the
-- DmaCompletionRoutine called by the engine (DmaComplete at terminal count,
-- DmaError when block mode lost bytes, DmaCancelled after
-- CancelMappedTransfer, never after an early flush), GetDmaAdapterInfo,
-- ConfigureAdapterChannel with a ULONG Context, the list routines refused,
-- and scripts/drivers/wdm_sysdma_v3.lua on ISA and on an SoC controller.
local dma = require "dma"
local support = require "support"

local enable_tx, at_dispatch = support.enable_tx, support.at_dispatch

package.path = "scripts/?.lua;" .. package.path

local MS = 1000000

-- A version-3 ISA adapter for the UART on 8237 channel ch.
local function isa3(uart, ch, fields)
  local d = { Version = dma.DEVICE_DESCRIPTION_VERSION3, Master = false, InterfaceType = dma.Isa,
              DmaChannel = ch, DmaWidth = dma.Width8Bits, DmaSpeed = dma.Compatible,
              DmaAddressWidth = 24, MaximumLength = 4096 }
  for k, v in pairs(fields or {}) do d[k] = v end
  return dma.IoGetDmaAdapter(uart.device, d)
end

-- The UART's buffer, its MDL, and the adapter's channel taken under a context.
local function setup(m, a, dev, len, seed)
  local b = m:buffer(len)
  b:write(0, dma.pattern(len, seed))
  local mdl = dma.IoAllocateMdl(b.va, len)
  dma.MmBuildMdlForNonPagedPool(mdl)
  local _, ctx = a:InitializeDmaTransferContext(nil)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local st, base = a:AllocateAdapterChannelEx(dev, ctx, a.NumberOfMapRegisters,
                                              dma.DMA_SYNCHRONOUS_CALLBACK, nil)
  dma.KeLowerIrql(old)
  assert.are.equal(dma.STATUS_SUCCESS, st)
  return b, mdl, ctx, base
end

-- MapTransferEx at DISPATCH_LEVEL with the default buffer and a routine
-- recording its calls into `calls`.
local function map(a, mdl, base, len, write, calls, devoff)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local st, mapped, list = a:MapTransferEx(mdl, base, 0, devoff or 0, len, write, nil, 0,
    function(DmaAdapter, DeviceObject, Context, Status)
      calls[#calls + 1] = { adapter = DmaAdapter, device = DeviceObject, context = Context,
                            status = Status, irql = dma.KeGetCurrentIrql(), at = a.machine.now }
    end, "ctx")
  dma.KeLowerIrql(old)
  return st, mapped, list
end

describe("version-3 operations on a system DMA adapter", function()
  local m
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("calls the DmaCompletionRoutine at terminal count with DmaComplete", function()
    m = support.machine { alloc = "high_first" }
    local uart = m:uart { baud = 115200 }
    uart:connect_dma(m:isa_dma(), { tx = 1 })
    enable_tx(uart)
    local a = isa3(uart, 1)
    local b, mdl, _, base = setup(m, a, uart.device, 1000, 4)
    local calls = {}
    local st, len, list = map(a, mdl, base, 1000, true, calls)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    assert.are.equal(1000, len)
    assert.are.equal(1, list.NumberOfElements)
    assert.is_true(list.Elements[0].Address < 16 << 20)  -- bounced below 16 MiB
    assert.are.equal(1000, a:ReadDmaCounter())
    m:run_until(50 * MS)                   -- 1000 characters take 86.8 ms
    assert.are.equal(0, #calls)
    assert.is_true(a:ReadDmaCounter() < 1000)
    m:run()
    assert.are.equal(1, #calls)
    local c = calls[1]
    assert.are.equal(dma.DmaComplete, c.status)
    assert.are.equal(dma.DISPATCH_LEVEL, c.irql)
    assert.are.equal(a, c.adapter)
    assert.are.equal(uart.device, c.device)
    assert.are.equal("ctx", c.context)
    assert.are.equal(b:read(), uart:sent())
    assert.is_true(c.at <= uart:uart_stats().last_sent_at)
    assert.are.equal(dma.STATUS_SUCCESS, at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, 0, len, true))
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    dma.IoFreeMdl(mdl)
    a:PutDmaAdapter()
  end)

  it("gives DmaError when block mode (ConfigureAdapterChannel) outruns the device", function()
    m = support.machine {}
    local uart = m:uart { baud = 115200 }
    uart:connect_dma(m:isa_dma(), { tx = 3 })
    enable_tx(uart)
    local a = isa3(uart, 3)
    local MODE = dma.SYSDMA_CONFIGURE_MODE
    assert.are.equal(dma.STATUS_SUCCESS, a:ConfigureAdapterChannel(MODE, dma.SYSDMA_BLOCK))
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, a:ConfigureAdapterChannel(dma.SYSDMA_CONFIGURE_MODE, nil))
    assert.are.equal(dma.STATUS_NOT_IMPLEMENTED, a:ConfigureAdapterChannel(dma.SYSDMA_CONFIGURE_CYCLE, 100))
    assert.are.equal(dma.STATUS_NOT_IMPLEMENTED, a:ConfigureAdapterChannel(99, 0))
    local _, mdl, _, base = setup(m, a, uart.device, 64, 2)
    local calls = {}
    assert.are.equal(dma.STATUS_SUCCESS, (map(a, mdl, base, 64, true, calls)))
    m:run()
    assert.are.equal(1, #calls)
    assert.are.equal(dma.DmaError, calls[1].status)
    assert.is_true(m:isa_dma():stats().overruns > 0)
    at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, 0, 64, true)
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    dma.IoFreeMdl(mdl)
  end)

  it("gives DmaCancelled after CancelMappedTransfer, and nothing after an early flush", function()
    m = support.machine {}
    local soc = m:soc_dma { instance = 0, channels = 2, lines = 8 }
    local uart = m:uart { baud = 1000000 }
    uart:connect_dma(soc, { tx = 2 })
    enable_tx(uart)
    local a = dma.IoGetDmaAdapter(uart.device, {
      Version = dma.DEVICE_DESCRIPTION_VERSION3, Master = false, InterfaceType = dma.ACPIBus,
      DmaControllerInstance = 0, DmaRequestLine = 2, DmaWidth = dma.Width8Bits, DmaAddressWidth = 32,
      DeviceAddress = uart.resources.memory.start, MaximumLength = 8192 })
    local _, info = a:GetDmaAdapterInfo({ Version = dma.DMA_ADAPTER_INFO_VERSION1 })
    assert.are.same({ ReadDmaCounterAvailable = true, ScatterGatherLimit = 1, DmaAddressWidth = 32,
                      Flags = dma.ADAPTER_INFO_SYNCHRONOUS_CALLBACK, MinimumTransferUnit = 1 }, info.V1)
    local b, mdl, ctx, base = setup(m, a, uart.device, 5000, 8)
    local calls = {}
    assert.are.equal(dma.STATUS_SUCCESS, (map(a, mdl, base, 5000, true, calls, dma.uart_registers.DATA)))
    m:run_until(m.now + 2 * MS)
    assert.are.equal(dma.STATUS_SUCCESS, at_dispatch(a.CancelMappedTransfer, a, ctx))
    assert.are.equal(1, #calls)
    assert.are.equal(dma.DmaCancelled, calls[1].status)
    local left = a:ReadDmaCounter()
    m:run()
    assert.are.equal(left, a:ReadDmaCounter())  -- stopped
    assert.are.equal(b:read(0, 5000 - left), uart:sent())
    at_dispatch(a.FlushAdapterBuffersEx, a, mdl, base, 0, 5000, true)
    assert.are.equal(dma.STATUS_CANCELLED, (map(a, mdl, base, 5000, true, calls)))
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    -- a fresh context; flushed before terminal count without a cancel: 0xE6/0x23, and
    -- done anyway (the channel stops, the routine never runs)
    _, ctx = a:InitializeDmaTransferContext(nil)
    local st
    st, base = at_dispatch(a.AllocateAdapterChannelEx, a, uart.device, ctx, 2,
                           dma.DMA_SYNCHRONOUS_CALLBACK, nil)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    calls = {}
    assert.are.equal(dma.STATUS_SUCCESS, (map(a, mdl, base, 5000, true, calls, dma.uart_registers.DATA)))
    m:run_until(m.now + MS)
    local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    local ok, err = pcall(a.FlushAdapterBuffersEx, a, mdl, base, 0, 5000, true)
    dma.KeLowerIrql(old)
    assert.is_false(ok)
    assert.are.equal("DRIVER_VERIFIER_DMA_VIOLATION (0xE6, P1=0x23): FlushAdapterBuffersEx: the system "
                     .. "DMA transfer on channel 0 of controller 0 has neither completed nor been "
                     .. "cancelled (CancelMappedTransfer before an early flush)", err)
    m:run()
    assert.are.equal(0, #calls)
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)
    dma.IoFreeMdl(mdl)
  end)

  it("refuses the list routines and reports misuse as Driver Verifier does", function()
    m = support.machine { verifier = "record" }
    local uart = m:uart { baud = 115200 }
    uart:connect_dma(m:isa_dma(), { tx = 1 })
    local a = isa3(uart, 1)
    local _, mdl, ctx, base = setup(m, a, uart.device, 100, 1)
    local _, ctx2 = a:InitializeDmaTransferContext(nil)
    assert.are.equal(dma.STATUS_NOT_SUPPORTED, (at_dispatch(a.GetScatterGatherListEx, a, uart.device,
      ctx2, mdl, 0, 100, dma.DMA_SYNCHRONOUS_CALLBACK, nil, nil, true, nil, nil)))
    assert.matches("system DMA", m:reports()[1].message)
    local calls = {}
    -- no FIFO offset on ISA
    assert.are.equal(dma.STATUS_INVALID_PARAMETER, (map(a, mdl, base, 100, true, calls, 4)))
    assert.are.equal(dma.STATUS_SUCCESS, (map(a, mdl, base, 100, true, calls)))
    at_dispatch(a.FreeAdapterObject, a, dma.DeallocateObject)  -- still mapped: 0x10, the routine dropped
    assert.are.same({ 0x00, 0x10 }, support.p1s(m))
    assert.is_false(ctx.mapped)
    m:run()
    assert.are.equal(0, #calls)
    assert.has_error(function() a:ConfigureAdapterChannel(dma.SYSDMA_CONFIGURE_MODE, -1) end)
    dma.IoFreeMdl(mdl)
  end)
end)

describe("wdm_sysdma_v3", function()
  it("writes an IOCTL's buffer through the v3 operations on an SoC line, and stops on request", function()
    local m = support.machine { seed = 4 }
    local soc = m:soc_dma { instance = 1, channels = 2, lines = 8 }
    local uart = m:uart { baud = 1000000 }
    uart:connect_dma(soc, { tx = 5 })
    local drv = require "drivers.wdm_sysdma_v3"
    local D = dma.driver { name = "\\Driver\\wdm_sysdma_v3" }
    assert.are.equal(dma.STATUS_SUCCESS, drv.DriverEntry(D))
    assert.are.equal(dma.STATUS_SUCCESS, drv.AddDevice(D, uart.device, uart.resources))
    local ext = uart.device.DeviceExtension
    local data = dma.pattern(12000, 3)
    local b = m:buffer(#data)
    b:write(0, data)
    local irp = m:irp { major = dma.IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = drv.IOCTL_SYSDMA_WRITE }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(uart.device, irp))
    m:run()
    assert.are.equal(dma.STATUS_SUCCESS, irp.IoStatus.Status)
    assert.are.equal(#data, irp.IoStatus.Information)
    assert.are.equal(data, uart:sent())
    assert.are.equal(1, #ext.Completions)
    assert.are.equal(dma.DmaComplete, ext.Completions[1].status)
    local again = m:irp { major = dma.IRP_MJ_DEVICE_CONTROL, buffer = b, ioctl = drv.IOCTL_SYSDMA_WRITE }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(uart.device, again))
    m:run_until(m.now + 3 * MS)
    local stop = m:irp { major = dma.IRP_MJ_DEVICE_CONTROL, buffer = m:buffer(8),
                         ioctl = drv.IOCTL_SYSDMA_STOP }
    assert.are.equal(dma.STATUS_SUCCESS, dma.IoCallDriver(uart.device, stop))
    m:run()
    assert.are.equal(dma.STATUS_CANCELLED, again.IoStatus.Status)
    local moved = again.IoStatus.Information
    assert.is_true(moved > 0 and moved < #data)
    assert.are.equal(data .. data:sub(1, moved), uart:sent())
    assert.are.equal(dma.DmaCancelled, ext.Completions[2].status)
    drv.RemoveDevice(uart.device, uart.resources)
    b:free()
    assert.are.same({}, m:check_leaks())
    m:close()
  end)
end)
