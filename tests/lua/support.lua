-- Helpers shared by the busted specs in tests/lua (a plain module, not a
-- spec: .busted puts tests/lua on package.path, so `require "support"`).
--
-- support.machine collects garbage before making a machine: objects of
-- machines closed before keep their handles in the binding's weak handle
-- table until collected, and a new device or MDL landing at a freed object's
-- address would get such a stale handle back (a known binding bug).
local dma = require "dma"

local KiB = 1024

local support = {}

-- A new machine from dma.machine(opts), after a full garbage collection (see above).
function support.machine(opts)
  collectgarbage()
  return dma.machine(opts)
end

-- Lowers the IRQL to PASSIVE_LEVEL and closes m, if any (a spec's after_each:
-- `m = support.close(m)`); returns nil.
function support.close(m)
  if m then
    dma.KeLowerIrql(dma.PASSIVE_LEVEL)
    m:close()
  end
  return nil
end

-- The p1 values of the machine's reports, in order.
function support.p1s(m)
  local out = {}
  for i, r in ipairs(m:reports()) do out[i] = r.p1 end
  return out
end

-- The kind of each trace record, in order.
function support.kinds(records)
  local out = {}
  for i, r in ipairs(records) do out[i] = r.kind end
  return out
end

-- A 32-bit packet bus-master adapter for a new device `name`: adapter, nmr, device.
function support.packet(m, name, maxlen)
  local dev = m:device { name = name }
  local a, nmr = dma.IoGetDmaAdapter(dev, {
    Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, Dma32BitAddresses = true,
    InterfaceType = dma.PCIBus, MaximumLength = maxlen or 64 * KiB })
  return a, nmr, dev
end

-- Like packet for a device "vf" (16 KiB), DEVICE_DESCRIPTION `fields` overriding.
function support.vf_packet(m, fields)
  local dev = m:device { name = "vf" }
  local d = { Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, Dma32BitAddresses = true,
              InterfaceType = dma.PCIBus, MaximumLength = 16 * KiB }
  for k, v in pairs(fields or {}) do d[k] = v end
  local a, nmr = dma.IoGetDmaAdapter(dev, d)
  return a, nmr, dev
end

-- An adapter for a new device: kind is "packet32", "packet64", "sg32" or "sg64".
function support.adapter(m, kind, maxlen)
  local dev = m:device { name = kind }
  local a, nmr = dma.IoGetDmaAdapter(dev, {
    Version = dma.DEVICE_DESCRIPTION_VERSION2, Master = true, InterfaceType = dma.PCIBus,
    ScatterGather = kind:sub(1, 2) == "sg", Dma32BitAddresses = true,
    Dma64BitAddresses = kind:sub(-2) == "64", MaximumLength = maxlen or 64 * KiB })
  return a, nmr, dev
end

-- A buffer filled with pattern(len, seed or 1) and its MDL, built for nonpaged pool.
function support.buffer(m, len, opts, seed)
  local b = m:buffer(len, opts)
  b:write(0, dma.pattern(len, seed or 1))
  local mdl = dma.IoAllocateMdl(b.va, len)
  dma.MmBuildMdlForNonPagedPool(mdl)
  return b, mdl
end

-- A buffer (contents untouched) and its MDL, built for nonpaged pool.
function support.built(m, len, opts)
  local b = m:buffer(len, opts)
  local mdl = dma.IoAllocateMdl(b.va, len)
  dma.MmBuildMdlForNonPagedPool(mdl)
  return b, mdl
end

-- Asks a for n registers for dev; the routine logs `name`, keeps the base in the result, returns `action`.
function support.ask(a, dev, n, log, name, action)
  local held = { name = name }
  held.status = a:AllocateAdapterChannel(dev, n, function(_, _, base)
    log[#log + 1] = name
    held.base = base
    return action or dma.DeallocateObjectKeepRegisters
  end)
  return held
end

-- Raises to DISPATCH_LEVEL (left raised) and runs fn(base) in AdapterControl, which returns `action`.
function support.granted(a, dev, n, fn, action)
  dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  a:AllocateAdapterChannel(dev, n, function(_, _, base)
    fn(base)
    return action or dma.DeallocateObjectKeepRegisters
  end)
end

-- Adds hw to a framework driver "\\Registry\\<name>" whose EvtDriverDeviceAdd
-- creates a plain WDFDEVICE; returns that device.
function support.wdf_device(m, hw, name)
  local device
  local _, driver = dma.WdfDriverCreate(nil, "\\Registry\\" .. name, dma.WDF_NO_OBJECT_ATTRIBUTES,
    dma.WDF_DRIVER_CONFIG_INIT(function(_, DeviceInit)
      local status
      status, device = dma.WdfDeviceCreate(DeviceInit, dma.WDF_NO_OBJECT_ATTRIBUTES)
      return status
    end))
  m:wdf_add_device(driver, hw)
  return device
end

-- Enables the UART's TX DMA requests (its CONTROL register, through a mapping).
function support.enable_tx(uart)
  local mem = uart.resources.memory
  local va = dma.MmMapIoSpace(mem.start, mem.length, dma.MmNonCached)
  dma.WRITE_REGISTER_ULONG(va + dma.uart_registers.CONTROL, dma.uart_registers.TX_DMA)
  dma.MmUnmapIoSpace(va, mem.length)
end

-- Calls f(...) at DISPATCH_LEVEL, back at the IRQL before after; returns what f returned.
function support.at_dispatch(f, ...)
  local old = dma.KeRaiseIrql(dma.DISPATCH_LEVEL)
  local r = table.pack(f(...))
  dma.KeLowerIrql(old)
  return table.unpack(r, 1, r.n)
end

-- Runs a script under dmalab ($DMALAB, else bin/dmalab) with environment
-- `env` ("NAME=value ...", or nil); returns its exit code, stdout and stderr.
function support.run_script(script, env)
  local dmalab = os.getenv("DMALAB") or "bin/dmalab"
  local errfile = os.tmpname()
  local p = assert(io.popen(("%s %s %s 2>%s"):format(env or "", dmalab, script, errfile)))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errfile))
  local err = f:read("a")
  f:close()
  os.remove(errfile)
  return code, out, err
end

-- Asserts that out holds text (plain), showing out if not.
function support.has(out, text)
  assert(out:find(text, 1, true), ("output lacks %q:\n%s"):format(text, out))
end

-- How many times out holds text (plain).
function support.count(out, text)
  local n, at = 0, 1
  while true do
    local s, e = out:find(text, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

-- The process's resident size in KiB (VmRSS), nil if /proc/self/status lacks it.
function support.rss_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmRSS:%s+(%d+)")
    if kib then return tonumber(kib) end
  end
end

-- The machine still works after an error: a later m:after + m:run runs.
function support.still_usable(m)
  local ran = false
  m:after(10, function() ran = true end)
  m:run()
  assert(ran, "the machine no longer runs an m:after callback")
end

return support
