-- The option values of the device models (e100_model.lua, plx_model.lua,
-- xdma/model.lua): durations and sizes, written as integers or strings.
--
--   local units = require "drivers.units"   (installed: "dma.drivers.units")
--   units.duration("2us", 500, "plx_model")  --> 2000
--   units.size("4M", 0)                      --> 4194304
local dma = require "dma"

local units = {}

local NS = { ns = 1, us = 1000, ms = 1000000, s = 1000000000 }

-- A duration in ns: an integer (ns), or "200ns", "2us", "1ms", "1s"
-- (fractions allowed); `default` for nil. `who` names the model in the error.
function units.duration(v, default, who)
  if v == nil then return default end
  if math.type(v) == "integer" then return v end
  local n, unit = tostring(v):match("^%s*([%d%.]+)%s*(%a*)%s*$")
  local scale = NS[unit ~= "" and unit or "ns"]
  assert(n and scale, who .. ": bad duration " .. tostring(v))
  return math.floor(tonumber(n) * scale + 0.5)
end

-- A size in bytes: an integer, or a string dma.size reads ("4M", "64KiB");
-- `default` for nil.
function units.size(v, default)
  if v == nil then return default end
  if math.type(v) == "integer" then return v end
  return dma.size(v)
end

return units
