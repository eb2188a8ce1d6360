-- sweep_spec.lua: dma.sweep and `dmalab sweep`: grid, list and random
-- designs; seeds from the parameters; identical rows for --jobs 1, --jobs 2
-- and 4 shards run by GNU parallel and merged; resume; a failing point;
-- SQLite, CSV and JSONL stores; the plot command.
local dma = require "dma"
local lab = require "dma.lab"

local DMALAB = os.getenv("DMALAB") or "bin/dmalab"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))

local FIXTURE = dir .. "/points.lua"
local f = assert(io.open(FIXTURE, "w"))
f:write([[
-- a sweep whose points build a machine, run some events and fail at a = 3, b = "y"
local log = os.getenv("SWEEP_LOG")
dma.sweep {
  params = { a = { 1, 2, 3, 4 }, b = { "x", "y" } },
  seeds = 2,
  run = function(p)
    if log then
      local f = io.open(log, "a"); f:write(p.a, p.b, p.replicate, "\n"); f:close()
    end
    if p.a == 3 and p.b == "y" and os.getenv("SWEEP_FIXED") == nil then error("point failed on purpose") end
    local m = dma.machine { seed = p.seed, current = false }
    for i = 1, p.a * 3 do m:after(i * 100 + p.seed % 97, function() m:trace_event(i, p.seed, 0) end) end
    m:run()
    local s = m:run_stats()
    return { events = s.events, ratio = p.a / 3, time = s.time }, m
  end,
}
]])
f:close()

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local function rows_of(path)
  local out = {}
  for _, r in ipairs(lab.read(path)) do out[#out + 1] = r end
  return out
end

describe("dma.sweep designs", function()
  it("grid: every combination in name order, seeds from the parameters", function()
    local pts = lab.points { params = { b = { 1, 2 }, a = { "p", "q" } }, seeds = 2 }
    assert.are.equal(8, #pts)
    assert.are.equal("a=p,b=1#1", pts[1].key)
    assert.are.equal("a=p,b=1#2", pts[2].key)
    assert.are.equal("a=q,b=2#2", pts[8].key)
    assert.are.equal(lab.seed_of({ a = "p", b = 1 }, 1), pts[1].seed)
    assert.are_not.equal(pts[1].seed, pts[2].seed)
  end)

  it("list and random designs; random points come from the sweep's seed", function()
    local pts = lab.points { points = { { x = 1 }, { x = 5 } } }
    assert.are.same({ 1, 5 }, { pts[1].params.x, pts[2].params.x })
    local r1 = lab.points { design = "random", samples = 20, seed = 3,
                            params = { n = { 1, 64 }, f = { 0.0, 1.0 }, k = { values = { "a", "b" } } } }
    local r2 = lab.points { design = "random", samples = 20, seed = 3,
                            params = { n = { 1, 64 }, f = { 0.0, 1.0 }, k = { values = { "a", "b" } } } }
    assert.are.equal(20, #r1)
    for i = 1, 20 do
      assert.are.equal(r1[i].key, r2[i].key)
      assert.is_true(math.type(r1[i].params.n) == "integer" and r1[i].params.n >= 1 and r1[i].params.n <= 64)
      assert.is_true(r1[i].params.f >= 0 and r1[i].params.f < 1)
    end
  end)

  it("runs in-process and records a failing point with its error", function()
    local rows = dma.sweep { params = { a = { 1, 2 } }, jobs = 1, quiet = true, run = function(p)
      if p.a == 2 then error("no") end
      return { twice = p.a * 2 }
    end }
    assert.are.equal(2, #rows)
    assert.are.equal("ok", rows[1].status)
    assert.are.equal(2, rows[1].twice)
    assert.are.equal("error", rows[2].status)
    assert.truthy(rows[2].error:find("no"))
    assert.is_nil(rows[2].twice)
  end)
end)

describe("dmalab sweep", function()
  local single
  it("--jobs 1 writes one row a point to SQLite, the failing one with its error", function()
    local code, out = sh(("%s sweep %s --jobs 1 --out %s/j1.sqlite"):format(DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    single = rows_of(dir .. "/j1.sqlite")
    assert.are.equal(16, #single)
    local failed = 0
    for _, r in ipairs(single) do
      if r.status == "error" then
        failed = failed + 1
        assert.truthy(r.error:find("point failed on purpose"))
      else
        assert.truthy(r.trace_hash:match("^0x%x+$"))
        assert.are.equal(dma.version, r.dmalab_version)
        assert.are.equal(r.a * 3, r.events)
      end
    end
    assert.are.equal(2, failed)
  end)

  it("--jobs 2 gives the same rows", function()
    local code, out = sh(("%s sweep %s --jobs 2 --out %s/j2.sqlite"):format(DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    assert.are.same(single, rows_of(dir .. "/j2.sqlite"))
  end)

  it("4 shards under GNU parallel, merged, give the same rows", function()
    if sh("command -v parallel") ~= 0 then pending("GNU parallel is not installed") return end
    local code, out = sh(("parallel --will-cite -j4 %s sweep %s --quiet --shard {}/4 --out %s/part{}.jsonl "
                          .. "::: 1 2 3 4"):format(DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    code, out = sh(("%s sweep --merge %s/part1.jsonl %s/part2.jsonl %s/part3.jsonl %s/part4.jsonl "
                    .. "--out %s/all.sqlite"):format(DMALAB, dir, dir, dir, dir, dir))
    assert.are.equal(0, code, out)
    assert.are.same(single, rows_of(dir .. "/all.sqlite"))
    assert.are.equal(4, #rows_of(dir .. "/part1.jsonl"))
  end)

  it("SLURM_ARRAY_TASK_ID/COUNT pick the shard", function()
    local code, out = sh(("SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 "
                          .. "%s sweep %s --quiet --out %s/slurm.csv")
                         :format(DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    local rows = rows_of(dir .. "/slurm.csv")
    assert.are.equal(4, #rows)
    for _, r in ipairs(rows) do assert.are.equal(1, (r.point - 1) % 4) end
  end)

  it("--resume runs only the points not yet done (and the failed ones again)", function()
    local log = dir .. "/runs.log"
    local code, out = sh(("SWEEP_LOG=%s %s sweep %s --jobs 2 --shard 1/2 --out %s/resume.jsonl")
                         :format(log, DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    os.remove(log)
    code, out = sh(("SWEEP_FIXED=1 SWEEP_LOG=%s %s sweep %s --jobs 2 --resume --out %s/resume.jsonl")
                   :format(log, DMALAB, FIXTURE, dir))
    assert.are.equal(0, code, out)
    local n = 0
    for _ in io.lines(log) do n = n + 1 end
    assert.are.equal(9, n)  -- the 8 points of shard 2/2, and point 11 (a=3, b=y) that failed in 1/2
    local rows = rows_of(dir .. "/resume.jsonl")
    assert.are.equal(16, #rows)
    for _, r in ipairs(rows) do assert.are.equal("ok", r.status) end
    local same = 0
    for i, r in ipairs(rows) do
      if single[i].status == "ok" then
        assert.are.equal(single[i].trace_hash, r.trace_hash)
        same = same + 1
      end
    end
    assert.are.equal(14, same)
  end)

  it("Ctrl-C keeps the finished points", function()
    local slow = dir .. "/slow.lua"
    local g = assert(io.open(slow, "w"))
    g:write([[dma.sweep { params = { i = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 } }, run = function(p)
      local t = dma._monotonic()
      while p.i > 2 and dma._monotonic() - t < 1 do end
      return { i2 = p.i * p.i } end }
]])
    g:close()
    local code, out = sh(("%s sweep %s --jobs 1 --out %s/slow.sqlite & pid=$!; sleep 0.7; "
                          .. "kill -INT $pid; wait $pid")
                         :format(DMALAB, slow, dir))
    assert.are.equal(130, code, out)
    assert.truthy(out:find("interrupted"))
    local rows = rows_of(dir .. "/slow.sqlite")
    assert.is_true(#rows >= 2 and #rows < 10)
  end)

  it("dmalab plot draws an SVG with labelled axes", function()
    if sh("command -v gnuplot") ~= 0 then pending("gnuplot is not installed") return end
    local code, out = sh(("%s plot %s/j1.sqlite --x a --y events --by b -o %s/p.svg")
                         :format(DMALAB, dir, dir))
    assert.are.equal(0, code, out)
    local svg = assert(io.open(dir .. "/p.svg")):read("a")
    assert.truthy(svg:find("<svg"))
    assert.truthy(svg:find("events %(count%)"))
    assert.truthy(svg:find("b=x"))
  end)
end)

teardown(function() os.execute("rm -rf " .. dir) end)
