-- System (slave) DMA from Lua: the controllers (m:isa_dma, m:soc_dma), the
-- UART (m:uart), IoGetDmaAdapter with Master = FALSE and ReadDmaCounter,
-- the DMA resources a device model lists, the API's argument checks, and
-- the two drivers (scripts/drivers/wdm_sysdma.lua, kmdf_uart.lua) with
-- every byte checked at the device.
local dma = require "dma"
local support = require "support"

package.path = "scripts/?.lua;" .. package.path

local MS = 1000000

-- A keeping AdapterControl: records the base, KeepObject.
local function keep(into)
  return function(_, _, base) into.base = base return dma.KeepObject end
end

describe("system DMA controllers", function()
  it("the ISA controller is one per machine and answers through its ports", function()
    local m = support.machine {}
    local c = m:isa_dma()
    assert.are.equal(c, m:isa_dma())
    assert.are.equal("isa", c.name)
    assert.are.equal(8, c.channels)
    c:port_write(0x0C, 0)            -- clear the flip-flop
    c:port_write(0x04, 0x56)         -- channel 2 address, low then high
    c:port_write(0x04, 0x34)
    c:port_write(0x81, 0x12)         -- channel 2 page
    c:port_write(0x05, 0xFF)         -- count 0x00FF: 256 bytes
    c:port_write(0x05, 0x00)
    assert.are.equal(0x123456, c:address(2))
    assert.are.equal(256, c:counter(2))
    assert.is_true(c:masked(2))
    assert.has_error(function() c:port_write(0x90, 0) end)
    assert.has_error(function() c:port_write(0x0A, 256) end)
    assert.has_error(function() c:counter(8) end)
    m:close()
  end)

  it("an SoC controller instance is made once; the UART lists its DMA lines as resources", function()
    local m = support.machine {}
    local soc = m:soc_dma { instance = 1, channels = 2, lines = 8 }
    assert.are.equal("soc1", soc.name)
    assert.has_error(function() m:soc_dma { instance = 1 } end)
    assert.has_error(function() m:soc_dma { instance = 2, channels = 0 } end)
    assert.has_error(function() m:soc_dma { bogus = 1 } end)
    local uart = m:uart { baud = 9600 }
    assert.is_nil(uart.resources.dma)
    uart:connect_dma(soc, { tx = 6, rx = 7 })
    assert.are.same({ channel = 6, port = 0, request_line = 6, controller = "soc1" }, uart.resources.dma.tx)
    assert.are.equal(7, uart.resources.dma.rx.request_line)
    assert.has_error(function() uart:connect_dma(soc, { tx = 8 }) end)
    local other = m:uart {}
    assert.has_error(function() other:connect_dma(soc, { tx = 6 }) end)  -- taken
    assert.has_error(function() m:busmaster {}:sent() end)
    m:close()
  end)
end)

describe("IoGetDmaAdapter with Master = FALSE", function()
  it("refuses channel 4 and a width that does not fit, and sizes NumberOfMapRegisters as the HAL", function()
    local m = support.machine {}
    local dev = m:device { name = "isa0" }
    local function get(fields)
      local d = { Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = false, InterfaceType = dma.Isa,
                  MaximumLength = 8192 }
      for k, v in pairs(fields) do d[k] = v end
      return dma.IoGetDmaAdapter(dev, d)
    end
    assert.is_nil((get { DmaChannel = 4, DmaWidth = dma.Width16Bits }))
    assert.is_nil((get { DmaChannel = 1, DmaWidth = dma.Width16Bits }))
    assert.are.equal("adapter_refused", m:trace("adapter_refused")[1].kind)
    local a, nmr = get { DmaChannel = 1, DmaWidth = dma.Width8Bits }
    assert.are.equal(3, nmr)
    assert.are.equal(0xFFFFFF, a.ceiling)
    local b, n16 = get { DmaChannel = 6, DmaWidth = dma.Width16Bits, MaximumLength = 1 << 20 }
    assert.are.equal(16, n16)
    dma.PutDmaAdapter(a)
    dma.PutDmaAdapter(b)
    m:close()
  end)

  it("MapTransfer programs the channel; ReadDmaCounter falls as the UART consumes", function()
    local m = support.machine { alloc = "high_first", verifier = "record" }
    local uart = m:uart { baud = 115200 }
    uart:connect_dma(m:isa_dma(), { tx = 3 })
    local hwregs = dma.uart_registers
    local va = dma.MmMapIoSpace(uart.resources.memory.start, uart.resources.memory.length, dma.MmNonCached)
    dma.WRITE_REGISTER_ULONG(va + hwregs.CONTROL, hwregs.TX_DMA)
    local a = dma.IoGetDmaAdapter(uart.device, { Version = 2, Master = false, InterfaceType = dma.Isa,
      DmaChannel = 3, DmaWidth = dma.Width8Bits, MaximumLength = 4096 })
    local b = m:buffer(1000)
    local data = dma.pattern(1000, 4)
    b:write(0, data)
    local mdl = dma.IoAllocateMdl(b.va, 1000)
    dma.MmBuildMdlForNonPagedPool(mdl)
    local got = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.are.equal(dma.STATUS_SUCCESS, a:AllocateAdapterChannel(uart.device, 2, keep(got)))
    local logical, len = a:MapTransfer(mdl, got.base, b.va, 1000, true)
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.equal(1000, len)
    assert.is_true(logical < 16 << 20)       -- bounced below 16 MiB
    assert.are.equal(1000, a:ReadDmaCounter())
    assert.is_false(m:isa_dma():masked(3))  -- MapTransfer unmasked the channel
    m:run_until(20 * MS)
    local left = a:ReadDmaCounter()
    assert.is_true(left > 0 and left < 1000)
    m:run()
    assert.are.equal(0, a:ReadDmaCounter())
    assert.are.equal(data, uart:sent())
    assert.is_true(m:isa_dma():masked(3))   -- terminal count masked it
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    assert.is_true(a:FlushAdapterBuffers(mdl, got.base, b.va, 1000, true))
    a:FreeAdapterChannel()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.same({}, support.p1s(m))
    dma.IoFreeMdl(mdl)
    dma.PutDmaAdapter(a)
    dma.MmUnmapIoSpace(va, uart.resources.memory.length)
    m:close()
  end)

  it("freeing the channel with a transfer mapped is report 0xE6/0x10", function()
    local m = support.machine { verifier = "record" }
    local dev = m:device { name = "isa1" }
    local a = dma.IoGetDmaAdapter(dev, { Version = 2, Master = false, InterfaceType = dma.Isa,
      DmaChannel = 1, DmaWidth = dma.Width8Bits, MaximumLength = 4096 })
    local b = m:buffer(100)
    local mdl = dma.IoAllocateMdl(b.va, 100)
    dma.MmBuildMdlForNonPagedPool(mdl)
    local got = {}
    dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, 1, keep(got))
    a:MapTransfer(mdl, got.base, b.va, 100, true)
    a:FreeAdapterChannel()
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    assert.are.same({ 0x10 }, support.p1s(m))
    dma.IoFreeMdl(mdl)
    dma.PutDmaAdapter(a)
    m:close()
  end)
