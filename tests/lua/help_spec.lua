-- help coverage: every name the module exports (WDK calls and constants,
-- dma.* functions, every class and its methods) has an entry in the help
-- table (repl/lua/help.lua) with a signature, purpose, IRQL and reference;
-- no entry names something that is not exported. A name without help is
-- listed by name, to be added to repl/lua/help.lua.
package.preload["dma.help"] = function() return dofile("repl/lua/help.lua") end
local dma = require "dma"
local help = require "dma.help"

describe("help", function()
  it("covers every exported name", function()
    local covered, total, missing = help.coverage()
    assert(#missing == 0, ("%d of %d exported names have no help; add them to repl/lua/help.lua:\n  %s")
      :format(#missing, total, table.concat(missing, "\n  ")))
    assert.are.equal(total, covered)
    assert.is_true(total > 300)
  end)

  it("gives every entry a signature, a purpose, an IRQL and a reference", function()
    for _, e in ipairs(help.entries) do
      assert(e.signature ~= "" and e.purpose ~= "" and e.irql ~= "" and e.ref:match("^[%w]"), e.name)
      if e.kind == "wdk" then
        assert(e.ref:match("^https://learn%.microsoft%.com/"), e.name .. ": a WDK name follows a DDI page")
        assert(e.returns, e.name .. ": says what it returns")
      end
    end
  end)

  it("has no entry for a name the module does not export", function()
    local exported = {}
    for _, n in ipairs(help.exported()) do exported[n] = true end
    local stale = {}
    for _, e in ipairs(help.entries) do
      if not exported[e.name] then stale[#stale + 1] = e.name end
    end
    assert(#stale == 0, "help entries for names not exported: " .. table.concat(stale, ", "))
  end)

  it("finds entries by name, by function value and by object", function()
    assert.are.equal("IoGetDmaAdapter", help.lookup("IoGetDmaAdapter").name)
    assert.are.equal("IoGetDmaAdapter", help.lookup(dma.IoGetDmaAdapter).name)
    assert.are.equal("DMA_ADAPTER:MapTransfer", help.lookup("MapTransfer").name)
    local m = dma.machine {}
    assert.are.equal("machine", help.lookup(m).name)
    assert.are.equal("machine:buffer", help.lookup(m.buffer).name)
    assert.are.equal("constant", help.lookup("STATUS_PENDING").kind)
    m:close()
  end)
end)
