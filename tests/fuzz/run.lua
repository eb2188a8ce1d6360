-- Runs inputs of the API fuzzer through its interpreter without libFuzzer:
-- `dmalab tests/fuzz/run.lua [-v] FILE...` (-v: each top-level step, and its
-- error). A crash found by `make fuzz` replays here under the plain or the
-- ASan build; tests/lua/fuzz_corpus_spec.lua runs the seeds this way.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local driver = assert(loadfile(dir .. "/driver.lua"))
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
    driver(data, trace)
    print(a .. ": done")
  end
end
