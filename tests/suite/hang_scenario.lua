-- Never ends: the instruction limit stops it (and no pcall can catch that).
scenario { max_instructions = 2000000 }
while true do pcall(function() while true do end end) end
