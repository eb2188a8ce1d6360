-- One case passes, one fails: the scenario fails, the other case still runs.
describe("arithmetic", function()
  it("adds", function() assert(1 + 1 == 2) end)
  it("is wrong on purpose", function() error("expected failure") end)
end)
