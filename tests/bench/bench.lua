-- bench.lua: speed and memory figures of the engine (make bench). Host
-- time is measured here and only here: results of scenarios never depend
-- on it. Compare ratios within one run (see shared cost anchors).
local dma = require "dma"
dma.export()

local function measure(name, n, unit, fn)
  collectgarbage()
  local t0 = os.clock()
  fn()
  local dt = os.clock() - t0
  print(("%-44s %10.0f %s/s   (%d in %.3f s)"):format(name, n / dt, unit, n, dt))
end

local function rss_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmRSS:%s+(%d+)")
    if kib then return tonumber(kib) end
  end
end

-- Lua timer callbacks through the event queue (one pending at a time).
local N = 200000
measure("clock: Lua callbacks via m:after", N, "events", function()
  local m = dma.machine { ram = "1G" }
  local left = N
  local function tick()
    left = left - 1
    if left > 0 then m:after(100, tick) end
  end
  m:after(100, tick)
  m:run()
  m:close()
end)

-- MapTransfer + FlushAdapterBuffers of one page, bounced and not.
for _, bounce in ipairs({ false, true }) do
  local n = 100000
  measure(("adapter: MapTransfer+Flush 4 KiB, %s"):format(bounce and "bounced" or "direct"), n, "maps",
          function()
    local m = dma.machine { ram = bounce and { { "4G", "4G" } } or "4G", alloc = "contiguous" }
    local dev = m:device()
    local a, nmr = IoGetDmaAdapter(dev, { Version = 2, Master = TRUE, Dma32BitAddresses = TRUE,
                                          MaximumLength = 65536 })
    local b = m:buffer(4096)
    local mdl = IoAllocateMdl(b.va, 4096)
    MmBuildMdlForNonPagedPool(mdl)
    KeRaiseIrql(DISPATCH_LEVEL)
    a:AllocateAdapterChannel(dev, nmr, function(_, _, base)
      for _ = 1, n do
        a:MapTransfer(mdl, base, b.va, 4096, TRUE)
        a:FlushAdapterBuffers(mdl, base, b.va, 4096, TRUE)
      end
      a:FreeMapRegisters(base, nmr)
      return DeallocateObjectKeepRegisters
    end)
    KeLowerIrql(PASSIVE_LEVEL)
    IoFreeMdl(mdl)
    b:free()
    PutDmaAdapter(a)
    m:close()
  end)
end

-- Whole requests through the WDM packet driver and the bus-master device.
package.path = "scripts/?.lua;" .. package.path
local driver = require "drivers.wdm_packet"
local REQ = 20000
measure("driver: 4 KiB requests through wdm_packet", REQ, "requests", function()
  local m = dma.machine { ram = "4G", trace = 1024 }
  local hw = m:busmaster { capacity = "16M" }
  local DriverObject = dma.driver { name = "wdm_packet" }
  driver.DriverEntry(DriverObject)
  driver.AddDevice(DriverObject, hw.device, hw.resources)
  local b = m:buffer(4096)
  for i = 1, REQ do
    local irp = m:irp { major = (i % 2 == 0) and IRP_MJ_READ or IRP_MJ_WRITE, buffer = b,
                        device_offset = (i % 1024) * 4096 }
    IoCallDriver(hw.device, irp)
    m:run()
  end
  local s = m:run_stats()
  print(("  (%d events, %.1f ms simulated)"):format(s.events, s.time / 1e6))
  driver.RemoveDevice(hw.device, hw.resources)
  b:free()
  m:close()
end)

-- Host memory of a 1 TiB machine that touches 64 MiB.
collectgarbage()
local before = rss_kib()
local m = dma.machine { ram = "1T", seed = 1 }
local bufs = {}
for i = 1, 64 do
  bufs[i] = m:buffer(1 << 20)
  bufs[i]:fill(i)
end
local st = m:stats()
print(("memory: 1 TiB machine touching 64 MiB: host_bytes %.1f MiB, RSS growth %.1f MiB"):format(
  st.host_bytes / 2 ^ 20, (rss_kib() - before) / 1024))
for _, b in ipairs(bufs) do b:free() end
m:close()
