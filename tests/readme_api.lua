-- tests/readme_api.lua [--write]: README.md's API reference is the help
-- table's (repl/lua/help.lua) Markdown, between the BEGIN/END API REFERENCE
-- markers. Without --write, fails when they differ (run `make readme-api`);
-- with it, rewrites README.md. Run with dmalab from the repository root.
local help = require "dma.help"

local f = assert(io.open("README.md"))
local text = f:read("a")
f:close()
local BEGIN, END = "<!-- BEGIN API REFERENCE -->\n", "<!-- END API REFERENCE -->"
local a = assert(text:find(BEGIN, 1, true), "README.md has no BEGIN API REFERENCE marker")
local b = assert(text:find(END, a, true), "README.md has no END API REFERENCE marker")
local want = help.markdown()
local have = text:sub(a + #BEGIN, b - 1)
if arg[1] == "--write" then
  f = assert(io.open("README.md", "w"))
  f:write(text:sub(1, a + #BEGIN - 1), want, text:sub(b))
  f:close()
  print("README.md: API reference rewritten from repl/lua/help.lua")
elseif have ~= want then
  io.stderr:write("README.md's API reference differs from repl/lua/help.lua: run `make readme-api`\n")
  os.exit(1)
end
