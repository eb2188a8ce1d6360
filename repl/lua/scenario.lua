-- dma.scenario: what `dmalab test` (repl/suite.c) runs inside each
-- scenario's own process and Lua state: the globals a scenario uses
-- (scenario{...}, describe, it), the list of machines it builds (their
-- verifier reports and leaks decide the scenario at the end), and the
-- --sandbox environment for scenario files from others.
local dma = require "dma"

local M = {}

local emit        -- emit(kind, ...): one record to the runner (C)
local setlimits   -- setlimits(instructions, memory, time) (C)
local traceback = debug.traceback
local expected = { leaks = false, reports = false }
local machines = {}   -- every machine built, in creation order
local closed = {}     -- { reports = n, leaks = {...} } of machines closed early
local names = {}      -- the describe blocks we are in
local failed_cases = 0

local DECLARATIONS = { expect_leaks = true, expect_reports = true, max_instructions = true,
                       max_memory = true, max_time = true }

-- Is a count of `n` what the declaration `want` (false/nil, true, or a count) allows?
local function allowed(want, n)
  if want == true then return true end
  if not want then return n == 0 end
  return n == want
end

-- scenario { expect_leaks =, expect_reports =, max_instructions =, max_memory =,
-- max_time = }: what this scenario expects, and its own limits.
local function scenario(t)
  if type(t) ~= "table" then error("scenario: expects a table", 2) end
  for k in pairs(t) do
    if not DECLARATIONS[k] then error("scenario: unknown field '" .. tostring(k) .. "'", 2) end
  end
  if t.expect_leaks ~= nil then expected.leaks = t.expect_leaks end
  if t.expect_reports ~= nil then expected.reports = t.expect_reports end
  setlimits(t.max_instructions, t.max_memory, t.max_time)
end

-- describe(name, fn): a group of cases; an error outside its cases fails it.
local function describe(name, fn)
  names[#names + 1] = tostring(name)
  local ok, err = xpcall(fn, traceback)
  if not ok then
    failed_cases = failed_cases + 1
    emit("case", "0", table.concat(names, " "), tostring(err))
  end
  names[#names] = nil
end

-- it(name, fn): one case; its error fails that case (and so the scenario).
local function it(name, fn)
  local full = #names > 0 and table.concat(names, " ") .. " " .. tostring(name) or tostring(name)
  local ok, err = xpcall(fn, traceback)
  if not ok then failed_cases = failed_cases + 1 end
  emit("case", ok and "1" or "0", full, ok and "" or tostring(err))
end

-- Reports of machine m from index `first` on: the run's and the leaks.
local function split_reports(m, first)
  local all = m:reports()
  local run, leaks = {}, {}
  for i, r in ipairs(all) do
    if i <= first then run[#run + 1] = r else leaks[#leaks + 1] = r end
  end
  return run, leaks
end

-- Called by m:close() after its leak check (reports from `first` on are leaks).
local function on_close(m, first)
  local run, leaks = split_reports(m, first)
  closed[#closed + 1] = { run = run, leaks = leaks }
end

local function describe_report(r)
  return ("bug check 0x%X P1=0x%02X: %s"):format(r.bugcheck, r.p1, r.message)
end

-- Starts a scenario: its globals, the machine list, the sandbox if asked.
function M.start(c_emit, c_setlimits, path, sandbox)
  emit, setlimits = c_emit, c_setlimits
  local make = dma.machine
  dma.machine = function(...)
    local m = make(...)
    machines[#machines + 1] = m
    return m
  end
  debug.getregistry()["dma.on_close"] = on_close
  _G.scenario, _G.describe, _G.it = scenario, describe, it
  _G.arg = { [0] = path }
  if sandbox then M.sandbox(path:match("^(.*)/[^/]*$") or ".") end
end

-- Ends a scenario: its error, then its verifier reports and leaks against
-- what it declared.
function M.finish(ok, err)
  if not ok then emit("fail", tostring(err)) end
  local run, leaks = {}, {}
  for _, c in ipairs(closed) do
    table.move(c.run, 1, #c.run, #run + 1, run)
    table.move(c.leaks, 1, #c.leaks, #leaks + 1, leaks)
  end
  for _, m in ipairs(machines) do
    local open, before = pcall(function() return #m:reports() end)
    if open then
      m:check_leaks()
      local r, l = split_reports(m, before)
      table.move(r, 1, #r, #run + 1, run)
      table.move(l, 1, #l, #leaks + 1, leaks)
    end
  end
  if not allowed(expected.reports, #run) then
    local lines = {}
    for i = 1, math.min(#run, 5) do lines[i] = "  " .. describe_report(run[i]) end
    emit("fail", ("%d verifier report%s (declare scenario{ expect_reports = %d } if intended):\n%s")
      :format(#run, #run == 1 and "" or "s", #run, table.concat(lines, "\n")))
  end
  if not allowed(expected.leaks, #leaks) then
    local lines = {}
    for i = 1, math.min(#leaks, 5) do lines[i] = "  " .. describe_report(leaks[i]) end
    emit("fail", ("%d leak%s at the end (declare scenario{ expect_leaks = %d } if intended):\n%s")
      :format(#leaks, #leaks == 1 and "" or "s", #leaks, table.concat(lines, "\n")))
  end
end

-- The sandbox: no io, no os but its clock and environment readers, no
-- debug, no loading of files or binary chunks; `require` finds only what
-- is loaded, dmalab's own dma.* modules and Lua files of the scenario's
-- directory.
function M.sandbox(dir)
  local rawload, rawloadfile, searchpath = load, loadfile, package.searchpath
  local source_tree = debug.getregistry()["dma.source_root"] and package.searchers[2]  -- modpath.c's
  local dma_path, searchers = package.path, package.searchers
  local keep = {}
  for _, k in ipairs { "clock", "time", "date", "difftime", "getenv" } do keep[k] = os[k] end
  _G.io, _G.debug, _G.dofile, _G.loadfile = nil, nil, nil, nil
  _G.os = keep
  package.loaded.io, package.loaded.debug, package.loaded.os = nil, nil, keep
  _G.load = function(chunk, name, _, env)
    return rawload(chunk, name, "t", env or _G)
  end
  local function load_lua(file)
    local chunk, err = rawloadfile(file, "t")
    if not chunk then error(err, 0) end
    return chunk, file
  end
  package.searchers = {
    searchers[1],                       -- package.preload
    function(name)                      -- dmalab's own modules
      if not name:match("^dma%.") then return nil end
      local file = searchpath(name, dma_path)
      if file then return load_lua(file) end
      if source_tree then return source_tree(name) end
      return "\n\tno dmalab module " .. name
    end,
    function(name)                      -- the scenario's directory
      local file = searchpath(name, dir .. "/?.lua")
      if file then return load_lua(file) end
      return "\n\tnot in the scenario's directory (--sandbox)"
    end,
  }
  package.loadlib, package.searchpath = nil, nil  -- luacheck: ignore 122
  package.path, package.cpath = "", ""
end

return M
