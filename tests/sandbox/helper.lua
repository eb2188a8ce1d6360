-- A module next to a sandboxed scenario: `require "helper"` may load it.
return { x = 1 }
