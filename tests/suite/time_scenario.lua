-- A timer that re-arms itself forever: the simulated-time limit stops it.
local dma = require "dma"
scenario { max_time = "1ms" }
local m = dma.machine {}
local function tick() m:after("1us", tick) end
tick()
m:run()
