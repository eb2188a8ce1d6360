-- `dmalab test`: each scenario in its own process and state (a crash, a
-- hang, an exit or a leak fails that one only), the limits, expected leaks
-- and reports, TAP, JUnit validated against tests/suite/junit.xsd, --jobs,
-- the exit code, and --sandbox refusing every way out.
local DMALAB = os.getenv("DMALAB") or "bin/dmalab"

-- Runs `dmalab test ARGS`; returns stdout and the exit code.
local function run(args)
  local p = io.popen(DMALAB .. " test " .. args .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)\n$"))
  return out:gsub("rc=%d+\n$", ""), rc
end

-- The TAP verdict ("ok"/"not ok") of each file in the output.
local function verdicts(out)
  local v = {}
  for verdict, file in out:gmatch("\n(n?o?t? ?ok) %d+ %- ([^\n]+)") do v[file:match("[^/]+$")] = verdict end
  return v
end

describe("dmalab test", function()
  local out, rc
  setup(function() out, rc = run("-j 3 --junit /tmp/dmalab_suite_spec.xml tests/suite") end)
  teardown(function() os.remove("/tmp/dmalab_suite_spec.xml") end)

  it("prints TAP with a plan on a pipe and exits 1 when one fails", function()
    assert.are.equal(1, rc)
    assert.truthy(out:match("^TAP version 13\n1%.%.10\n"))
  end)

  it("isolates each scenario: crashes, exits, hangs and leaks fail only their own", function()
    local v = verdicts(out)
    assert.are.same({
      ["crash_scenario.lua"] = "not ok", ["exit_scenario.lua"] = "not ok",
      ["expected_leak_scenario.lua"] = "ok", ["failcase_scenario.lua"] = "not ok",
      ["hang_scenario.lua"] = "not ok", ["leak_scenario.lua"] = "not ok",
      ["memory_scenario.lua"] = "not ok", ["pass_scenario.lua"] = "ok",
      ["report_scenario.lua"] = "not ok", ["time_scenario.lua"] = "not ok",
    }, v)
  end)

  it("names the limit a scenario crossed, and why the others failed", function()
    assert.truthy(out:find("# scenario exceeded 2000000 instructions", 1, true))
    assert.truthy(out:find("# scenario exceeded the host memory limit of 16777216 bytes", 1, true))
    assert.truthy(out:find("# scenario exceeded 1000000 ns of simulated time", 1, true))
    assert.truthy(out:find("# scenario crashed: Aborted (signal 6)", 1, true))
    assert.truthy(out:find("# scenario ended its process (exit status 0) before it finished", 1, true))
    assert.truthy(out:find("# 1 leak at the end (declare scenario{ expect_leaks = 1 } if intended)", 1, true))
    assert.truthy(out:find("# 1 verifier report (declare scenario{ expect_reports = 1 }", 1, true))
    assert.truthy(out:find("# case failed: arithmetic is wrong on purpose", 1, true))
  end)

  it("writes JUnit XML that validates against the schema, cases from describe/it", function()
    local p = io.popen("xmllint --noout --schema tests/suite/junit.xsd /tmp/dmalab_suite_spec.xml 2>&1")
    local check = p:read("a")
    assert.is_true(p:close(), check)
    local f = io.open("/tmp/dmalab_suite_spec.xml")
    local xml = f:read("a")
    f:close()
    assert.truthy(xml:find('<testcase classname="tests.suite.pass_scenario" '
                           .. 'name="an MDL spans the pages of its buffer"', 1, true))
    assert.truthy(xml:find('name="arithmetic is wrong on purpose" time="[%d.]+">\n      <failure message='))
    assert.truthy(xml:find('<testsuite name="tests/suite/hang_scenario.lua" tests="1" failures="1"', 1, true))
  end)

  it("exits 0 when all pass, and runs the same alone as with --jobs", function()
    local o, code = run("tests/suite/pass_scenario.lua tests/suite/expected_leak_scenario.lua")
    assert.are.equal(0, code)
    assert.are.equal("TAP version 13\n1..2\nok 1 - tests/suite/pass_scenario.lua\n"
                     .. "ok 2 - tests/suite/expected_leak_scenario.lua\n", o)
  end)

  it("prints a summary with --summary, and refuses bad options and paths (exit 2)", function()
    local o, code = run("--summary tests/suite/pass_scenario.lua")
    assert.are.equal(0, code)
    assert.truthy(o:match("^PASS  tests/suite/pass_scenario.lua  %(2 cases%)"))
    assert.truthy(o:match("1 scenario: 1 passed, 0 failed"))
    assert.are.equal(2, select(2, run("--jobs 0 tests/suite")))
    assert.are.equal(2, select(2, run("tests/no_such_dir")))
  end)
end)

describe("dmalab test --sandbox", function()
  it("refuses io, os.execute, debug, files, binary chunks and foreign modules", function()
    local out, rc = run("--sandbox tests/sandbox")
    assert.are.equal(0, rc, out)
  end)

  it("is needed: without it the same scenario reaches io", function()
    local out, rc = run("tests/sandbox")
    assert.are.equal(1, rc)
    assert.truthy(out:find("case failed: the sandbox refuses io", 1, true))
  end)
end)
