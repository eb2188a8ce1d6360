-- luacheck configuration: Lua 5.4, and the WDK-named globals that
-- dma.export() (done by dmalab at startup) puts in _G. Their names are read
-- from the bindings' registration tables and core/base's value tables (NTSTATUS,
-- IRP_MJ_*, IRQLs), so a new WDK call or value needs no edit here.
std = "lua54"
max_line_length = 110

local wdk = { TRUE = true, FALSE = true, PAGE_SIZE = true, PAGE_SHIFT = true }
local list = io.popen("ls bindings/*.c bindings/*/*.c core/base/*.c 2>/dev/null")
for path in list:lines() do
  local f = io.open(path)
  for name in f:read("*a"):gmatch('{"(%u[%w_]*)"') do wdk[name] = true end
  f:close()
end
list:close()
local names = {}
for name in pairs(wdk) do names[#names + 1] = name end

read_globals = names
globals = { "dma" }
files["tests/lua"] = { std = "+busted" }
-- what `dmalab test` gives a scenario (repl/lua/scenario.lua), and help()
local scenario_globals = { "scenario", "describe", "it" }
files["tests/suite"] = { read_globals = scenario_globals }
files["tests/sandbox"] = { read_globals = scenario_globals }
files["**/*_scenario.lua"] = { read_globals = scenario_globals }
files["repl/lua/help.lua"] = { max_line_length = 132 }  -- a table of signatures, one per line
files["repl/lua"] = { globals = { "scenario", "describe", "it", "arg", "io", "os", "debug", "dofile",
                                  "loadfile", "load" } }
