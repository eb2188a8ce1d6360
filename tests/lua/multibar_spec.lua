-- Device models with several memory BARs, I/O-port ranges and interrupts:
-- m:device_model{ bars=, ports=, interrupts= }, the handlers told which
-- range an access reaches, READ_PORT_* / WRITE_PORT_* (no mapping step),
-- the resources a WDM driver finds (hw.resources and the CM_RESOURCE_LIST
-- of IRP_MN_START_DEVICE), the list KMDF's EvtDevicePrepareHardware gets,
-- WdfInterruptCreate choosing its descriptor, and a second interrupt line.
local dma = require "dma"
local support = require "support"
dma.export()

-- A NIC-like model: BAR0 (CSRs, its own handlers), BAR1 (a prefetchable
-- window the model's handlers serve), one port range, a line interrupt
-- and a message interrupt. `log` gets every access.
local function nic(m, log)
  local function note(...) log[#log + 1] = { ... } end
  return m:device_model {
    name = "nic",
    bars = {
      { size = 0x20000,
        read = function(_, offset, size, space, index)
          note("csr", offset, size, space, index)
          return 0xC5
        end,
        write = function(_, offset, size, value, space, index)
          note("csr=", offset, size, value, space, index)
        end },
      { size = "16K", prefetchable = true },
    },
    ports = { { size = 0x20 } },
    interrupts = { { vector = 40, irql = 7 }, { vector = 41, irql = 8, message = true } },
    read = function(_, offset, size, space, index) note("dev", offset, size, space, index) return 0x5A end,
    write = function(_, offset, size, value, space, index)
      note("dev=", offset, size, value, space, index)
    end,
  }
end

describe("a device model with several BARs, ports and interrupts", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("lists every range and interrupt in hw.resources, the first of each as before", function()
    local hw = nic(m, {})
    local r = hw.resources
    assert.are.equal(2, #r.bars)
    assert.are.same({ start = r.bars[1].start, length = 0x20000 }, r.memory)
    assert.are.same({ start = r.bars[1].start + 0x20000, length = 0x4000, prefetchable = true }, r.bars[2])
    assert.are.same({ { start = 0x1000, length = 0x20 } }, r.ports)
    assert.are.same({ start = 0x1000, length = 0x20 }, r.port)
    assert.are.same({ vector = 40, level = 7 }, r.interrupt)
    assert.are.same({ vector = 41, level = 8, latched = true, message = true }, r.interrupts[2])
    assert.matches("bars=2 ports=1 interrupts=2", tostring(hw))
  end)

  it("gives a WDM driver the CM_RESOURCE_LIST of IRP_MN_START_DEVICE, 0-based as in C", function()
    local hw = nic(m, {})
    local list = hw.resources.AllocatedResourcesTranslated
    assert.are.equal(1, list.Count)
    local partial = list.List[0].PartialResourceList
    assert.are.equal(5, partial.Count)
    local types, flags = {}, {}
    for i = 0, partial.Count - 1 do
      local desc = partial.PartialDescriptors[i]
      types[#types + 1], flags[#flags + 1] = desc.Type, desc.Flags
    end
    assert.are.same({ CmResourceTypeMemory, CmResourceTypeMemory, CmResourceTypePort,
                      CmResourceTypeInterrupt, CmResourceTypeInterrupt }, types)
    assert.are.same({ CM_RESOURCE_MEMORY_READ_WRITE, CM_RESOURCE_MEMORY_PREFETCHABLE,
                      CM_RESOURCE_PORT_IO | CM_RESOURCE_PORT_16_BIT_DECODE,
                      CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE,
                      CM_RESOURCE_INTERRUPT_LATCHED | CM_RESOURCE_INTERRUPT_MESSAGE }, flags)
    local d = partial.PartialDescriptors
    assert.are.equal(hw.resources.bars[2].start, d[1].u.Memory.Start)
    assert.are.equal(0x20, d[2].u.Port.Length)
    assert.are.equal(CmResourceShareShared, d[3].ShareDisposition)
    assert.are.same({ Level = 8, Vector = 41, Affinity = 1 }, d[4].u.MessageInterrupt.Translated)
    assert.are.equal(1, d[4].u.MessageInterrupt.Raw.MessageCount)
    assert.are.equal(5, hw.resources.AllocatedResources.List[0].PartialResourceList.Count)
  end)

  it("sends each access to its BAR's handlers, else the model's, with the space and index", function()
    local log = {}
    local hw = nic(m, log)
    local r = hw.resources
    local bar0 = MmMapIoSpace(r.bars[1].start, r.bars[1].length, MmNonCached)
    local bar1 = MmMapIoSpace(r.bars[2].start, r.bars[2].length, MmNonCached)
    assert.are.equal(0xC5, READ_REGISTER_ULONG(bar0 + 0x100))
    WRITE_REGISTER_USHORT(bar0 + 8, 0x1234)
    assert.are.equal(0x5A, READ_REGISTER_UCHAR(bar1 + 0x3FFF))
    WRITE_REGISTER_ULONG(bar1, 7)
    assert.are.same({ { "csr", 0x100, 4, "memory", 1 }, { "csr=", 8, 2, 0x1234, "memory", 1 },
                      { "dev", 0x3FFF, 1, "memory", 2 }, { "dev=", 0, 4, 7, "memory", 2 } }, log)
    assert.has_error(function() MmMapIoSpace(r.bars[1].start + 0x1F000, 0x2000, MmNonCached) end)
    local ex = MmMapIoSpaceEx(r.bars[2].start, 0x100, PAGE_READWRITE | PAGE_NOCACHE)
    assert.are.equal(0x5A, READ_REGISTER_ULONG(ex + 4))
    assert.are.same({ "dev", 4, 4, "memory", 2 }, log[#log])
    MmUnmapIoSpace(ex, 0x100)
    assert.has_error(function()
      MmMapIoSpaceEx(r.bars[2].start, 0x100, PAGE_NOCACHE | PAGE_WRITECOMBINE)
    end, "bad argument #3 to 'MmMapIoSpaceEx' (one of PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, "
         .. "PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, with at most one of PAGE_NOCACHE, "
         .. "PAGE_WRITECOMBINE)")
    MmUnmapIoSpace(bar0, r.bars[1].length)
    MmUnmapIoSpace(bar1, r.bars[2].length)
  end)

  it("READ_PORT_* / WRITE_PORT_* reach the port handlers at the resource's address, no mapping", function()
    local log = {}
    local hw = nic(m, log)
    local port = hw.resources.port.start
    assert.are.equal(0x5A, READ_PORT_UCHAR(port + 3))
    WRITE_PORT_ULONG(port + 4, 0x1FFFFFFFF)  -- cut to 32 bits
    assert.are.equal(0x5A, READ_PORT_USHORT(port + 0x1E))
    local buf = {}
    READ_PORT_BUFFER_UCHAR(port, buf, 3)
    assert.are.same({ 0x5A, 0x5A, 0x5A }, buf)
    WRITE_PORT_BUFFER_USHORT(port + 2, { 1, 2 }, 2)
    assert.are.same({ "dev", 3, 1, "port", 1 }, log[1])
    assert.are.same({ "dev=", 4, 4, 0xFFFFFFFF, "port", 1 }, log[2])
    assert.are.same({ "dev=", 2, 2, 2, "port", 1 }, log[#log])  -- the same port each time
    assert.are.equal(8, #log)
    assert.has_error(function() READ_PORT_ULONG(port + 0x1E) end,
                     "bad argument #1 to 'READ_PORT_ULONG' (not a device's I/O port (u.Port.Start of a "
                     .. "CmResourceTypePort resource))")
    assert.has_error(function() WRITE_PORT_UCHAR(0x80, 1) end)
  end)

  it("a ports-only model has no BAR; the single-BAR form stays as it was", function()
    local serial = m:device_model { name = "uart", ports = { { size = 8 } }, vector = 36, irql = 5 }
    assert.is_nil(serial.resources.memory)
    assert.are.same({}, serial.resources.bars)
    assert.are.equal(8, serial.resources.port.length)
    local plain = m:device_model { name = "plain" }
    assert.are.equal(4096, plain.resources.memory.length)
    assert.are.same({ vector = 16, level = 5 }, plain.resources.interrupt)
    assert.is_nil(plain.resources.port)
  end)

  it("rejects unknown fields of an entry listing the valid ones, and mixed forms", function()
    local function err(t)
      local ok, e = pcall(m.device_model, m, t)
      assert.is_false(ok)
      return e
    end
    assert.matches("bars%[2%]: unknown field 'sise' %(valid: size, prefetchable, read, write%)",
                   err { bars = { { size = 16 }, { sise = 16 } } })
    assert.matches("interrupts%[1%]: unknown field 'level' %(valid: vector, irql, mode, message%)",
                   err { interrupts = { { level = 7 } } })
    assert.matches("give registers %(one BAR%) or bars, not both", err { registers = 16, bars = {} })
    assert.matches("give vector/irql %(one interrupt%) or interrupts, not both",
                   err { irql = 6, interrupts = {} })
    assert.matches("ports%[1%]: size must be 1 .. 256", err { ports = { { size = 257 } } })
    local seven = {}
    for i = 1, 7 do seven[i] = { size = 1 } end
    assert.matches("at most 6 bars", err { bars = seven })
    assert.matches("interrupts%[1%]: mode must be", err { interrupts = { { mode = "edge" } } })
    assert.matches("bars%[1%]: read must be a function", err { bars = { { size = 1, read = 1 } } })
    assert.matches("unknown field 'bar'", err { bar = {} })
  end)

  it("drives each interrupt line: an ISR on the second vector runs for raise_interrupt(2)", function()
    local hw = nic(m, {})
    local seen = {}
    local r = hw.resources.interrupts[2]
    local status, intr = IoConnectInterrupt(function(_, ctx)
      seen[#seen + 1] = { ctx, KeGetCurrentIrql() }
      hw:clear_interrupt(2)
      return true
    end, "second", nil, r.vector, r.level, r.level, Latched, FALSE, 1, FALSE)
    assert.are.equal(STATUS_SUCCESS, status)
    hw:raise_interrupt(2)
    m:run()
    assert.are.same({ { "second", 8 } }, seen)
    assert.is_false(hw.interrupt_asserted)  -- interrupt 1's line stayed low
    assert.has_error(function() hw:raise_interrupt(3) end,
                     "bad argument #1 to 'raise_interrupt' (the model has 2 interrupt(s))")
    IoDisconnectInterrupt(intr)
  end)
end)

describe("KMDF on a device with several resources", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  -- A driver whose EvtDevicePrepareHardware maps both BARs, notes the port
  -- and creates one WDFINTERRUPT per interrupt descriptor, passing the pair.
  local function driver(rec)
    local function EvtInterruptIsr(Interrupt, MessageID)
      rec.isr[#rec.isr + 1] = { Interrupt, MessageID, KeGetCurrentIrql() }
      rec.hw:clear_interrupt(MessageID + 1)
      return TRUE
    end
    local function EvtDevicePrepareHardware(Device, ResourcesRaw, ResourcesTranslated)
      rec.bars, rec.interrupts = {}, {}
      local config = WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, nil)
      rec.unpaired = WdfInterruptCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
      for i = 0, WdfCmResourceListGetCount(ResourcesTranslated) - 1 do
        local desc = WdfCmResourceListGetDescriptor(ResourcesTranslated, i)
        if desc.Type == CmResourceTypeMemory then
          rec.bars[#rec.bars + 1] = MmMapIoSpace(desc.u.Memory.Start, desc.u.Memory.Length, MmNonCached)
        elseif desc.Type == CmResourceTypePort then
          assert(desc.Flags & CM_RESOURCE_PORT_IO ~= 0)
          rec.port = desc.u.Port.Start
        elseif desc.Type == CmResourceTypeInterrupt then
          config.InterruptRaw = WdfCmResourceListGetDescriptor(ResourcesRaw, i)
          config.InterruptTranslated = desc
          local status, interrupt = WdfInterruptCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
          assert(status == STATUS_SUCCESS, status)
          rec.interrupts[#rec.interrupts + 1] = interrupt
        end
      end
      config.InterruptTranslated = {}  -- not one of the list's descriptors
      rec.foreign = WdfInterruptCreate(Device, config, WDF_NO_OBJECT_ATTRIBUTES)
      return STATUS_SUCCESS
    end
    local function EvtDriverDeviceAdd(_, DeviceInit)
      local pnp = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
      pnp.EvtDevicePrepareHardware = EvtDevicePrepareHardware
      WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, pnp)
      local status, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
      local config = WDF_INTERRUPT_CONFIG_INIT(EvtInterruptIsr, nil)
      config.InterruptTranslated = {}
      rec.early = WdfInterruptCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
      return status
    end
    local status, drv = WdfDriverCreate(nil, "\\Registry\\nic", WDF_NO_OBJECT_ATTRIBUTES,
                                        WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
    assert(status == STATUS_SUCCESS)
    return drv
  end

  it("EvtDevicePrepareHardware sees every range and interrupt; WdfInterruptCreate takes the pair", function()
    local log = {}
    local rec = { isr = {} }
    rec.hw = nic(m, log)
    local device, status = m:wdf_add_device(driver(rec), rec.hw)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.same({ "started", "D0" }, { device:state() })
    assert.are.equal(STATUS_INVALID_PARAMETER, rec.early)           -- descriptors in EvtDriverDeviceAdd
    assert.are.equal(STATUS_INVALID_DEVICE_STATE, rec.unpaired)     -- none in EvtDevicePrepareHardware
    assert.are.equal(STATUS_INVALID_PARAMETER, rec.foreign)         -- not the device's descriptor
    assert.are.equal(2, #rec.bars)
    assert.are.equal(2, #rec.interrupts)
    assert.is_true(rec.interrupts[1]:connected() and rec.interrupts[2]:connected())
    assert.are.equal(0xC5, READ_REGISTER_ULONG(rec.bars[1]))
    assert.are.equal(0x5A, READ_PORT_UCHAR(rec.port))
    assert.are.same({ "csr", 0, 4, "memory", 1 }, log[1])
    assert.are.same({ "dev", 0, 1, "port", 1 }, log[2])
    rec.hw:raise_interrupt(2)  -- the message interrupt: MessageID 1
    m:run()
    rec.hw:raise_interrupt(1)  -- the line
    m:run()
    assert.are.same({ { rec.interrupts[2], 1, 8 }, { rec.interrupts[1], 0, 7 } }, rec.isr)
    local info = WDF_INTERRUPT_INFO_INIT()
    WdfInterruptGetInfo(rec.interrupts[2], info)
    assert.are.same({ 1, 41, 8, Latched, true, CmResourceShareDeviceExclusive },
                    { info.MessageNumber, info.Vector, info.Irql, info.Mode, info.MessageSignaled,
                      info.ShareDisposition })
    WdfInterruptGetInfo(rec.interrupts[1], info)
    assert.are.same({ 0, 40, LevelSensitive, false, CmResourceShareShared },
                    { info.MessageNumber, info.Vector, info.Mode, info.MessageSignaled,
                      info.ShareDisposition })
    assert.are.equal(STATUS_SUCCESS, m:wdf_remove_device(device))
  end)
end)

describe("IoConnectInterruptEx", function()
  local m
  before_each(function() m = support.machine { ram = "4G" } end)
  after_each(function() m = support.close(m) end)

  it("CONNECT_LINE_BASED connects the device's line interrupt found from its PDO", function()
    local hw = nic(m, {})
    local seen = {}
    local params = { Version = CONNECT_LINE_BASED, LineBased = {
      PhysicalDeviceObject = hw.device, ServiceContext = "ctx",
      ServiceRoutine = function(_, ctx)
        seen[#seen + 1] = { ctx, KeGetCurrentIrql() }
        hw:clear_interrupt(1)
        return TRUE
      end } }
    local status, intr = IoConnectInterruptEx(params)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(intr, params.LineBased.InterruptObject)
    assert.matches("vector=40 irql=7 level shared", tostring(intr))
    hw:raise_interrupt(1)
    m:run()
    assert.are.same({ { "ctx", 7 } }, seen)
    IoDisconnectInterruptEx { Version = CONNECT_LINE_BASED, ConnectionContext = { InterruptObject = intr } }
    assert.are.equal("KINTERRUPT (disconnected)", tostring(intr))
  end)

  it("CONNECT_MESSAGE_BASED connects each message with its MessageID, in an InterruptMessageTable", function()
    local hw = m:device_model { name = "msix", interrupts = { { vector = 50, irql = 6, message = true },
                                                              { vector = 51, irql = 9, message = true } } }
    local seen = {}
    local params = { Version = CONNECT_MESSAGE_BASED, MessageBased = {
      PhysicalDeviceObject = hw.device, ServiceContext = "ctx",
      MessageServiceRoutine = function(_, ctx, MessageID)
        seen[#seen + 1] = { ctx, MessageID, KeGetCurrentIrql() }
        hw:clear_interrupt(MessageID + 1)
        return TRUE
      end } }
    local status, tbl = IoConnectInterruptEx(params)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(CONNECT_MESSAGE_BASED, params.Version)
    assert.are.equal(tbl, params.MessageBased.ConnectionContext.InterruptMessageTable)
    assert.are.same({ 2, 9, 51 }, { tbl.MessageCount, tbl.UnifiedIrql, tbl.MessageInfo[1].Vector })
    hw:raise_interrupt(2)
    m:run()
    hw:raise_interrupt(1)
    m:run()
    assert.are.same({ { "ctx", 1, 9 }, { "ctx", 0, 6 } }, seen)
    IoDisconnectInterruptEx { Version = CONNECT_MESSAGE_BASED,
                              ConnectionContext = params.MessageBased.ConnectionContext }
    assert.are.equal("KINTERRUPT (disconnected)", tostring(tbl.MessageInfo[0].InterruptObject))
  end)

  it("CONNECT_MESSAGE_BASED falls back to the line with FallBackServiceRoutine: LINE_BASED", function()
    local hw = m:device_model { name = "legacy" }
    local params = { Version = CONNECT_MESSAGE_BASED, MessageBased = {
      PhysicalDeviceObject = hw.device, MessageServiceRoutine = function() return TRUE end } }
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, IoConnectInterruptEx(params))
    params.MessageBased.FallBackServiceRoutine = function() return TRUE end
    local status, intr = IoConnectInterruptEx(params)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.are.equal(CONNECT_LINE_BASED, params.Version)
    assert.are.equal(intr, params.MessageBased.ConnectionContext.InterruptObject)
    IoDisconnectInterruptEx { Version = CONNECT_LINE_BASED, ConnectionContext = { InterruptObject = intr } }
  end)

  it("CONNECT_FULLY_SPECIFIED takes the vector and IRQL; bad parameters: WDK statuses or errors", function()
    local hw = m:device_model { name = "msi", interrupts = { { vector = 60, irql = 6, message = true } } }
    local params = { Version = CONNECT_FULLY_SPECIFIED, FullySpecified = {
      PhysicalDeviceObject = hw.device, ServiceRoutine = function() return TRUE end,
      Vector = 60, Irql = 6,
      SynchronizeIrql = 6, InterruptMode = Latched, ShareVector = FALSE, ProcessorEnableMask = 1 } }
    local status, intr = IoConnectInterruptEx(params)
    assert.are.equal(STATUS_SUCCESS, status)
    assert.matches("latched", tostring(intr))
    IoDisconnectInterruptEx { Version = CONNECT_FULLY_SPECIFIED,
                              ConnectionContext = { InterruptObject = intr } }
    assert.are.equal(STATUS_INVALID_PARAMETER_1, IoConnectInterruptEx { Version = 9 })
    assert.are.equal(STATUS_INVALID_DEVICE_REQUEST, IoConnectInterruptEx {  -- a message-only device
      Version = CONNECT_LINE_BASED,
      LineBased = { PhysicalDeviceObject = hw.device, ServiceRoutine = function() return TRUE end } })
    assert.are.equal(STATUS_INVALID_PARAMETER, IoConnectInterruptEx {
      Version = CONNECT_LINE_BASED, LineBased = { ServiceRoutine = function() return TRUE end } })
    assert.has_error(function()
      IoConnectInterruptEx { Version = CONNECT_LINE_BASED, LineBased = { ServiceRotine = print } }
    end, "bad argument #1 to 'IoConnectInterruptEx' (IO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS "
         .. "has no field 'ServiceRotine' (PhysicalDeviceObject, InterruptObject, ServiceRoutine, "
         .. "ServiceContext, SpinLock, SynchronizeIrql, FloatingSave))")
    assert.has_error(function() return dma.CONNECT_MESSAGE_BASED_PASSIVE end)  -- not modelled
  end)
end)
