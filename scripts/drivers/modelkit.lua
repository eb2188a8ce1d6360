-- What the device models (e100_model.lua, plx_model.lua, xdma/model.lua)
-- share: their option values (durations and sizes, written as integers or
-- strings) and sparse byte stores (a card's memory: 4 KiB chunks, absent
-- ones read as zeros).
--
--   local kit = require "drivers.modelkit"   (installed: "dma.drivers.modelkit")
--   kit.duration("2us", 500, "plx_model")  --> 2000
--   kit.size("4M", 0)                      --> 4194304
--   kit.store_write(chunks, 0x1000, "abc"); kit.store_read(chunks, 0x1000, 3)  --> "abc"
local dma = require "dma"

local kit = {}

local NS = { ns = 1, us = 1000, ms = 1000000, s = 1000000000 }

-- A duration in ns: an integer (ns), or "200ns", "2us", "1ms", "1s"
-- (fractions allowed); `default` for nil. `who` names the model in the error.
function kit.duration(v, default, who)
  if v == nil then return default end
  if math.type(v) == "integer" then return v end
  local n, unit = tostring(v):match("^%s*([%d%.]+)%s*(%a*)%s*$")
  local scale = NS[unit ~= "" and unit or "ns"]
  assert(n and scale, who .. ": bad duration " .. tostring(v))
  return math.floor(tonumber(n) * scale + 0.5)
end

-- A size in bytes: an integer, or a string dma.size reads ("4M", "64KiB");
-- `default` for nil.
function kit.size(v, default)
  if v == nil then return default end
  if math.type(v) == "integer" then return v end
  return dma.size(v)
end


local CHUNK = 4096
local ZERO = ("\0"):rep(CHUNK)

-- len bytes at offset of the store `chunks` (a table of 4 KiB strings by chunk number).
function kit.store_read(chunks, offset, len)
  local parts = {}
  while len > 0 do
    local c, at = offset // CHUNK, offset % CHUNK
    local n = math.min(len, CHUNK - at)
    local chunk = chunks[c] or ZERO
    parts[#parts + 1] = (at == 0 and n == CHUNK) and chunk or chunk:sub(at + 1, at + n)
    offset, len = offset + n, len - n
  end
  return table.concat(parts)
end

-- Writes the string bytes at offset of the store `chunks`.
function kit.store_write(chunks, offset, bytes)
  local pos, len = 1, #bytes
  while len > 0 do
    local c, at = offset // CHUNK, offset % CHUNK
    local n = math.min(len, CHUNK - at)
    local piece = bytes:sub(pos, pos + n - 1)
    if n == CHUNK then
      chunks[c] = piece
    else
      local chunk = chunks[c] or ZERO
      chunks[c] = chunk:sub(1, at) .. piece .. chunk:sub(at + n + 1)
    end
    offset, pos, len = offset + n, pos + n, len - n
  end
end

return kit
