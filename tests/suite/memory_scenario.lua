-- Eats memory: the Lua allocator's limit stops it.
scenario { max_memory = "16M" }
local t = {}
for i = 1, math.huge do t[i] = ("x"):rep(1000) .. i end
print(#t)
