-- The API fuzzer's interpreter (tests/fuzz/fuzz_api.c embeds it): the
-- input bytes are a program. Each step reads an opcode byte and its operand
-- bytes and makes one dmalab call, every call under pcall: machines made,
-- selected, closed and dropped; devices, adapters, buffers, MDLs, DPCs,
-- timers, interrupts, device models, IRPs and the KMDF objects made and
-- freed; WDM and KMDF DMA calls in any order; and a generic step that calls
-- any exported function or any method of any object held with arguments
-- drawn from everything made so far (objects of other machines, closed
-- machines' objects, huge, negative and NaN numbers, callbacks). Callbacks
-- run further steps when the engine calls them (frees, closes, raises from
-- inside a routine) and return a value the bytes choose. Nothing here may
-- crash the process: a Lua error is a fine outcome of any step.
--
-- Loaded with an input (data, trace), it runs it; either way it returns
-- run(data, trace), which runs one input from a clean slate: the libFuzzer
-- harness loads this file once per Lua state and calls run per input, so
-- the module's loading and this file's set-up are not paid per input.
local data0, trace0 = ...  -- trace(name, ok, err) after each top-level step, when given
local dma = require "dma"
local W = {}
dma.export(W)

-- The input being run and where it is read (set by run).
local data, trace, pos = "", nil, 1
local function byte()
  local b = data:byte(pos)
  pos = pos + 1
  return b or 0
end
local function more() return pos <= #data end

-- Numbers a driver should never get right: edges, NaN, infinities.
local EDGES = { 0, 1, -1, 2, 7, 8, 16, 512, 4095, 4096, 4097, 8192, 65536, 1 << 20, 0x7fffffff,
                0xffffffff, 1 << 32, 1 << 40, math.maxinteger, math.mininteger, -4096, 0 / 0, 1 / 0,
                -1 / 0, 2.0 ^ 63, 1.5, -0.0, 1 << 62 }
local function num()
  local b = byte()
  if b < 96 then return b end
  if b < 192 then return (b - 96) * 512 + byte() end
  return EDGES[b % #EDGES + 1]
end
local function choose(t) return t[byte() % #t + 1] end
-- One of the usual values t, or (the last choice) any number.
local function usual(t)
  local i = byte() % (#t + 1) + 1
  if i <= #t then return t[i] end
  return num()
end

-- Everything made so far: all[i] (any value), by[kind][i] (objects by kind).
local all, by
-- owner[v]: the machine current when v was kept (weak), so that "drop" can
-- let go of a machine's objects too and __gc really frees it.
local owner
local function keep(kind, v)
  if v == nil then return v end
  if type(v) == "userdata" or type(v) == "table" then owner[v] = dma.current() end
  all[#all + 1] = v
  by[kind] = by[kind] or {}
  local list = by[kind]
  list[#list + 1] = v
  return v
end
local function pick(kind)
  local list = by[kind]
  if list and #list > 0 and byte() < 224 then return list[byte() % #list + 1] end
  if #all > 0 then return all[byte() % #all + 1] end
  return nil
end

local run_step  -- forward
local depth = 0
-- m:run() never ends while a periodic timer is set (it fires forever, time
-- advancing, so no limit strikes): once one may be, runs are bounded.
local periodic = false

-- A callback: when the engine calls it, it keeps what it is handed, runs a
-- few more steps, then returns what the bytes chose (or raises).
local RETURNS = { "KeepObject", "DeallocateObject", "DeallocateObjectKeepRegisters", "TRUE", "FALSE",
                  "STATUS_SUCCESS", "STATUS_UNSUCCESSFUL", "STATUS_INSUFFICIENT_RESOURCES" }
local value  -- forward
local function callback()
  local nsteps, ret = byte() % 4, byte()
  return function(...)
    for i = 1, select("#", ...) do
      local a = select(i, ...)
      if type(a) == "userdata" or type(a) == "table" then keep("arg", a) end
    end
    if depth < 3 then
      depth = depth + 1
      for _ = 1, nsteps do
        if not more() then break end
        run_step()
      end
      depth = depth - 1
    end
    local r = ret % 12
    if r == 0 then return nil end
    if r == 1 then error("fuzz: raised inside a callback") end
    if r == 2 then return value() end
    return W[RETURNS[r % #RETURNS + 1]]
  end
end

-- Any value: nil, booleans, numbers, strings, tables, callbacks, objects.
function value()
  local b = byte() % 16
  if b == 0 then return nil end
  if b == 1 then return byte() % 2 == 0 end
  if b <= 5 then return num() end
  if b == 6 then return "" end
  if b == 7 then return string.rep("x", num() % 5000) end
  if b == 8 then return {} end
  if b == 9 then return callback() end
  if b == 10 then return W[choose { "PASSIVE_LEVEL", "DISPATCH_LEVEL", "HIGH_LEVEL", "IRP_MJ_READ",
                                    "WdfDmaDirectionReadFromDevice", "WdfDmaProfilePacket" }] end
  if b == 11 then return pick("machine") end
  return pick(nil)
end

local function mach() return pick("machine") end
local LIMITS = { callback_instructions = 20000, run_instructions = 200000, events_without_progress = 500,
                 run_events = 20000 }

-- Sorted method names of an object's class (pairs order is not reproducible).
local method_names = setmetatable({}, { __mode = "k" })
local function methods_of(obj)
  local mt = getmetatable(obj)
  local ms = type(mt) == "table" and rawget(mt, "__methods")
  if type(ms) ~= "table" then return nil end
  local names = method_names[ms]
  if not names then
    names = {}
    for k, v in pairs(ms) do
      if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    method_names[ms] = names
  end
  return ms, names
end

-- Calls that do host work whatever their arguments (files, processes, timing).
local SKIP = { sweep = true, check_leaks = true, memcpy_bench = true, export = true, machine = true,
               _sqlite = true, _isatty = true, _monotonic = true, _cpus = true, _pool = true }
-- (m:run and m:run_until have steps of their own, bounded once a periodic
-- timer may be set.)
local SKIP_METHODS = { export_trace = true, export_vcd = true, plot = true, run = true, run_until = true }
local functions = {}
for k, v in pairs(dma) do
  if type(v) == "function" and not SKIP[k] then functions[#functions + 1] = k end
end
table.sort(functions)

local function args(n)
  local t = { n = n }
  for i = 1, n do t[i] = value() end
  return t
end

local function adapter_desc()
  local sg = byte() % 2 == 0
  return { Version = W.DEVICE_DESCRIPTION_VERSION2, Master = byte() % 8 ~= 0, ScatterGather = sg,
           Dma32BitAddresses = true, Dma64BitAddresses = byte() % 2 == 0, InterfaceType = W.PCIBus,
           MaximumLength = choose { 4096, 65536, 1 << 20, 0, 12345 } }
end

local function model(m)
  return m:device_model { name = "fz", registers = 0x100, vector = 40 + byte() % 2, irql = 7,
                          read = callback(), write = callback() }
end

local ops, OP, NAME = {}, {}, {}
-- Adds a step; tests/fuzz/seeds.lua numbers them by the order written here.
local function op(name, fn)
  ops[#ops + 1] = fn
  OP[name] = #ops
  NAME[#ops] = name
end

-- machines
op("machine", function()
  local opts = { verifier = byte() % 3 == 0 and "raise" or "record", cpus = 1 + byte() % 2,
                 limits = LIMITS, ram = choose { "64M", "16M", { { "1M", "15M" }, { "4G", "16M" } } } }
  if byte() % 4 == 0 then opts.trace = 64 end
  if byte() % 4 == 0 then opts.map_registers = byte() % 40 end
  keep("machine", dma.machine(opts))
end)
op("select", function() mach():select() end)
op("close", function() mach():close() end)
op("drop", function()  -- forget one machine and (mostly) what was made on it, then collect
  local m = mach()
  local lists = { all }
  for _, list in pairs(by) do lists[#lists + 1] = list end
  for _, list in ipairs(lists) do  -- one pass a list (table.remove each was quadratic)
    local n = 0
    for i = 1, #list do
      local v = list[i]
      list[i] = nil
      if v ~= m and owner[v] ~= m then
        n = n + 1
        list[n] = v
      end
    end
  end
  if dma.current() == m and byte() % 2 == 0 then pcall(dma.machine, { ram = "16M", limits = LIMITS }) end
  m = nil  -- luacheck: ignore
  collectgarbage()
end)
op("collect", function() collectgarbage() end)
-- devices, adapters, memory
op("device", function() keep("device", mach():device { name = "d" .. byte() }) end)
op("adapter", function()
  local a, nmr = W.IoGetDmaAdapter(pick("device"), adapter_desc())
  keep("adapter", a)
  keep("n", nmr)
end)
op("buffer_mdl", function()
  local m = mach()
  local b = keep("buffer", m:buffer(num() % (1 << 20) + 1, { offset = byte() * 16 % 4096 }))
  local mdl = keep("mdl", W.IoAllocateMdl(b.va + byte() % 64, math.max(1, b.length - byte() % 64)))
  if byte() % 4 ~= 0 then W.MmBuildMdlForNonPagedPool(mdl) end
end)
op("IoFreeMdl", function() W.IoFreeMdl(pick("mdl")) end)
op("buffer_free", function() pick("buffer"):free() end)
op("KeRaiseIrql", function()
  W.KeRaiseIrql(choose { W.DISPATCH_LEVEL, W.DISPATCH_LEVEL, W.HIGH_LEVEL, 7 })
end)
op("KeLowerIrql", function() W.KeLowerIrql(choose { W.PASSIVE_LEVEL, W.PASSIVE_LEVEL, W.DISPATCH_LEVEL }) end)
-- WDM DMA
op("AllocateAdapterChannel", function()
  local a = pick("adapter")
  a:AllocateAdapterChannel(pick("device"), usual { 1, 2, 16 }, callback(), value())
end)
op("GetScatterGatherList", function()
  local a, mdl = pick("adapter"), pick("mdl")
  local va = W.MmGetMdlVirtualAddress(mdl)
  a:GetScatterGatherList(pick("device"), mdl, va + byte() % 8, W.MmGetMdlByteCount(mdl) - byte() % 8,
                         callback(), value(), byte() % 2 == 0)
end)
op("MapTransfer", function()
  local a, mdl = pick("adapter"), pick("mdl")
  local base = pick("arg")
  a:MapTransfer(mdl, base, W.MmGetMdlVirtualAddress(mdl), num(), byte() % 2 == 0)
end)
op("FlushAdapterBuffers", function()
  local a, mdl = pick("adapter"), pick("mdl")
  a:FlushAdapterBuffers(mdl, pick("arg"), W.MmGetMdlVirtualAddress(mdl), num(), byte() % 2 == 0)
end)
op("FreeMapRegisters", function() pick("adapter"):FreeMapRegisters(pick("arg"), usual { 1, 2, 16 }) end)
op("FreeAdapterChannel", function() pick("adapter"):FreeAdapterChannel() end)
op("PutScatterGatherList", function() pick("adapter"):PutScatterGatherList(pick("arg"), byte() % 2 == 0) end)
op("PutDmaAdapter", function() pick("adapter"):PutDmaAdapter() end)
op("AllocateCommonBuffer", function()
  local a = pick("adapter")
  local va, logical = a:AllocateCommonBuffer(usual { 4096, 100 }, false)
  keep("common", { a = a, va = va, logical = logical })
end)
-- DPCs, timers, interrupts, time
op("KeInitializeDpc", function() keep("dpc", W.KeInitializeDpc(nil, callback(), value())) end)
op("KeInsertQueueDpc", function() W.KeInsertQueueDpc(pick("dpc"), value(), value()) end)
op("KeRemoveQueueDpc", function() W.KeRemoveQueueDpc(pick("dpc")) end)
op("KeInitializeTimer", function() keep("timer", W.KeInitializeTimer(nil)) end)
op("KeSetTimer", function() W.KeSetTimer(pick("timer"), -num(), pick("dpc")) end)
op("KeSetTimerEx", function()
  periodic = true
  W.KeSetTimerEx(pick("timer"), -num(), byte() % 3, pick("dpc"))
end)
op("KeCancelTimer", function() W.KeCancelTimer(pick("timer")) end)
op("after", function() keep("after", mach():after(num(), callback())) end)
op("cancel", function() mach():cancel(pick("after")) end)
op("run", function()
  local m = mach()
  if periodic then m:run_until(m.now + num() * 1000) else m:run() end
end)
op("step", function() mach():step() end)
op("run_until", function()
  local m = mach()
  m:run_until(periodic and m.now + num() % 1000000000 or num())
end)
op("device_model", function() keep("model", model(mach())) end)
op("IoConnectInterrupt", function()
  local _, i = W.IoConnectInterrupt(callback(), value(), nil, 40 + byte() % 2, 7, 7,
                                    W.LevelSensitive, byte() % 2 == 0, 1, false)
  keep("interrupt", i)
end)
op("KeSynchronizeExecution", function() W.KeSynchronizeExecution(pick("interrupt"), callback(), value()) end)
op("IoDisconnectInterrupt", function() W.IoDisconnectInterrupt(pick("interrupt")) end)
op("raise_interrupt", function() pick("model"):raise_interrupt() end)
op("clear_interrupt", function() pick("model"):clear_interrupt() end)
-- drivers, IRPs
op("driver", function()
  local drv = keep("driver", dma.driver { name = "\\Driver\\fz" .. byte(),
                                          MajorFunction = { [W.IRP_MJ_READ] = callback(),
                                                            [W.IRP_MJ_WRITE] = callback() },
                                          DriverStartIo = callback() })
  local _, dev = W.IoCreateDevice(drv, 0, nil, W.FILE_DEVICE_UNKNOWN, 0, false)
  keep("device", dev)
end)
op("irp", function()
  keep("irp", mach():irp { major = choose { W.IRP_MJ_READ, W.IRP_MJ_WRITE }, buffer = pick("buffer"),
                           device_offset = num() })
end)
op("IoCallDriver", function() W.IoCallDriver(pick("device"), pick("irp")) end)
op("IoCompleteRequest", function() W.IoCompleteRequest(pick("irp"), 0) end)
op("IoStartPacket", function() W.IoStartPacket(pick("device"), pick("irp"), nil, nil) end)
op("IoStartNextPacket", function() W.IoStartNextPacket(pick("device"), false) end)
-- KMDF
op("wdf_add_device", function()
  local m = mach()
  local add = callback()
  -- flags: 1 PnP/power callbacks, 2 a cleanup on the device, 4 a default
  -- queue, 0x38 all set: EvtDriverDeviceAdd fails
  local function EvtDriverDeviceAdd(drv, init)
    local flags = byte()
    if flags & 1 ~= 0 then
      local pnp = W.WDF_PNPPOWER_EVENT_CALLBACKS_INIT()
      pnp.EvtDevicePrepareHardware, pnp.EvtDeviceReleaseHardware = callback(), callback()
      pnp.EvtDeviceD0Entry, pnp.EvtDeviceD0Exit = callback(), callback()
      W.WdfDeviceInitSetPnpPowerEventCallbacks(init, pnp)
    end
    local attrs = W.WDF_NO_OBJECT_ATTRIBUTES
    if flags & 2 ~= 0 then
      attrs = W.WDF_OBJECT_ATTRIBUTES_INIT()
      attrs.EvtCleanupCallback = callback()
    end
    local status, device = W.WdfDeviceCreate(init, attrs)
    keep("wdfdevice", device)
    if flags & 4 ~= 0 then
      local q = W.WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(W.WdfIoQueueDispatchParallel)
      q.EvtIoRead, q.EvtIoWrite = callback(), callback()
      W.WdfIoQueueCreate(device, q, W.WDF_NO_OBJECT_ATTRIBUTES)
    end
    add(drv, init, device)
    return flags & 0x38 == 0x38 and W.STATUS_UNSUCCESSFUL or status
  end
  local config = W.WDF_DRIVER_CONFIG_INIT(EvtDriverDeviceAdd)
  local _, driver = W.WdfDriverCreate(nil, "\\Registry\\fz", W.WDF_NO_OBJECT_ATTRIBUTES, config)
  keep("wdfdriver", driver)
  keep("wdfdevice", (m:wdf_add_device(driver, pick("model"))))
end)
op("WdfDmaEnablerCreate", function()
  local config = W.WDF_DMA_ENABLER_CONFIG_INIT(choose { W.WdfDmaProfilePacket, W.WdfDmaProfileScatterGather,
                                                        W.WdfDmaProfilePacket64,
                                                        W.WdfDmaProfileScatterGather64 },
                                               usual { 4096, 65536, 1 << 20 })
  if byte() % 2 == 1 then  -- the power callbacks (reference 2.6)
    for _, k in ipairs { "EvtDmaEnablerFill", "EvtDmaEnablerFlush", "EvtDmaEnablerEnable",
                         "EvtDmaEnablerDisable", "EvtDmaEnablerSelfManagedIoStart",
                         "EvtDmaEnablerSelfManagedIoStop" } do
      config[k] = callback()
    end
  end
  local attrs = W.WDF_OBJECT_ATTRIBUTES_INIT()
  attrs.EvtCleanupCallback = callback()
  local _, e = W.WdfDmaEnablerCreate(pick("wdfdevice"), config, attrs)
  keep("enabler", e)
end)
op("WdfDmaTransactionCreate", function()
  local attrs = W.WDF_OBJECT_ATTRIBUTES_INIT()
  attrs.EvtCleanupCallback = callback()
  attrs.EvtDestroyCallback = callback()
  attrs.ParentObject = byte() % 4 == 0 and pick(nil) or nil
  local _, t = W.WdfDmaTransactionCreate(pick("enabler"), attrs)
  keep("txn", t)
end)
op("WdfDmaTransactionInitialize", function()
  local mdl = pick("mdl")
  local va = W.MmGetMdlVirtualAddress(mdl)
  W.WdfDmaTransactionInitialize(pick("txn"), callback(), choose { W.WdfDmaDirectionReadFromDevice,
                                                                  W.WdfDmaDirectionWriteToDevice },
                                mdl, va + byte() % 4, usual { W.MmGetMdlByteCount(mdl) })
end)
op("WdfDmaTransactionExecute", function() W.WdfDmaTransactionExecute(pick("txn"), value()) end)
op("WdfDmaTransactionDmaCompleted", function() W.WdfDmaTransactionDmaCompleted(pick("txn")) end)
op("WdfDmaTransactionDmaCompletedWithLength", function()
  W.WdfDmaTransactionDmaCompletedWithLength(pick("txn"), num())
end)
op("WdfDmaTransactionDmaCompletedFinal", function()
  W.WdfDmaTransactionDmaCompletedFinal(pick("txn"), num())
end)
op("WdfDmaTransactionRelease", function() W.WdfDmaTransactionRelease(pick("txn")) end)
op("WdfDmaTransactionCancel", function() W.WdfDmaTransactionCancel(pick("txn")) end)
op("WdfDmaTransactionAllocateResources", function()
  W.WdfDmaTransactionAllocateResources(pick("txn"), byte() % 2, usual { 1, 2, 0 }, callback(), value())
end)
op("WdfDmaTransactionFreeResources", function() W.WdfDmaTransactionFreeResources(pick("txn")) end)
op("WdfObjectDelete", function()
  W.WdfObjectDelete(pick(choose { "txn", "enabler", "wdfdevice", "common", "wdfdriver" }))
end)
op("WdfCommonBufferCreateWithConfig", function()
  local config = W.WDF_COMMON_BUFFER_CONFIG_INIT(byte() % 16)
  local _, cb = W.WdfCommonBufferCreateWithConfig(pick("enabler"), usual { 4096 }, config, nil)
  keep("common", cb)
end)
op("WdfInterruptCreate", function()
  local config = W.WDF_INTERRUPT_CONFIG_INIT(callback(), callback())
  local _, i = W.WdfInterruptCreate(pick("wdfdevice"), config, nil)
  keep("interrupt", i)
end)
op("WdfInterruptSynchronize", function()
  W.WdfInterruptSynchronize(pick("interrupt"), callback(), value())
end)
op("wdf_remove_device", function() mach():wdf_remove_device(pick("wdfdevice")) end)
op("wdf_set_power", function() mach():wdf_set_power(pick("wdfdevice"), choose { "D0", "D3" }) end)
op("wdf_fail_allocations", function() mach():wdf_fail_allocations(byte() % 4) end)
-- anything: a function of the module, or a method of an object held
op("function", function()
  local name = functions[byte() % #functions + 1]
  if name == "KeSetTimerEx" then periodic = true end
  local f = dma[name]
  local a = args(byte() % 5)
  f(table.unpack(a, 1, a.n))
end)
op("method", function()
  local obj = pick(nil)
  local ms, names = methods_of(obj)
  if not ms or #names == 0 then return end
  local name = names[byte() % #names + 1]
  if SKIP_METHODS[name] then return end
  local a = args(byte() % 5)
  ms[name](obj, table.unpack(a, 1, a.n))
end)
op("field", function()  -- a field read or write on an object
  local obj = pick(nil)
  if byte() % 2 == 0 then
    local _ = obj[value()]
  else
    obj[value()] = value()
  end
end)

-- Runs the next step under pcall (reported to trace, indented by depth).
function run_step()
  local i = byte() % #ops + 1
  local ok, err = pcall(ops[i])
  if trace then trace(string.rep("  ", depth) .. NAME[i], ok, err) end
end

-- Runs one input from a clean slate; at the end every machine it made is
-- closed and its garbage collected, so nothing of it outlives the call.
local function run(input, tracer)
  data, trace, pos = input, tracer, 1
  all, by, owner = {}, {}, setmetatable({}, { __mode = "k" })
  depth, periodic = 0, false
  -- Every program starts with a machine so most steps have something to act on.
  pcall(ops[OP.machine])
  while more() do run_step() end
  -- Leave the process as a script's end would: lower the IRQL, close what is open.
  pcall(W.KeLowerIrql, W.PASSIVE_LEVEL)
  for _, m in ipairs(by.machine or {}) do pcall(m.close, m) end
  all, by, owner = nil, nil, nil
  collectgarbage()
end

if data0 then run(data0, trace0) end
return run
