-- The strict option reader (ldl_checkoptions/ldl_checkfields in bindings/ldl.c):
-- every table of options rejects a misspelt key with an error naming the
-- function or WDK structure and the key, listing the valid keys (and the near
-- miss it meant); tables standing for WDK structures accept every documented
-- field of the structure. The shipped scripts, which use all these tables,
-- run in `make test` (tests/run.sh).
local dma = require "dma"
local support = require "support"
dma.export()

local KiB = 1024

-- The message of the error fn raises.
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return tostring(err)
end

-- Asserts that msg contains every plain string in `parts`.
local function has(msg, parts)
  for _, p in ipairs(parts) do
    assert.is_truthy(msg:find(p, 1, true), ("%q not in %q"):format(p, msg))
  end
end

describe("options tables", function()
  local m
  before_each(function() m = support.machine { seed = 1 } end)
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  it("dma.machine rejects map_regsiters, suggesting map_registers", function()
    local msg = error_of(dma.machine, { map_regsiters = 5 })
    has(msg, { "dma.machine", "unknown field 'map_regsiters'", "did you mean 'map_registers'?",
               "valid: ram, seed, page_size, alloc, coherent, map_registers, adapter_map_registers, "
               .. "cpus, dpc_latency, interrupt_latency, trace, verifier, current, iommu, "
               .. "bounce_policy, swiotlb, limits)" })
  end)

  it("dma.machine accepts every option it documents", function()
    local m2 = dma.machine { ram = "64M", seed = 3, page_size = 4096, alloc = "scattered",
                             coherent = true, map_registers = 32, adapter_map_registers = 16,
                             cpus = 2, dpc_latency = "1us", interrupt_latency = "1us", trace = 0,
                             verifier = "record", current = false, iommu = { mode = "strict" } }
    m2:close()
    m2 = dma.machine { ram = "64M", current = false, bounce_policy = "swiotlb",
                       swiotlb = { slots = 128, slot_size = 2048, segment_slots = 128, areas = 1 } }
    m2:close()
  end)

  it("dma.machine names a key that is not a string", function()
    has(error_of(dma.machine, { 5 }), { "dma.machine", "unknown field '1'", "valid: ram," })
  end)

  it("m:buffer rejects a misspelt option", function()
    has(error_of(m.buffer, m, 4096, { ofset = 8 }),
        { "m:buffer", "unknown field 'ofset'", "did you mean 'offset'?", "valid: offset, alloc, paged" })
  end)

  it("m:device rejects a misspelt option", function()
    has(error_of(m.device, m, { nmae = "nic0" }), { "m:device", "unknown field 'nmae'", "valid: name" })
  end)

  it("m:device_model rejects a misspelt option", function()
    has(error_of(m.device_model, m, { name = "x", registres = 256 }),
        { "m:device_model", "unknown field 'registres'", "did you mean 'registers'?",
          "valid: name, registers, vector, irql, read, write" })
  end)

  it("m:busmaster and hw:inject reject misspelt options", function()
    has(error_of(m.busmaster, m, { bandwith = "1G" }),
        { "m:busmaster", "unknown field 'bandwith'", "did you mean 'bandwidth'?",
          "valid: name, vector, irql," })
    local hw = m:busmaster { name = "disk0" }
    has(error_of(hw.inject, hw, { kind = "short", at_cmd = 1 }),
        { "hw:inject", "unknown field 'at_cmd'", "valid: kind, at_command, at, probability, extra" })
  end)

  it("m:irp rejects a misspelt field, listing the fields", function()
    local b = m:buffer(100)
    has(error_of(m.irp, m, { major = IRP_MJ_READ, buffer = b, lenght = 4 }),
        { "a request has no field 'lenght' (major, buffer, offset, length, device_offset, "
          .. "completion, ioctl, input, input_offset, input_length, file, file_name)" })
  end)

  it("dma.split_transfer rejects a misspelt option", function()
    local _, mdl = support.buffer(m, 64 * KiB)
    has(error_of(dma.split_transfer, mdl, 4, { max_byte = 512 }),
        { "dma.split_transfer", "unknown field 'max_byte'", "did you mean 'max_bytes'?",
          "valid: max_bytes, alignment, max_elements, va, length" })
  end)

  it("DEVICE_DESCRIPTION rejects a name that is no field and accepts the documented ones", function()
    local dev = m:device { name = "nic0" }
    local desc = { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE, InterfaceType = PCIBus,
                   MaximumLength = 64 * KiB, MaximumLenght = 1 }
    has(error_of(IoGetDmaAdapter, dev, desc), { "DEVICE_DESCRIPTION has no field 'MaximumLenght'" })
    desc.MaximumLenght = nil
    for _, f in ipairs { "ScatterGather", "DemandMode", "AutoInitialize", "IgnoreCount", "Reserved1",
                         "Dma32BitAddresses", "Dma64BitAddresses" } do
      desc[f] = FALSE
    end
    for _, f in ipairs { "BusNumber", "DmaChannel", "DmaWidth", "DmaSpeed", "DmaPort",
                         "DmaAddressWidth", "DmaControllerInstance", "DmaRequestLine", "DeviceAddress" } do
      desc[f] = 0
    end
    local adapter = IoGetDmaAdapter(dev, desc)
    assert.is_not_nil(adapter)
    adapter.DmaOperations.PutDmaAdapter(adapter)
  end)
end)

