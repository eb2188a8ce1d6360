-- The wrong-type sweep (the "No Lua input can crash the engine" issue):
-- every function the module exports and every method of the main object
-- types, called with nil, false, 0, -1, the integer extremes, NaN, "", a
-- huge string, a table, a function and other types' userdata in each of
-- its first three arguments. Each call must return to Lua (an error is
-- fine; a crash, an abort under ASan/UBSan or a hang is not), every error
-- must be a message, and the machine must stay usable. Generated from the
-- module table, so a new function is swept without an edit here.
local dma = require "dma"

-- Functions that do real work on the host with any argument: sweeps fork
-- workers, dma.check_leaks(out) writes to a file named by its argument,
-- memcpy_bench times the host.
local SKIP = { sweep = true, check_leaks = true, memcpy_bench = true, export = true }
local SKIP_METHODS = { close = true, select = true, free = true, export_trace = true,
                       export_vcd = true, plot = true }

local function objects()
  local env = {}
  dma.export(env)
  local m = dma.machine { ram = { { "1M", "1M" }, { "4G", "1G" } } }
  local dev = m:device {}
  local b = m:buffer(8192)
  local mdl = env.IoAllocateMdl(b.va, 8192)
  env.MmBuildMdlForNonPagedPool(mdl)
  local a = env.IoGetDmaAdapter(dev, { Version = 2, Master = 1, ScatterGather = 1, Dma32BitAddresses = 1,
                                       InterfaceType = 5, MaximumLength = 65536 })
  return env, m, { machine = m, device = dev, buffer = b, mdl = mdl, adapter = a,
                   dpc = env.KeInitializeDpc(nil, function() end), timer = env.KeInitializeTimer(),
                   model = m:device_model { registers = 4096, read = function() return 0 end,
                                            write = function() end },
                   busmaster = m:busmaster {} }
end

local function bad_values(o)
  return { false, 0, -1, math.maxinteger, math.mininteger, 0 / 0, "", string.rep("x", 100000), {},
           function() end, o.device, o.machine, o.mdl }
end

-- Calls f with each bad value at positions 1..3 (after `self` when given);
-- returns how many calls ran and the first error that was not a string.
local function sweep(f, self, bad, after)
  local n, odd = 0, nil
  for pos = 1, 3 do
    for _, v in ipairs(bad) do
      local args = { n = 3 }
      args[pos] = v
      local ok, err
      if self ~= nil then
        ok, err = pcall(f, self, args[1], args[2], args[3])
      else
        ok, err = pcall(f, args[1], args[2], args[3])
      end
      if not ok and type(err) ~= "string" and odd == nil then odd = err end
      n = n + 1
      after()
    end
  end
  return n, odd
end

describe("dma.allocations in stock lua5.4", function()
  it("leaves the state's own allocator in place when the module is unloaded at exit", function()
    -- found by the sweep: the counter's allocator lived in dma.so, which
    -- lua_close unloads before the last frees (a crash at exit)
    local cpath = package.cpath:match("^[^;]*")
    local chunk = ("package.cpath = %q .. \";\" .. package.cpath; local d = require \"dma\"; "
                   .. "d.allocations(); print(d.allocations() >= 0)"):format(cpath)
    local p = io.popen(("lua5.4 -e '%s' 2>&1; echo rc=$?"):format(chunk))
    local out = p:read("a")
    p:close()
    assert.matches("true", out)
    assert.matches("rc=0", out)
  end)
end)

describe("the wrong-type sweep", function()
  it("calls every exported function with bad arguments without a crash", function()
    local env, m, o = objects()
    local bad = bad_values(o)
    local function restore()
      if dma.current() ~= m then m:select() end
      pcall(env.KeLowerIrql, 0)
    end
    local calls = 0
    local names = {}
    for k, v in pairs(env) do if type(v) == "function" then names[#names + 1] = k end end
    for k, v in pairs(dma) do
      if type(v) == "function" and not SKIP[k] and not k:match("^_") then names[#names + 1] = "dma." .. k end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local f = name:match("^dma%.") and dma[name:sub(5)] or env[name]
      local n, odd = sweep(f, nil, bad, restore)
      assert(odd == nil, name .. " raised a non-string error")
      calls = calls + n
    end
    assert.is_true(calls > 5000)
    -- the engine is still usable
    local b = m:buffer(4096)
    b:write(0, "still here")
    assert.are.equal("still here", b:read(0, 10))
    m:close()
  end)

  it("calls every method of the main object types with bad arguments without a crash", function()
    local env, m, o = objects()
    local bad = bad_values(o)
    local function restore()
      if dma.current() ~= m then m:select() end
      pcall(env.KeLowerIrql, 0)
    end
    local calls = 0
    for oname, obj in pairs(o) do
      local mt = getmetatable(obj)
      local methods = type(mt) == "table" and rawget(mt, "__methods") or {}
      local names = {}
      for k in pairs(methods) do if not SKIP_METHODS[k] then names[#names + 1] = k end end
      table.sort(names)
      for _, name in ipairs(names) do
        local n, odd = sweep(methods[name], obj, bad, restore)
        assert(odd == nil, oname .. ":" .. name .. " raised a non-string error")
        calls = calls + n
      end
      for _, v in ipairs(bad) do pcall(function() return obj[v] end) end  -- odd keys
    end
    assert.is_true(calls > 1000)
    local b = m:buffer(4096)
    b:write(0, "still here")
    assert.are.equal("still here", b:read(0, 10))
    m:close()
  end)
end)
