-- Runs inputs of the API fuzzer through its interpreter without libFuzzer:
--   dmalab tests/fuzz/run.lua [-v] FILE...      each file (-v: each step and its error)
--   dmalab tests/fuzz/run.lua --random A B      the random programs of seeds A..B
-- A crash found by `make fuzz` replays here under the plain or the ASan
-- build. A random program is 50 to 600 bytes from math.random seeded with
-- its number; the one running is also written to /tmp/dmalab-fuzz-current,
-- so that a crash leaves its input behind. tests/lua/fuzz_spec.lua runs the
-- seeds, the regressions and the first random programs this way.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local run = assert(loadfile(dir .. "/driver.lua"))()  -- run(data, trace): one input

local function random_program(seed)
  math.randomseed(seed)
  local t = {}
  for i = 1, math.random(50, 600) do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

if arg[1] == "--random" then
  local first, last = assert(tonumber(arg[2])), assert(tonumber(arg[3]))
  for seed = first, last do
    local data = random_program(seed)
    local f = io.open("/tmp/dmalab-fuzz-current", "wb")
    if f then
      f:write(data)
      f:close()
    end
    run(data)
    if seed % 100 == 0 then io.stderr:write("seed ", seed, "\n") end
  end
  io.stderr:write(("random programs %d..%d: done\n"):format(first, last))
  return
end

local verbose = false
for _, a in ipairs(arg) do
  if a == "-v" then
    verbose = true
  else
    local f = assert(io.open(a, "rb"))
    local data = f:read("a")
    f:close()
    local trace = verbose and function(name, ok, err)
      print(("%-40s %s"):format(name, ok and "ok" or tostring(err)))
    end or nil
    run(data, trace)
    print(a .. ": done")
  end
end