describe("KMDF configuration tables", function()
  local m
  before_each(function() m = support.machine { seed = 1 } end)
  after_each(function()
    if m then m:close() end
    m = nil
  end)

  -- Runs body(device) in EvtDriverDeviceAdd after WdfDeviceCreate (errors
  -- are caught there and returned), with init(DeviceInit) before it.
  local function in_device_add(body, init)
    local hw = m:device_model { name = "kdev", registers = 0x100, vector = 40, irql = 7,
                                read = function() return 0 end, write = function() end }
    local result
    local function EvtDriverDeviceAdd(_, DeviceInit)
      if init then init(DeviceInit) end
      local status, device = WdfDeviceCreate(DeviceInit, WDF_NO_OBJECT_ATTRIBUTES)
      if not NT_SUCCESS(status) then return status end
      result = table.pack(pcall(body, device))
      return STATUS_SUCCESS
    end
    local _, driver = WdfDriverCreate(nil, "\\Registry\\kdev", WDF_NO_OBJECT_ATTRIBUTES,
                                      WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd))
    m:wdf_add_device(driver, hw)
    return table.unpack(result, 1, result.n)
  end

  it("WDF_DRIVER_CONFIG", function()
    local config = WDF_DRIVER_CONFIG_INIT(function() return STATUS_SUCCESS end)
    config.EvtDriverUnload, config.DriverInitFlags, config.DriverPoolTag = function() end, 0, 0
    assert.are.equal(STATUS_SUCCESS, (WdfDriverCreate(nil, nil, nil, config)))
    config.EvtDriverUnlaod = config.EvtDriverUnload
    has(error_of(WdfDriverCreate, nil, nil, nil, config),
        { "WDF_DRIVER_CONFIG has no field 'EvtDriverUnlaod'", "EvtDriverDeviceAdd, EvtDriverUnload" })
  end)

  it("WDF_OBJECT_ATTRIBUTES", function()
    local attributes = WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE("CTX")
    attributes.EvtDestroyCallback, attributes.ExecutionLevel, attributes.SynchronizationScope = nil, 0, 0
    attributes.ContextSizeOverride = 0
    local config = WDF_DRIVER_CONFIG_INIT(function() return STATUS_SUCCESS end)
    assert.are.equal(STATUS_SUCCESS, (WdfDriverCreate(nil, nil, attributes, config)))
    attributes.ContextTypInfo = "CTX"
    has(error_of(WdfDriverCreate, nil, nil, attributes, config),
        { "WDF_OBJECT_ATTRIBUTES has no field 'ContextTypInfo'", "ParentObject" })
  end)

  it("WDF_PNPPOWER_EVENT_CALLBACKS", function()
    local err
    in_device_add(function() end, function(DeviceInit)
      local callbacks = WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
      callbacks.EvtDeviceSurpriseRemoval = function() end  -- documented, not modelled: accepted
      WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, callbacks)
      callbacks.EvtDeviceD0Entyr = function() return STATUS_SUCCESS end
      err = select(2, pcall(WdfDeviceInitSetPnpPowerEventCallbacks, DeviceInit, callbacks))
    end)
    has(tostring(err), { "WDF_PNPPOWER_EVENT_CALLBACKS has no field 'EvtDeviceD0Entyr'", "EvtDeviceD0Entry" })
  end)

  it("WDF_IO_QUEUE_CONFIG", function()
    local ok, err = in_device_add(function(device)
      local config = WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(WdfIoQueueDispatchSequential)
      config.EvtIoRead = function() end
      config.AllowZeroLengthRequests, config.EvtIoStop = false, function() end
      assert.are.equal(STATUS_SUCCESS, (WdfIoQueueCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)))
      config.DefaultQueue = false
      config.EvtIoRaed = config.EvtIoRead
      WdfIoQueueCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
    end)
    assert.is_false(ok)
    has(tostring(err), { "WDF_IO_QUEUE_CONFIG has no field 'EvtIoRaed'", "EvtIoRead, EvtIoWrite" })
  end)

  it("WDF_INTERRUPT_CONFIG", function()
    local ok, err = in_device_add(function(device)
      local config = WDF_INTERRUPT_CONFIG_INIT(function() return true end, nil)
      config.ShareVector, config.AutomaticSerialization = false, false
      assert.are.equal(STATUS_SUCCESS, (WdfInterruptCreate(device, config, nil)))
      config.EvtInterruptDcp = function() end
      WdfInterruptCreate(device, config, nil)
    end)
    assert.is_false(ok)
    has(tostring(err), { "WDF_INTERRUPT_CONFIG has no field 'EvtInterruptDcp'", "EvtInterruptDpc" })
  end)

  it("WDF_DMA_ENABLER_CONFIG and WDF_COMMON_BUFFER_CONFIG", function()
    local ok, err = in_device_add(function(device)
      local config = WDF_DMA_ENABLER_CONFIG_INIT(WdfDmaProfileScatterGather64, 64 * KiB)
      local status, enabler = WdfDmaEnablerCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
      assert.are.equal(STATUS_SUCCESS, status)
      local bad = WDF_COMMON_BUFFER_CONFIG_INIT(16)
      bad.AlignmentRequirment = 16
      local cb_err = select(2, pcall(WdfCommonBufferCreateWithConfig, enabler, 100, bad, nil))
      has(tostring(cb_err), { "WDF_COMMON_BUFFER_CONFIG has no field 'AlignmentRequirment'",
                              "(Size, AlignmentRequirement)" })
      config.MaximumLenght = 1
      WdfDmaEnablerCreate(device, config, WDF_NO_OBJECT_ATTRIBUTES)
    end)
    assert.is_false(ok)
    has(tostring(err), { "WDF_DMA_ENABLER_CONFIG has no field 'MaximumLenght'", "Profile, MaximumLength" })
  end)
end)
