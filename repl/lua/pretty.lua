-- dma.pretty: how the dmalab REPL shows values. Tables are printed nested
-- (bounded in depth and length); a list of records (m:reports(), m.ram,
-- mdl:runs()) as aligned columns; a record of plain values (m:stats()) as
-- aligned "key  value" lines; integers named by an address-like key or
-- expression (va, StartVa, LogicalAddress, pfn, base...) in hex; NTSTATUS
-- values with their names (dma.status_name); WDK functions with their
-- signatures from dma.help.
local dma = require "dma"

local M = {}

local MAX_DEPTH = 3     -- nested tables shown; deeper ones as {…}
local MAX_ITEMS = 20    -- entries shown per table, rows per column table
local MAX_STRING = 80   -- characters of a string shown

-- Is `name` (a field or the expression's last name) an address or a PFN?
local function is_address(name)
  if type(name) ~= "string" then return false end
  local n = name:lower()
  return n == "va" or n == "pa" or n == "logical" or n == "ceiling" or n == "bugcheck"
    or n:match("va$") ~= nil or n:match("address$") ~= nil or n:match("addr$") ~= nil
    or n:match("pfn") ~= nil or n:match("base$") ~= nil or n:match("_pa$") ~= nil
    or n:match("^p%d$") ~= nil
end

-- Is `name` a status field (Status, status, final_status...)?
local function is_status(name)
  return type(name) == "string" and name:lower():match("status$") ~= nil
end

-- An integer shown for the field or expression `name`.
local function integer(v, name)
  local status = dma.status_name(v)
  if status and (is_status(name) or v >= 0x40000000 or v < 0) then
    return ("%s (0x%X)"):format(status, v & 0xFFFFFFFF)
  end
  if is_address(name) and v >= 0 then return ("0x%x"):format(v) end
  if is_address(name) then return ("%d"):format(v) end
  return tostring(v)
end

-- The name and signature of a function dma.help knows, or nil.
local function signature(f)
  local ok, help = pcall(require, "dma.help")
  if not ok then return nil end
  local entry = help.lookup(f)
  return entry and entry.signature .. (entry.returns and (" -> " .. entry.returns) or "")
end

-- A scalar (or a table at the depth limit) as text.
local function scalar(v, name)
  local t = math.type(v)
  if t == "integer" then return integer(v, name) end
  if t == "float" then return ("%.6g"):format(v) end
  if type(v) == "string" then
    if #v > MAX_STRING then
      return (("%q…(%d bytes)"):format(v:sub(1, MAX_STRING), #v):gsub("\\\n", "\\n"))
    end
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  end
  if type(v) == "function" then
    local sig = signature(v)
    return sig and ("function " .. sig) or tostring(v)
  end
  if type(v) == "table" then return "{…}" end
  return tostring(v)
end

-- The keys of t in display order: 1..n, then the rest sorted by name.
local function keys(t)
  local n, list, rest = #t, {}, {}
  for i = 1, n do list[i] = i end
  for k in pairs(t) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then rest[#rest + 1] = k end
  end
  table.sort(rest, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  table.move(rest, 1, #rest, n + 1, list)
  return list, n
end

local function is_plain(v) return type(v) ~= "table" end

-- Is t a non-empty list of records of plain values (a column table)?
local function is_record_list(t)
  local list, n = keys(t)
  if n == 0 or #list ~= n then return false end
  for i = 1, n do
    if type(t[i]) ~= "table" or #t[i] > 0 or next(t[i]) == nil then return false end
    for _, v in pairs(t[i]) do
      if not is_plain(v) then return false end
    end
  end
  return true
end

-- Is t a record (string keys only) of plain values?
local function is_flat_record(t)
  if next(t) == nil or #t > 0 then return false end
  for k, v in pairs(t) do
    if type(k) ~= "string" or not is_plain(v) then return false end
  end
  return true
end

-- Pads s (counted in UTF-8 characters) to width w.
local function pad(s, w) return s .. (" "):rep(w - utf8.len(s)) end

-- A list of records as aligned columns.
local function columns(t)
  local cols, seen = {}, {}
  for i = 1, #t do
    local ks = keys(t[i])
    for _, k in ipairs(ks) do
      if not seen[k] then seen[k] = true; cols[#cols + 1] = k end
    end
  end
  local rows, width = {}, {}
  for c, k in ipairs(cols) do width[c] = utf8.len(tostring(k)) end
  local shown = math.min(#t, MAX_ITEMS)
  for i = 1, shown do
    local row = {}
    for c, k in ipairs(cols) do
      local v = t[i][k]
      row[c] = v == nil and "" or scalar(v, k)
      width[c] = math.max(width[c], utf8.len(row[c]) or #row[c])
    end
    rows[i] = row
  end
  local out = {}
  local head = {}
  for c, k in ipairs(cols) do head[c] = pad(tostring(k), width[c]) end
  out[1] = "  #  " .. table.concat(head, "  ")
  for i, row in ipairs(rows) do
    for c = 1, #cols do row[c] = pad(row[c], width[c]) end
    out[#out + 1] = ("%3d  %s"):format(i, table.concat(row, "  "))
  end
  if #t > shown then out[#out + 1] = ("  … %d more"):format(#t - shown) end
  return (table.concat(out, "\n"):gsub(" +\n", "\n"):gsub(" +$", ""))
end

-- A record of plain values as aligned "key  value" lines.
local function record(t)
  local ks = keys(t)
  local w = 0
  for _, k in ipairs(ks) do w = math.max(w, #k) end
  local out = {}
  for i, k in ipairs(ks) do
    if i > MAX_ITEMS * 3 then
      out[#out + 1] = ("… %d more"):format(#ks - i + 1)
      break
    end
    out[#out + 1] = pad(k, w) .. "  " .. scalar(t[k], k)
  end
  return table.concat(out, "\n")
end

-- A table as a nested constructor, `indent` deep.
local function nested(t, depth, indent, seen)
  if seen[t] then return "{…cycle}" end
  if next(t) == nil then return "{}" end
  if depth > MAX_DEPTH then return "{…}" end
  seen[t] = true
  local ks, n = keys(t)
  local parts = {}
  for i, k in ipairs(ks) do
    if i > MAX_ITEMS then
      parts[#parts + 1] = ("… %d more"):format(#ks - MAX_ITEMS)
      break
    end
    local v = t[k]
    local text
    if type(v) == "table" then
      text = nested(v, depth + 1, indent .. "  ", seen)
    else
      text = scalar(v, type(k) == "string" and k or nil)
    end
    if math.type(k) == "integer" and k >= 1 and k <= n then
      parts[#parts + 1] = text
    elseif type(k) == "string" and k:match("^[%a_][%w_]*$") then
      parts[#parts + 1] = k .. " = " .. text
    else
      parts[#parts + 1] = "[" .. scalar(k) .. "] = " .. text
    end
  end
  seen[t] = nil
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if not one:find("\n") and utf8.len(one) + #indent <= 100 then return one end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

-- The text of one value; `name` is the field or expression it came from.
function M.format(v, name)
  if type(v) ~= "table" or getmetatable(v) and getmetatable(v).__tostring then
    if type(v) == "table" then return tostring(v) end
    return scalar(v, name)
  end
  if is_record_list(v) then return columns(v) end
  if is_flat_record(v) then return record(v) end
  return nested(v, 1, "", {})
end

-- The name an expression's value is known by: its last name, before any
-- call ("b.va" -> va, "MmGetMdlVirtualAddress(mdl)" -> MmGetMdlVirtualAddress).
local function hint_of(expr)
  if type(expr) ~= "string" then return nil end
  expr = expr:gsub("[%s;]+$", "")
  return expr:match("([%a_][%w_]*)%s*%b()$") or expr:match("([%a_][%w_]*)$")
end

-- show(expr, ...): prints the values an expression typed at the prompt gave.
function M.show(expr, ...)
  local hint = hint_of(expr)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local text = M.format((select(i, ...)), hint)
    parts[#parts + 1] = text
  end
  local sep = "\t"
  for _, p in ipairs(parts) do
    if p:find("\n") then sep = "\n" end
  end
  print(table.concat(parts, sep))
end

return M
