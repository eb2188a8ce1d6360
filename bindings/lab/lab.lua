-- lab.lua (`dma.lab`, compiled into the module): what-if experiments.
--   dma.sweep{ params =, run =, seeds =, design = "grid" | "list" | "random", ... }
--   `dmalab sweep FILE.lua [--jobs N] [--out F] [--resume] [--shard I/N]`
--   `dmalab sweep --merge a.jsonl b.sqlite ... --out all.sqlite`
--   `dmalab plot results.sqlite --x X --y Y [--by B] [-o plot.svg]`
--   m:plot{ file = "run.svg" }: the gauges of one run over time.
-- Results are rows: key, point, replicate, seed, status, error, trace_hash,
-- dmalab_version, the parameters, then the metrics the run function returns.
-- A point's seed comes from its parameters and replicate only, so the rows
-- are the same whatever the job count or sharding.
local dma = require "dma"

local lab = {}
local cli            -- the options of `dmalab sweep`, while its file runs
local cli_called     -- did the file call dma.sweep?

local META = { "key", "point", "replicate", "seed", "status", "error", "trace_hash", "dmalab_version" }
local RESERVED = {}
for _, k in ipairs(META) do RESERVED[k] = true end

-- ---- values, keys, seeds -------------------------------------------------------

local function fmt(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return string.format("%.17g", v) end
  return tostring(v)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- FNV-1a, 64 bits (Lua integers wrap).
local function fnv(s)
  local h = -3750763034362895579  -- 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 0x100000001b3
  end
  return h
end

-- "name=value,..." in name order: a point's identity.
local function canonical(params)
  local parts = {}
  for _, k in ipairs(sorted_keys(params)) do parts[#parts + 1] = k .. "=" .. fmt(params[k]) end
  return table.concat(parts, ",")
end

-- The seed of a point's replicate: from its parameters only (47 bits).
function lab.seed_of(params, replicate)
  return fnv(canonical(params) .. "#" .. replicate) & 0x7FFFFFFFFFFF
end

-- A small deterministic generator for random designs (xorshift64*).
local function generator(seed)
  local x = fnv("random#" .. fmt(seed)) | 1
  return function()
    x = x ~ (x >> 12)
    x = x ~ (x << 25)
    x = x ~ (x >> 27)
    return ((x * 2685821657736338717) >> 11) / 9007199254740992.0  -- [0, 1)
  end
end

-- ---- designs -----------------------------------------------------------------------

local function grid(params, order)
  local names = order or sorted_keys(params)
  local points = { {} }
  for _, name in ipairs(names) do
    local values = params[name]
    assert(type(values) == "table" and #values > 0, "params." .. name .. " must be a list of values")
    local next_points = {}
    for _, p in ipairs(points) do
      for _, v in ipairs(values) do
        local q = {}
        for k, x in pairs(p) do q[k] = x end
        q[name] = v
        next_points[#next_points + 1] = q
      end
    end
    points = next_points
  end
  return points
end

-- params.name = {lo, hi} (integers: uniform integer; else uniform real) or
-- { values = {...} } (one of them).
local function random_design(params, samples, seed)
  local rand = generator(seed)
  local names = sorted_keys(params)
  local points = {}
  for _ = 1, samples do
    local p = {}
    for _, name in ipairs(names) do
      local spec = params[name]
      if spec.values then
        p[name] = spec.values[math.floor(rand() * #spec.values) + 1]
      else
        local lo, hi = spec[1], spec[2]
        if math.type(lo) == "integer" and math.type(hi) == "integer" then
          p[name] = lo + math.floor(rand() * (hi - lo + 1))
        else
          p[name] = lo + rand() * (hi - lo)
        end
      end
    end
    points[#points + 1] = p
  end
  return points
end

-- Every point of a sweep, replicates expanded, in order.
function lab.points(spec)
  local design = spec.design or (spec.points and "list") or "grid"
  local base
  if design == "grid" then
    base = grid(spec.params or {}, spec.order)
  elseif design == "list" then
    base = assert(spec.points, "a list design needs points = { {...}, ... }")
  elseif design == "random" then
    base = random_design(spec.params or {}, assert(spec.samples, "a random design needs samples = n"),
                         spec.seed or 1)
  else
    error("design must be grid, list or random, not " .. tostring(design), 3)
  end
  local out, seeds = {}, spec.seeds or 1
  for _, params in ipairs(base) do
    for name in pairs(params) do
      if RESERVED[name] then error("'" .. name .. "' is a column of every row: rename that parameter", 3) end
    end
    for r = 1, seeds do
      out[#out + 1] = { params = params, replicate = r, seed = lab.seed_of(params, r),
                        key = canonical(params) .. "#" .. r, point = #out + 1 }
    end
  end
  return out
end

-- ---- running a point ------------------------------------------------------------

local function scalar(v)
  local t = type(v)
  if t == "boolean" then return v and 1 or 0 end
  if t == "number" or t == "string" then return v end
  return nil
end

-- Runs one point in a fresh state of its own (the run function builds its
-- machine); returns its row.
local function run_point(spec, pt)
  local row = { key = pt.key, point = pt.point, replicate = pt.replicate, seed = pt.seed,
                dmalab_version = dma.version }
  local p = { seed = pt.seed, replicate = pt.replicate }
  for k, v in pairs(pt.params) do
    row[k] = scalar(v)
    p[k] = v
  end
  local ok, metrics, m = pcall(spec.run, p)
  if ok and type(metrics) ~= "table" then ok, metrics = false, "run must return a table of metrics" end
  if ok then
    for k, v in pairs(metrics) do
      local x = scalar(v)
      if x ~= nil and type(k) == "string" then
        if RESERVED[k] and k ~= "trace_hash" or pt.params[k] ~= nil then
          ok, metrics = false, "metric '" .. k .. "' has the name of a parameter or column"
          break
        end
        row[k] = x
      end
    end
  end
  if ok then
    row.status = "ok"
    if not row.trace_hash and type(m) == "userdata" and m.trace_hash then
      row.trace_hash = (m:trace_hash())
    end
  else
    for k in pairs(row) do
      if not RESERVED[k] and pt.params[k] == nil then row[k] = nil end
    end
    row.status = "error"
    row.error = tostring(metrics)
  end
  if type(m) == "userdata" and m.close then pcall(m.close, m) end
  collectgarbage()
  return row
end

-- Rows cross the worker pipe as Lua source: %q keeps integers, floats
-- (hexadecimal) and strings exact.
local function serialize(row)
  local parts = {}
  for _, k in ipairs(sorted_keys(row)) do
    parts[#parts + 1] = string.format("[%q]=%q", k, row[k])
  end
  return "return {" .. table.concat(parts, ",") .. "}"
end

local function deserialize(s)
  return assert(load(s, "=row", "t", {}))()
end

-- ---- stores ---------------------------------------------------------------------

-- Columns in a stable order: the meta columns, then the rest by name.
local function columns_of(rows)
  local seen, cols = {}, {}
  for _, k in ipairs(META) do seen[k] = true; cols[#cols + 1] = k end
  local rest = {}
  for _, row in ipairs(rows) do
    for k in pairs(row) do
      if not seen[k] then seen[k] = true; rest[#rest + 1] = k end
    end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do cols[#cols + 1] = k end
  return cols
end

local function sort_rows(rows)
  table.sort(rows, function(a, b)
    if a.point ~= b.point then return (a.point or 0) < (b.point or 0) end
    return a.key < b.key
  end)
  return rows
end

local function format_of(path)
  if path:match("%.jsonl$") or path:match("%.ndjson$") then return "jsonl" end
  if path:match("%.csv$") then return "csv" end
  return "sqlite"
end

local function quote_ident(name) return '"' .. name:gsub('"', '""') .. '"' end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- JSON values through lua-cjson (strings), numbers exactly (%.17g).
local cjson_ok, cjson = pcall(require, "cjson")
local function need_cjson()
  if not cjson_ok then error("JSON needs lua-cjson: apt-get install lua-cjson", 3) end
end

local function json_value(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    local s = string.format("%.17g", v)
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  end
  return cjson.encode(tostring(v))
end

local function json_row(row, cols)
  local parts = {}
  for _, k in ipairs(cols) do
    if row[k] ~= nil then parts[#parts + 1] = cjson.encode(k) .. ":" .. json_value(row[k]) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- cjson reads every number as a float: integral ones become integers again.
local function normalize(row)
  for k, v in pairs(row) do
    if type(v) == "number" and math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
      row[k] = math.tointeger(v)
    elseif v == cjson.null then
      row[k] = nil
    end
  end
  return row
end

local function csv_field(v)
  if v == nil then return "" end
  local s = type(v) == "number" and fmt(v) or tostring(v)
  if s:find('[,"\n\r]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local function csv_parse_line(line)
  local fields, i = {}, 1
  while i <= #line + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while true do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2 else j = j + 1; break end
        elseif c == "" then break
        else buf[#buf + 1] = c; j = j + 1 end
      end
      fields[#fields + 1] = table.concat(buf)
      i = j + 1
    else
      local j = line:find(",", i, true) or #line + 1
      fields[#fields + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return fields
end

local function csv_value(s)
  if s == "" then return nil end
  return math.tointeger(tonumber(s)) or tonumber(s) or s
end

-- Reads every row of a results file (any format), sorted by point.
function lab.read(path)
  local format = format_of(path)
  local rows = {}
  if format == "sqlite" then
    if not file_exists(path) then error("no such file: " .. path, 2) end
    local db = dma._sqlite(path)
    local ok, r = pcall(db.exec, db, "SELECT * FROM points")
    db:close()
    rows = ok and r or {}
  elseif format == "jsonl" then
    need_cjson()
    local f = assert(io.open(path, "r"))
    local by_key = {}
    for line in f:lines() do
      if line:match("%S") then
        local row = normalize(cjson.decode(line))
        if not by_key[row.key] then rows[#rows + 1] = row end
        by_key[row.key] = row
      end
    end
    f:close()
    for i, row in ipairs(rows) do rows[i] = by_key[row.key] end  -- the last line of a key wins
  else
    local f = assert(io.open(path, "r"))
    local header
    for line in f:lines() do
      if not header then
        header = csv_parse_line(line)
      elseif line ~= "" then
        local row = {}
        for i, v in ipairs(csv_parse_line(line)) do row[header[i]] = csv_value(v) end
        rows[#rows + 1] = row
      end
    end
    f:close()
  end
  return sort_rows(rows)
end

-- Opens a store to add rows to; resume keeps what it has.
local function open_store(path, resume)
  local format = format_of(path)
  local store = { path = path, format = format, existing = {} }
  if resume and file_exists(path) then
    for _, row in ipairs(lab.read(path)) do store.existing[row.key] = row end
  end
  if format == "sqlite" then
    if not resume then os.remove(path) end
    local db = dma._sqlite(path)
    db:exec("PRAGMA synchronous = NORMAL")
    db:exec("CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, point INTEGER, replicate INTEGER, "
            .. "seed INTEGER, status TEXT, error TEXT, trace_hash TEXT, dmalab_version TEXT)")
    local cols = {}
    for _, c in ipairs(db:exec("PRAGMA table_info(points)")) do cols[c.name] = true end
    function store.add(row)
      local names, marks, values = {}, {}, {}
      for _, k in ipairs(sorted_keys(row)) do
        if not cols[k] then
          db:exec("ALTER TABLE points ADD COLUMN " .. quote_ident(k))
          cols[k] = true
        end
        names[#names + 1] = quote_ident(k)
        marks[#marks + 1] = "?"
        values[#values + 1] = row[k]
      end
      db:exec("INSERT OR REPLACE INTO points (" .. table.concat(names, ",") .. ") VALUES ("
              .. table.concat(marks, ",") .. ")", values)
    end
    function store.close() db:close() end
  elseif format == "jsonl" then
    need_cjson()
    local f = assert(io.open(path, resume and "a" or "w"))
    function store.add(row)
      f:write(json_row(row, columns_of({ row })), "\n")
      f:flush()
    end
    function store.close() f:close() end
  else
    local rows = {}
    for _, row in pairs(store.existing) do rows[#rows + 1] = row end
    local by_key = {}
    for i, row in ipairs(rows) do by_key[row.key] = i end
    function store.add(row)
      if by_key[row.key] then rows[by_key[row.key]] = row
      else rows[#rows + 1] = row; by_key[row.key] = #rows end
    end
    function store.close()
      sort_rows(rows)
      local cols = columns_of(rows)
      local f = assert(io.open(path, "w"))
      local head = {}
      for i, c in ipairs(cols) do head[i] = csv_field(c) end
      f:write(table.concat(head, ","), "\n")
      for _, row in ipairs(rows) do
        local line = {}
        for i, c in ipairs(cols) do line[i] = csv_field(row[c]) end
        f:write(table.concat(line, ","), "\n")
      end
      f:close()
    end
  end
  return store
end

-- ---- progress ---------------------------------------------------------------------

local function clock_text(s)
  s = math.floor(s + 0.5)
  return string.format("%d:%02d", s // 60, s % 60)
end

local function progress(total, quiet)
  local tty = not quiet and dma._isatty(1)
  local start, done, failed = dma._monotonic(), 0, 0
  local p = {}
  function p.step(row)
    done = done + 1
    if row.status ~= "ok" then failed = failed + 1 end
    if not tty then return end
    local width = 30
    local fill = total > 0 and math.floor(width * done / total) or width
    local elapsed = dma._monotonic() - start
    local eta = done > 0 and elapsed / done * (total - done) or 0
    io.stdout:write(string.format("\r[%s%s] %d/%d %3d%%  ETA %s%s ", string.rep("#", fill),
      string.rep(".", width - fill), done, total, total > 0 and done * 100 // total or 100,
      clock_text(eta), failed > 0 and ("  " .. failed .. " failed") or ""))
    io.stdout:flush()
  end
  function p.finish()
    if tty then io.stdout:write("\n") end
    return done, failed
  end
  return p
end

-- ---- the sweep --------------------------------------------------------------------

local function parse_shard(s)
  local i, n = tostring(s):match("^(%d+)/(%d+)$")
  i, n = tonumber(i), tonumber(n)
  if not i or n < 1 or i < 1 or i > n then
    error("shard must be I/N with 1 <= I <= N, not " .. tostring(s), 3)
  end
  return i, n
end

-- The shard from SLURM_ARRAY_TASK_ID/COUNT (ids counted from SLURM_ARRAY_TASK_MIN).
local function slurm_shard()
  local id = tonumber(os.getenv("SLURM_ARRAY_TASK_ID") or "")
  local count = tonumber(os.getenv("SLURM_ARRAY_TASK_COUNT") or "")
  if not id or not count then return nil end
  local min = tonumber(os.getenv("SLURM_ARRAY_TASK_MIN") or "") or 0
  return string.format("%d/%d", id - min + 1, count)
end

local function default_jobs()
  return tonumber(os.getenv("DMALAB_JOBS") or "") or dma._cpus()
end

-- dma.sweep{ params =, run = function(p) ... return metrics [, machine] end,
-- seeds =, design =, points =, samples =, seed =, order =, jobs =, out =,
-- resume =, shard = "I/N", quiet = } -> rows (sorted by point), status
-- ("done" or "interrupted"), the results file (nil without one).
function lab.sweep(spec)
  assert(type(spec) == "table" and type(spec.run) == "function", "dma.sweep needs run = function(p) ... end")
  local opts = {}
  for _, k in ipairs { "jobs", "out", "resume", "shard", "quiet" } do opts[k] = spec[k] end
  if cli then
    cli_called = true
    for k, v in pairs(cli) do opts[k] = v end
  end
  opts.shard = opts.shard or slurm_shard()
  local points = lab.points(spec)
  if opts.shard then
    local i, n = parse_shard(opts.shard)
    local mine = {}
    for _, pt in ipairs(points) do
      if (pt.point - 1) % n == i - 1 then mine[#mine + 1] = pt end
    end
    points = mine
  end
  local store = opts.out and open_store(opts.out, opts.resume)
  local todo = {}
  for _, pt in ipairs(points) do
    local old = store and store.existing[pt.key]
    if not (old and old.status == "ok") then todo[#todo + 1] = pt end
  end
  local rows, bar = {}, progress(#todo, opts.quiet)
  local status = dma._pool(math.max(1, math.tointeger(opts.jobs or default_jobs()) or 1), #todo,
    function(i) return serialize(run_point(spec, todo[i])) end,
    function(_, text)
      local row = deserialize(text)
      rows[#rows + 1] = row
      if store then store.add(row) end
      bar.step(row)
    end)
  local done, failed = bar.finish()
  if store then
    for _, pt in ipairs(points) do
      local old = store.existing[pt.key]
      if old and old.status == "ok" then rows[#rows + 1] = old end
    end
    store.close()
  end
  sort_rows(rows)
  lab.last_status = status
  if not opts.quiet and cli then
    print(string.format("%d point%s run (%d failed), %d kept from before%s%s", done, done == 1 and "" or "s",
      failed, #rows - done, store and (": " .. store.path) or "",
      status == "interrupted" and "; interrupted: run again with --resume to finish" or ""))
  end
  return rows, status, opts.out
end

-- Merges results files into one (rows by key; the later file wins).
function lab.merge(inputs, out)
  local by_key, rows = {}, {}
  for _, path in ipairs(inputs) do
    for _, row in ipairs(lab.read(path)) do
      if by_key[row.key] then rows[by_key[row.key]] = row
      else rows[#rows + 1] = row; by_key[row.key] = #rows end
    end
  end
  sort_rows(rows)
  local store = open_store(out, false)
  for _, row in ipairs(rows) do store.add(row) end
  store.close()
  return rows
end

-- ---- plots ------------------------------------------------------------------------

-- A column's unit, and what to divide its values by for that unit.
local UNITS = {
  size = { "bytes" }, map_registers = { "registers" }, adapter_map_registers = { "registers" },
  requests = { "requests" }, throughput = { "MB/s", 1e6 }, requests_per_s = { "requests/s" },
  time = { "us", 1000 }, bytes_in_flight_max = { "bytes" }, bytes_in_flight_mean = { "bytes" },
  dpc_queue_max = { "DPCs" }, dpc_queue_mean = { "DPCs" }, transfers = { "transfers" },
}
function lab.unit(name)
  local u = UNITS[name]
  if u then return u[1], u[2] or 1 end
  if name:match("latency") or name:match("queue$") or name:match("channel_wait") or name:match("transfer$")
     or name:match("completion$") or name:match("_ns$") then return "us", 1000 end
  if name:match("bytes") or name:match("bounced") then return "bytes", 1 end
  if name:match("map_registers") then return "registers", 1 end
  if name:match("_per_request$") then return "per request", 1 end
  return "count", 1
end

local function label(name)
  local unit = lab.unit(name)
  return string.format("%s (%s)", name:gsub("_", " "), unit == "us" and "µs" or unit)
end

local function gnuplot(script)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local pipe = io.popen("gnuplot " .. path .. " 2>&1", "r")
  local output = pipe:read("a")
  local ok = pipe:close()
  os.remove(path)
  if not ok then
    if output:match("not found") then error("plots need gnuplot: apt-get install gnuplot-nox", 3) end
    error("gnuplot failed: " .. output, 3)
  end
end

local function gp_string(s) return '"' .. tostring(s):gsub('\\', '\\\\'):gsub('"', '\\"') .. '"' end

-- plot{ file =, x =, y =, by =, out =, logx =, logy =, title =, where = fn(row) }:
-- y against x, one line per value of `by`, replicates averaged; an SVG.
function lab.plot_results(o)
  local rows = lab.read(o.file)
  local xdiv, ydiv = select(2, lab.unit(o.x)), select(2, lab.unit(o.y))
  local groups, order = {}, {}
  for _, row in ipairs(rows) do
    local x, y = tonumber(row[o.x]), tonumber(row[o.y])
    if row.status == "ok" and x and y and (not o.where or o.where(row)) then
      local g = o.by and (o.by .. "=" .. tostring(row[o.by])) or o.y
      if not groups[g] then groups[g] = { sum = {}, n = {} }; order[#order + 1] = g end
      local grp = groups[g]
      grp.sum[x] = (grp.sum[x] or 0) + y
      grp.n[x] = (grp.n[x] or 0) + 1
    end
  end
  if #order == 0 then error("no rows with " .. o.x .. " and " .. o.y .. " in " .. o.file, 2) end
  table.sort(order, function(a, b)
    local na, nb = tonumber(a:match("=(.*)$") or ""), tonumber(b:match("=(.*)$") or "")
    if na and nb then return na < nb end
    return a < b
  end)
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  local plots = {}
  for i, g in ipairs(order) do
    local grp, xs = groups[g], {}
    for x in pairs(grp.sum) do xs[#xs + 1] = x end
    table.sort(xs)
    for _, x in ipairs(xs) do
      f:write(string.format("%.17g %.17g\n", x / xdiv, grp.sum[x] / grp.n[x] / ydiv))
    end
    f:write("\n\n")
    plots[#plots + 1] = string.format("%s index %d with linespoints title %s", gp_string(data), i - 1,
                                      gp_string(g))
  end
  f:close()
  local out = o.out or "plot.svg"
  local script = table.concat({
    "set encoding utf8",
    "set terminal svg size 800,500 dynamic noenhanced font 'sans,12'",
    "set output " .. gp_string(out),
    "set title " .. gp_string(o.title or (o.y .. " against " .. o.x)),
    "set xlabel " .. gp_string(label(o.x)),
    "set ylabel " .. gp_string(label(o.y)),
    "set grid", "set key outside right",
    o.logx and "set logscale x 2" or "", o.logy and "set logscale y" or "",
    "plot " .. table.concat(plots, ", "), "" }, "\n")
  local ok, err = pcall(gnuplot, script)
  os.remove(data)
  if not ok then error(err, 2) end
  return out
end

-- m:plot{ file = "run.svg", series = {...}, title = } -> file: the machine's
-- gauges over time (mean per bin as steps), one panel each.
function lab.plot_run(m, o)
  o = o or {}
  local s = m:stats_series()
  local names = o.series or { "map_registers", "dpc_queue", "bytes_in_flight", "requests_in_flight" }
  local units = { map_registers = "registers", dpc_queue = "DPCs", bytes_in_flight = "bytes",
                  requests_in_flight = "requests" }
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  for i = 1, #s.t do
    local line = { string.format("%.3f", s.t[i] / 1000) }
    for _, n in ipairs(names) do
      line[#line + 1] = string.format("%.17g", assert(s[n], "no series " .. n)[i])
    end
    f:write(table.concat(line, " "), "\n")
  end
  f:close()
  local out = o.file or "run.svg"
  local lines = { "set encoding utf8",
    string.format("set terminal svg size 900,%d dynamic noenhanced font 'sans,11'", 180 * #names + 60),
    "set output " .. gp_string(out), "set grid",
    string.format("set multiplot layout %d,1 title %s", #names,
                  gp_string(o.title or string.format("one run, bins of %g µs", s.width / 1000))) }
  for i, n in ipairs(names) do
    lines[#lines + 1] = "set ylabel " .. gp_string(n:gsub("_", " ") .. " (" .. units[n] .. ")")
    lines[#lines + 1] = i == #names and "set xlabel \"simulated time (µs)\"" or "unset xlabel"
    lines[#lines + 1] = string.format("plot %s using 1:%d with steps notitle", gp_string(data), i + 1)
  end
  lines[#lines + 1] = "unset multiplot"
  local ok, err = pcall(gnuplot, table.concat(lines, "\n") .. "\n")
  os.remove(data)
  if not ok then error(err, 2) end
  return out
end

-- ---- the commands -------------------------------------------------------------------

local SWEEP_USAGE = [[
usage: dmalab sweep FILE.lua [--jobs N] [--out results.sqlite|.csv|.jsonl] [--resume] [--shard I/N] [--quiet]
       dmalab sweep --merge a.jsonl b.sqlite ... --out all.sqlite
FILE.lua calls dma.sweep{ params = {...}, run = function(p) ... return metrics end, seeds = n }.
--jobs      worker processes (default: the number of CPUs, or $DMALAB_JOBS)
--out       results file (default FILE.sqlite; .csv and .jsonl by name)
--resume    keep the points already in --out that succeeded; run the rest
--shard I/N run every N-th point from the I-th (default from SLURM_ARRAY_TASK_ID/COUNT)
--merge     merge results files into --out]]

local PLOT_USAGE = [[
usage: dmalab plot RESULTS --x COLUMN --y COLUMN [--by COLUMN] [--logx] [--logy] [--title T] [-o plot.svg]
RESULTS is a .sqlite, .csv or .jsonl file written by dmalab sweep; replicates are averaged.]]

local function parse(args, flags, usage)
  local o, rest = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name = a:match("^%-%-?(.+)$")
    if name and flags[name] ~= nil then
      if flags[name] then
        i = i + 1
        if not args[i] then error(a .. " needs a value\n" .. usage, 0) end
        o[flags[name] == true and name or flags[name]] = args[i]
      else
        o[name] = true
      end
    elseif name == "h" or name == "help" then
      print(usage)
      os.exit(0)
    elseif name and #a > 1 then
      error("unknown option " .. a .. "\n" .. usage, 0)
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return o, rest
end

local function sweep_main(args)
  local o, rest = parse(args, { jobs = true, out = true, resume = false, shard = true, merge = false,
                                quiet = false }, SWEEP_USAGE)
  if o.merge then
    if not o.out or #rest == 0 then
      error("--merge needs the files to merge and --out\n" .. SWEEP_USAGE, 0)
    end
    local rows = lab.merge(rest, o.out)
    print(string.format("%d rows from %d files into %s", #rows, #rest, o.out))
    return 0
  end
  local file = rest[1]
  if not file then error(SWEEP_USAGE, 0) end
  local jobs = o.jobs and math.tointeger(tonumber(o.jobs))
  if o.jobs and (not jobs or jobs < 1) then error("--jobs must be a positive integer", 0) end
  local shard = o.shard or slurm_shard()
  if shard then parse_shard(shard) end
  local out = o.out
  if not out then
    local stem = file:match("([^/]-)%.lua$") or file:match("([^/]+)$")
    out = shard and string.format("%s.shard%s.sqlite", stem, shard:gsub("/", "of")) or stem .. ".sqlite"
  end
  cli = { jobs = jobs, out = out, resume = o.resume, shard = shard, quiet = o.quiet }
  cli_called = false
  local chunk = assert(loadfile(file))
  _G.arg = { [0] = file, table.unpack(rest, 2) }
  chunk(table.unpack(rest, 2))
  cli = nil
  if not cli_called then error(file .. " did not call dma.sweep", 0) end
  return lab.last_status == "interrupted" and 130 or 0
end

local function plot_main(args)
  local o, rest = parse(args, { x = true, y = true, by = true, o = "out", out = true, title = true,
                                logx = false, logy = false }, PLOT_USAGE)
  if not rest[1] or not o.x or not o.y then error(PLOT_USAGE, 0) end
  local out = lab.plot_results { file = rest[1], x = o.x, y = o.y, by = o.by, out = o.out or "plot.svg",
                                 title = o.title, logx = o.logx, logy = o.logy }
  print(out)
  return 0
end

-- `dmalab sweep ...` and `dmalab plot ...`: returns the exit status.
function lab.main(command, ...)
  local args = { ... }
  if command == "sweep" then return sweep_main(args) end
  if command == "plot" then return plot_main(args) end
  error("unknown command " .. tostring(command), 0)
end

return lab