end)

describe("system DMA drivers", function()
  it("wdm_sysdma writes 20000 bytes to the UART through ISA channel 1, every byte checked", function()
    local m = support.machine { alloc = "high_first" }
    local uart = m:uart { baud = 115200 }
    uart:connect_dma(m:isa_dma(), { tx = 1 })
    local drv = require "drivers.wdm_sysdma"
    local D = dma.driver { name = "\\Driver\\wdm_sysdma" }
    assert.are.equal(dma.STATUS_SUCCESS, drv.DriverEntry(D))
    assert.are.equal(dma.STATUS_SUCCESS, drv.AddDevice(D, uart.device, uart.resources))
    local data = dma.pattern(20000, 8)
    local b = m:buffer(#data)
    b:write(0, data)
    local irp = m:irp { major = dma.IRP_MJ_WRITE, buffer = b }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(uart.device, irp))
    m:run()
    assert.is_true(irp.done)
    assert.are.equal(20000, irp.IoStatus.Information)
    assert.are.equal(data, uart:sent())
    local char_ns = uart:uart_stats().char_ns
    assert.is_true(uart:uart_stats().last_sent_at >= 20000 * char_ns)
    assert.is_true(uart:uart_stats().last_sent_at <= 20002 * char_ns)
    drv.RemoveDevice(uart.device, uart.resources)
    b:free()
    assert.are.same({}, m:check_leaks())
    m:close()
  end)

  it("kmdf_uart sends and receives at once; resource lists carry the DMA descriptors", function()
    local m = support.machine {}
    local soc = m:soc_dma { instance = 0, channels = 4, lines = 16 }
    local uart = m:uart { baud = 2000000 }
    uart:connect_dma(soc, { tx = 3, rx = 4 })
    local drv = require "drivers.kmdf_uart"
    local _, Driver = drv.DriverEntry(dma.driver { name = "\\Driver\\kmdf_uart" }, nil)
    local Device, st = m:wdf_add_device(Driver, uart)
    assert.are.equal(dma.STATUS_SUCCESS, st)
    local ctx = drv.Context(Device)
    local data, incoming = dma.pattern(5000, 1), dma.pattern(900, 2)
    local b = m:buffer(#data)
    b:write(0, data)
    local irp = m:irp { major = dma.IRP_MJ_WRITE, buffer = b }
    assert.are.equal(dma.STATUS_PENDING, dma.IoCallDriver(dma.WdfDeviceWdmGetDeviceObject(Device), irp))
    uart:receive(incoming)
    m:run_until(m.now + 30 * MS)
    assert.is_true(irp.done)
    assert.are.equal(data, uart:sent())
    assert.are.equal(incoming, table.concat(ctx.Received))
    assert.are.same({ offset = 0, length = 5000 }, ctx.ChannelConfigurations[1])
    assert.are.equal(dma.DmaComplete, ctx.TxCompletions[1].status)
    assert.are.equal(dma.STATUS_SUCCESS, m:wdf_remove_device(Device))
    assert.are.equal(dma.DmaCancelled, ctx.RxStatus)
    b:free()
    assert.are.same({}, m:check_leaks())
    m:close()
  end)

  it("WdfDmaEnablerConfigureSystemProfile checks its descriptor", function()
    local m = support.machine {}
    assert.has_error(function()
      dma.WdfDmaEnablerConfigureSystemProfile(nil, {}, dma.WdfDmaDirectionReadFromDevice)
    end)
    assert.has_error(function() dma.WDF_DMA_SYSTEM_PROFILE_CONFIG_INIT(0, 7, {}) end)
    m:close()
  end)
end)
