-- The API fuzzer (tests/fuzz/, `make fuzz`): its seeds and the inputs of
-- every crash it found run through its interpreter here too (under ASan in
-- `make test-asan`), and each crash it found has a Lua reproducer below.
local dma = require "dma"
local support = require "support"

local function files(dir)
  local out = {}
  local p = io.popen("ls " .. dir .. " 2>/dev/null")
  for name in p:lines() do out[#out + 1] = dir .. "/" .. name end
  p:close()
  return out
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

describe("the API fuzzer's interpreter", function()
  local driver = assert(loadfile("tests/fuzz/driver.lua"))

  it("runs every seed, every past crash input and the merged corpus to its end", function()
    local inputs = files("tests/fuzz/corpus")
    for _, f in ipairs(files("tests/fuzz/regressions")) do inputs[#inputs + 1] = f end
    assert.is_true(#inputs >= 8)
    for _, path in ipairs(inputs) do
      local steps = 0
      driver(read(path), function() steps = steps + 1 end)
      assert.is_true(steps > 0, path)
      collectgarbage()
    end
    local merged = files("tests/fuzz/merged")  -- some are a machine and nothing more
    assert.is_true(#merged >= 100)
    local run = driver()
    for _, path in ipairs(merged) do run(read(path)) end
  end)

  it("runs inputs one after another in one loaded interpreter with nothing carried over", function()
    -- the libFuzzer harness loads the interpreter once per Lua state: an
    -- input must do in it exactly what it does in an interpreter of its own,
    -- step by step and error by error
    local function steps(run, data)
      local out = {}
      run(data, function(name, ok, err)
        out[#out + 1] = name .. " " .. tostring(ok) .. " " .. tostring(err)
      end)
      -- machines are numbered for the whole process, so their numbers differ
      return (table.concat(out, "\n"):gsub("machine#%d+", "machine#N"))
    end
    local inputs = files("tests/fuzz/corpus")
    local alone = {}
    for i, path in ipairs(inputs) do alone[i] = steps(driver(), read(path)) end
    local run = driver()
    for i, path in ipairs(inputs) do
      assert.are.equal(alone[i], steps(run, read(path)), path)
    end
    for i = #inputs, 1, -1 do  -- and in the other order
      assert.are.equal(alone[i], steps(run, read(inputs[i])), inputs[i])
    end
  end)

  it("runs the random programs of seeds 1..1000 (a seeded random API-sequence fuzzer)", function()
    -- tests/fuzz/run.lua --random: found the IRP teardown and
    -- EvtDriverDeviceAdd crashes that are tests below
    local run = assert(loadfile("tests/fuzz/run.lua"))
    local saved = _G.arg
    _G.arg = { [0] = "tests/fuzz/run.lua", "--random", "1", "1000" }
    local ok, err = pcall(run)
    _G.arg = saved
    assert(ok, err)
    collectgarbage()
  end)

  it("makes calls that succeed in the seeds (the seeds reach deep states)", function()
    local ok_steps = {}
    driver(read("tests/fuzz/corpus/kmdf_packet"), function(name, ok)
      if ok then ok_steps[name] = true end
    end)
    for _, name in ipairs { "wdf_add_device", "WdfDmaEnablerCreate", "WdfDmaTransactionCreate",
                            "WdfDmaTransactionInitialize", "WdfDmaTransactionExecute",
                            "WdfDmaTransactionDmaCompleted", "WdfDmaTransactionRelease" } do
      assert.is_true(ok_steps[name], name)
    end
  end)
end)

describe("crashes the API fuzzer found", function()
  it("m:close() with a channel request still waiting for the adapter", function()
    -- the dropped request's routine was looked up through the machine's
    -- handle after close had already forgotten it (a read through nil)
    dma.export()
    local m = support.machine { verifier = "record" }
    local a, nmr, dev = support.packet(m, "d")
    KeRaiseIrql(DISPATCH_LEVEL)
    assert.are.equal(STATUS_SUCCESS, a:AllocateAdapterChannel(dev, nmr, function() return KeepObject end))
    local never = false
    a:AllocateAdapterChannel(dev, nmr, function() never = true return KeepObject end)
    KeLowerIrql(PASSIVE_LEVEL)
    m:close()
    assert.is_false(never)
    local m2 = support.machine {}  -- the module still works
    assert.are.equal("ok", (function() local b = m2:buffer(4096) b:write(0, "ok") return b:read(0, 2) end)())
    m2:close()
  end)

  it("a DPC queued at the end of simulated time (the run statistics looped forever)", function()
    -- time went on to 2^64 - 1 ns then; it now ends at 2^63 - 1 ns, and
    -- events due later (the DPC's latency included) happen at the end
    dma.export()
    local m = support.machine {}
    local ran_at
    local dpc = KeInitializeDpc(nil, function() ran_at = m.now end, nil)
    local queued = false
    m:after(math.maxinteger, function()
      m:after(math.maxinteger, function() queued = KeInsertQueueDpc(dpc, nil, nil) end)
    end)
    assert.is_true(m:run() >= 2)  -- returns
    assert.is_true(queued)
    assert.are.equal(math.maxinteger, ran_at)
    assert.are.equal(math.maxinteger, m.now)
    local b = m:buffer(4096)  -- the machine is still usable
    b:write(0, "ok")
    assert.are.equal("ok", b:read(0, 2))
    m:close()
  end)

  it("simulated time ends at math.maxinteger ns: a timer due later fires then, m.now stays >= 0", function()
    dma.export()
    local m = support.machine {}
    local fired
    local timer = KeInitializeTimer(nil)
    KeSetTimer(timer, -(math.maxinteger // 100), KeInitializeDpc(nil, function() fired = m.now end, nil))
    m:run()
    assert.are.equal(math.maxinteger, fired)
    assert.are.equal(math.maxinteger, m.now)
    m:after(1, function() end)  -- still schedules, at the end
    m:run()
    assert.are.equal(math.maxinteger, m.now)
    m:close()
  end)

  it("an interrupt storm of short ISRs stops at the run limit (each callback counts)", function()
    -- the count hook restarts with each callback, so callbacks shorter than
    -- its step were never counted and m:run() went on for ever
    dma.export()
    local m = support.machine { limits = { callback_instructions = 1000, run_instructions = 10000 } }
    local hw = m:device_model { vector = 30, irql = 7, read = function() return 0 end,
                                write = function() end }
    local n = 0
    local _, intr = IoConnectInterrupt(function() n = n + 1 return true end, nil, nil, 30, 7, 7,
                                       LevelSensitive, false, 1, false)
    hw:raise_interrupt()  -- never cleared: level-triggered, the ISR runs again and again
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: run exceeded 10000 Lua instructions %(in the ISR of KINTERRUPT#%d+%)", err)
    assert.is_true(n <= 10001, n)
    hw:clear_interrupt()
    IoDisconnectInterrupt(intr)
    KeLowerIrql(PASSIVE_LEVEL)
    m:close()
  end)

  it("a periodic timer's short DPC routine stops at the run limit (m:run never returned)", function()
    dma.export()
    local m = support.machine { limits = { run_instructions = 10000 } }
    local n = 0
    local t = KeInitializeTimer(nil)
    KeSetTimerEx(t, -10, 1, KeInitializeDpc(nil, function() n = n + 1 end, nil))
    local ok, err = pcall(m.run, m)
    assert.is_false(ok)
    assert.matches("limit: run exceeded 10000 Lua instructions %(in the DPC routine of KDPC#%d+%)",
                   err)
    assert.is_true(n <= 10001, n)
    KeCancelTimer(t)
    m:close()
  end)
end)
