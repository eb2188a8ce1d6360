-- tests/readme.lua: runs every `sh` and `lua` block of README.md, from the
-- repository root, and prints "ok - ..." / "not ok - ..." per block. A line
-- `<!-- test: ... -->` right before a block says how:
--   dry-run "CMD"   lines starting with CMD run as `make -n` (make test would recurse)
--   scenario        the lua block is a scenario file, run by `bin/dmalab test`
--   repl-transcript (not sh/lua) typed into the REPL by tests/c/test_repl.c
-- Other lua blocks run as scripts under bin/dmalab (leak check included);
-- sh blocks run under sh with DESTDIR set to a temporary directory (so
-- `make install` installs there) and DMALAB_REQUESTS=50 (scenarios of
-- 1000 requests run shorter).
local f = assert(io.open("README.md"))
local text = f:read("a")
f:close()

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp))

local function run(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local function write(path, s)
  local out = assert(io.open(path, "w"))
  out:write(s)
  out:close()
end

local n, failed = 0, 0
local directive
local lines = {}
for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
local i = 1
while i <= #lines do
  local l = lines[i]
  local d = l:match("^<!%-%- test: (.-) %-%->$")
  if d then directive = d end
  local lang = l:match("^```(%w*)$")
  if lang then
    local first = i
    local body = {}
    i = i + 1
    while i <= #lines and lines[i] ~= "```" do body[#body + 1] = lines[i]; i = i + 1 end
    local code = table.concat(body, "\n") .. "\n"
    local where = ("README.md:%d (%s block)"):format(first, lang ~= "" and lang or "plain")
    local ok, out = true, ""
    if lang == "sh" then
      local dry = directive and directive:match('^dry%-run "(.-)"')
      if dry then
        code = code:gsub("\n" .. dry:gsub("%p", "%%%0"), "\nmake -n " .. dry:match("^make (.*)$"))
        code = code:gsub("^" .. dry:gsub("%p", "%%%0"), "make -n " .. dry:match("^make (.*)$"))
      end
      write(tmp .. "/block.sh", "set -e\n" .. code)
      ok, out = run(("DESTDIR=%s/dest DMALAB_REQUESTS=50 sh %s/block.sh"):format(tmp, tmp))
    elseif lang == "lua" then
      if directive == "scenario (run with bin/dmalab test)" then
        write(tmp .. "/readme_scenario.lua", code)
        ok, out = run("bin/dmalab test " .. tmp .. "/readme_scenario.lua")
      else
        write(tmp .. "/block.lua", code)
        ok, out = run("bin/dmalab " .. tmp .. "/block.lua")
      end
    end
    if lang == "sh" or lang == "lua" then
      n = n + 1
      if ok then
        print("ok - " .. where)
      else
        failed = failed + 1
        io.write(out)
        print("not ok - " .. where)
      end
    end
    directive = nil
  elseif not d and l ~= "" then
    directive = nil
  end
  i = i + 1
end
os.execute("rm -rf " .. tmp)
print(("README.md: %d blocks run, %d failed"):format(n, failed))
os.exit(failed == 0 and 0 or 1)
