-- layers.lua: checks that core/ is layered (README, Layout): a file includes
-- only headers of its own folder and of the folders before it, in the order
-- below, and file-level includes form no cycle except inside the one
-- intended family (adapter, map transfer, S/G lists share dl_adapter_int.h).
-- Run from the top of the tree: lua5.4 tests/layers.lua; exits 1 on a violation.
local ORDER = { "base", "memory", "machine", "kernel", "io", "hal", "devices", "wdf" }
local rank = {}
for i, name in ipairs(ORDER) do rank[name] = i end

local files, includes = {}, {}
local list = assert(io.popen("ls core/*/*.c core/*/*.h"))
for path in list:lines() do files[#files + 1] = path end
list:close()

local bad = 0
local function fail(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
  bad = bad + 1
end

for _, path in ipairs(files) do
  local layer = path:match("^core/([^/]+)/")
  if not rank[layer] then fail("%s: folder '%s' is not a layer", path, layer) end
  includes[path] = {}
  for line in io.lines(path) do
    local inc = line:match('^#include "([^"]+)"')
    if inc then
      local target = inc:match("^([^/]+)/")
      if not target then
        fail('%s: #include "%s" does not name its layer', path, inc)
      elseif (rank[target] or math.huge) > (rank[layer] or 0) then
        fail('%s (%s) includes %s from the later layer %s', path, layer, inc, target)
      else
        table.insert(includes[path], "core/" .. inc)
      end
    end
  end
end

-- A module is a .c/.h pair; a cycle is a module reaching itself.
local function module(path) return (path:gsub("_int%.h$", ""):gsub("%.[ch]$", "")) end
local FAMILY = { ["core/hal/dl_adapter"] = true, ["core/hal/dl_adapter_int"] = true,
                 ["core/hal/dl_maptransfer"] = true, ["core/hal/dl_sglist"] = true,
                 ["core/hal/dl_common"] = true }
local edges = {}
for path, incs in pairs(includes) do
  local from = module(path)
  edges[from] = edges[from] or {}
  for _, inc in ipairs(incs) do
    local to = module(inc)
    if to ~= from and not (FAMILY[from] and FAMILY[to]) then edges[from][to] = true end
  end
end
local state = {}
local function visit(node, stack)
  if state[node] == "done" then return end
  if state[node] == "open" then
    fail("include cycle: %s -> %s", table.concat(stack, " -> "), node)
    return
  end
  state[node] = "open"
  stack[#stack + 1] = node
  for to in pairs(edges[node] or {}) do visit(to, stack) end
  stack[#stack] = nil
  state[node] = "done"
end
local names = {}
for node in pairs(edges) do names[#names + 1] = node end
table.sort(names)
for _, node in ipairs(names) do visit(node, {}) end

print(string.format("layers: %d files, %d violation(s)", #files, bad))
os.exit(bad == 0 and 0 or 1)
