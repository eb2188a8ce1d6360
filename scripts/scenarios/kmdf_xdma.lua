-- kmdf_xdma.lua: the port of Xilinx's XDMA Windows driver
-- (drivers/xdma/driver.lua, libxdma.lua) on the XDMA IP model
-- (drivers/xdma/model.lua, two H2C and two C2H AXI-MM engines, a user BAR
-- and a config BAR, one interrupt), driven as an application would: the
-- device found through GUID_DEVINTERFACE_XDMA, its nodes opened by name
-- (\h2c_0, \c2h_1, \user, \control...), WriteFile/ReadFile at card addresses.
--   1. writes then reads back requests of 1 B .. 9 MiB (the edges of pages
--      and of the 8 MiB DMA limit, then random sizes) at random buffer
--      offsets and card addresses, alternating channels 0 and 1 and keeping
--      both H2C (or both C2H) engines busy at once: every byte checked in
--      the card's memory after the writes and in the buffers after the
--      reads;
--   2. the user BAR written and read through \user, the config BAR's
--      identifier read through \control; the IOCTLs on an engine's file
--      (PERF_START/PERF_GET, ADDRMODE_GET);
--   3. files that select nothing (\bogus, \h2c_3: no such engine, \bypass:
--      no bypass BAR, \event_0: not ported, the device itself) refused.
-- Run with a single MSI, then with the INTA line, then in poll mode
-- (options.PollMode = 1, the registry's POLL_MODE: the engines write their
-- completed count back, the driver spins on it, no interrupt; requests up
-- to 8 MiB, one DMA operation: the driver polls only a request's first).
-- The runs above zero the descriptors before WdfDmaTransactionDmaCompleted,
-- as Xilinx's later release does (options.ClearBeforeCompleted); last, the
-- order of the ported release: a 9 MiB write (two DMA operations) has the
-- second's descriptors zeroed before the engine fetches them
-- (MAGIC_STOPPED), and the error path releases the transaction in state
-- Transfer: bug check 0x10D.
-- Statistics of the driver, the IP and the machine are printed for each run.
--
-- Environment: DMALAB_REQUESTS (random sizes after the fixed ones, default
-- 12), DMALAB_SEED (default 1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local model = require "drivers.xdma.model"
local drv = require "drivers.xdma.driver"

local RANDOM = tonumber(os.getenv("DMALAB_REQUESTS") or "") or 12
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local KiB, MiB = 1024, 1024 * 1024
local CARD = 32 * MiB
local FIXED = { 1, 3, 4, 7, 8, 511, 4095, 4096, 4097, 8191, 8192, 8193, 65536 + 123, MiB - 1, 2 * MiB + 5,
                8 * MiB, 8 * MiB + 1, 9 * MiB + 4321 }

-- Sends irp to the device and expects the framework to pend it or complete it.
local function send(fdo, irp)
  local st = IoCallDriver(fdo, irp)
  assert(st == STATUS_PENDING or st == irp.IoStatus.Status, "IoCallDriver returned " .. tostring(st))
  return irp
end

-- Opens node `name` (\h2c_0 ...): the status and the FILE_OBJECT.
local function open(m, fdo, name)
  local irp = send(fdo, m:irp { major = IRP_MJ_CREATE, file_name = name })
  m:run()
  assert(irp.done, "the create of " .. name .. " never completed")
  return irp.IoStatus.Status, irp.FileObject
end

local function close(m, fdo, file)
  send(fdo, m:irp { major = IRP_MJ_CLEANUP, file = file })
  send(fdo, m:irp { major = IRP_MJ_CLOSE, file = file })
  m:run()
end

-- A machine with RAM below and above 4 GiB (so descriptors carry high
-- addresses), the IP (interrupt "msi" or "line"), the driver started.
local function start(interrupt, options)
  local m = dma.machine { ram = { { 0, "2G" }, { "4G", "4G" } }, seed = SEED, alloc = "scattered" }
  local hw = model.new(m, { name = "xdma0", h2c_channels = 2, c2h_channels = 2, card_memory = CARD,
                            bandwidth = "2G", interrupt = interrupt, vector = 48, irql = 8 })
  local status, Driver = drv.DriverEntry(dma.driver { name = "xdma" }, nil, options)
  assert(status == STATUS_SUCCESS, "WdfDriverCreate failed")
  local Device, started = m:wdf_add_device(Driver, hw.model)   -- the PnP manager finds the device model
  assert(Device and started == STATUS_SUCCESS, "the device did not start")
  local _, links = IoGetDeviceInterfaces(drv.GUID_DEVINTERFACE_XDMA, nil, 0)
  local fdo = assert(m:find_device(links[1]), "no XDMA device interface")
  assert(fdo == WdfDeviceWdmGetDeviceObject(Device))
  local xdma = drv.Context(Device).xdma
  assert(xdma.configBarIdx == 1 and xdma.userBarIdx == 0 and xdma.bypassBarIdx == -1)
  return m, hw, Device, fdo
end

local function run(title, interrupt, options, largest, random)
  math.randomseed(SEED)
  local m, hw, Device, fdo = start(interrupt, options)

  local files = {}
  for _, name in ipairs { "\\h2c_0", "\\h2c_1", "\\c2h_0", "\\c2h_1", "\\user", "\\control" } do
    local st, file = open(m, fdo, name)
    assert(st == STATUS_SUCCESS, name .. " did not open")
    files[name] = file
  end

  -- 1. every size written, then read back, on both channels at once
  local sizes = {}
  for _, n in ipairs(FIXED) do
    if n <= largest then sizes[#sizes + 1] = n end
  end
  for _ = 1, random do sizes[#sizes + 1] = math.random(1, math.min(3 * MiB, largest)) end
  local out = { writes = 0, reads = 0, bytes = 0 }
  local function request(major, file, buffer, r)
    return m:irp { major = major, buffer = buffer, device_offset = r.at, file = file }
  end
  for k = 1, #sizes, 2 do
    local batch = {}
    for ch = 0, 1 do
      local len = sizes[k + ch]
      if len then
        local half = CARD // 2
        local r = { len = len, at = ch * half + math.random(0, half - len), ch = ch,
                    data = dma.pattern(len, SEED * 7919 + k + ch) }
        r.wbuf = m:buffer(len, { offset = math.random(0, PAGE_SIZE - 1) })
        r.wbuf:write(0, r.data)
        r.rbuf = m:buffer(len, { offset = math.random(0, PAGE_SIZE - 1) })
        r.rbuf:fill(0xEE)
        batch[#batch + 1] = r
      end
    end
    for _, r in ipairs(batch) do
      r.w = send(fdo, request(IRP_MJ_WRITE, files["\\h2c_" .. r.ch], r.wbuf, r))
    end
    m:run()
    for _, r in ipairs(batch) do
      assert(r.w.done and r.w.IoStatus.Status == STATUS_SUCCESS,
             ("write of %d failed: 0x%x"):format(r.len, r.w.IoStatus.Status))
      assert(r.w.IoStatus.Information == r.len, "short write")
      assert(hw:card_read(r.at, r.len) == r.data, ("the card differs after a write of %d"):format(r.len))
      out.writes, out.bytes = out.writes + 1, out.bytes + r.len
    end
    for _, r in ipairs(batch) do
      r.r = send(fdo, request(IRP_MJ_READ, files["\\c2h_" .. r.ch], r.rbuf, r))
    end
    m:run()
    for _, r in ipairs(batch) do
      assert(r.r.done and r.r.IoStatus.Status == STATUS_SUCCESS,
             ("read of %d failed: 0x%x"):format(r.len, r.r.IoStatus.Status))
      assert(r.r.IoStatus.Information == r.len, "short read")
      local same, at = r.rbuf:compare(0, r.data)
      assert(same, ("read of %d: byte %s differs"):format(r.len, tostring(at)))
      out.reads, out.bytes = out.reads + 1, out.bytes + r.len
      r.wbuf:free()
      r.rbuf:free()
    end
  end

  -- 2. the BARs through their files, the IOCTLs on an engine's
  local ubuf = m:buffer(16)
  ubuf:write(0, "XDMA user BAR ok")
  local function barIo(major, buffer, at, name)
    return send(fdo, m:irp { major = major, buffer = buffer, device_offset = at, file = files[name] })
  end
  local uw = barIo(IRP_MJ_WRITE, ubuf, 0x100, "\\user")
  local rbuf = m:buffer(16)
  local ur = barIo(IRP_MJ_READ, rbuf, 0x100, "\\user")
  local ibuf = m:buffer(4)
  local cr = barIo(IRP_MJ_READ, ibuf, 0x3000, "\\control")
  m:run()
  assert(uw.IoStatus.Status == STATUS_SUCCESS and ur.IoStatus.Status == STATUS_SUCCESS,
         "user BAR access failed")
  assert(hw:user_read(0x100, 16) == "XDMA user BAR ok" and rbuf:read() == "XDMA user BAR ok")
  assert(cr.IoStatus.Status == STATUS_SUCCESS and string.unpack("<I4", ibuf:read()) == 0x1FC30006,
         "the config block's identifier")
  local ioctl = function(code, file, output)
    return send(fdo, m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = code, buffer = output, file = file })
  end
  local perfStart = ioctl(drv.IOCTL_XDMA_PERF_START, files["\\h2c_0"])
  local pb = m:buffer(4 * KiB)
  pb:write(0, dma.pattern(4 * KiB, 5))
  send(fdo, m:irp { major = IRP_MJ_WRITE, buffer = pb, device_offset = 0, file = files["\\h2c_0"] })
  m:run()
  local perf = m:buffer(drv.XDMA_PERF_DATA.size)
  local get = ioctl(drv.IOCTL_XDMA_PERF_GET, files["\\h2c_0"], perf)
  local mode = m:buffer(4)
  local am = ioctl(drv.IOCTL_XDMA_ADDRMODE_GET, files["\\c2h_1"], mode)
  local bar = ioctl(drv.IOCTL_XDMA_ADDRMODE_GET, files["\\user"], m:buffer(4))
  m:run()
  assert(perfStart.IoStatus.Status == STATUS_SUCCESS and get.IoStatus.Status == STATUS_SUCCESS)
  assert(get.IoStatus.Information == drv.XDMA_PERF_DATA.size)
  local clocks, beats = string.unpack("<I8I8", perf:read())
  assert(beats == 4 * KiB // 16 and clocks > 0, "the performance counters")
  assert(am.IoStatus.Status == STATUS_SUCCESS and string.unpack("<I4", mode:read()) == 0, "incremental mode")
  assert(bar.IoStatus.Status == STATUS_INVALID_PARAMETER, "an IOCTL on a BAR file")

  -- 3. names that select nothing
  local refused = {}
  for _, name in ipairs { "\\bogus", "\\h2c_3", "\\bypass", "\\event_0", "" } do
    local st = open(m, fdo, name)
    refused[#refused + 1] = ("%s 0x%x"):format(name == "" and "(device)" or name, st)
    assert(st == STATUS_INVALID_PARAMETER, name .. " was not refused")
  end

  for _, file in pairs(files) do close(m, fdo, file) end
  for _, b in ipairs { ubuf, rbuf, ibuf, pb, perf, mode } do b:free() end

  local ip, s = hw:stats(), m:run_stats()
  print(("%s: %d writes and %d reads of 1 B .. %d KiB at most on 2 H2C and 2 C2H engines, %d bytes, "
         .. "every byte verified"):format(title, out.writes, out.reads, largest // KiB, out.bytes))
  print(("  IP: %d starts, %d descriptor blocks fetched (at most %d adjacent), %d descriptors, %d bytes H2C, "
         .. "%d C2H, %d %s, %d writebacks, %d errors"):format(ip.starts, ip.fetches, ip.max_block,
         ip.descriptors, ip.bytes_h2c, ip.bytes_c2h, ip.messages,
         interrupt == "line" and "INTA assertions" or "MSIs", ip.writebacks, ip.errors))
  print(("  files: user BAR and config BAR through \\user and \\control; PERF_GET %d clocks, %d beats; "
         .. "refused: %s"):format(clocks, beats, table.concat(refused, ", ")))
  print(("  machine: %d interrupts, %d DPCs; simulated time %.3f ms"):format(s.interrupts, s.dpcs,
        s.time / 1e6))
  assert(ip.errors == 0, "the IP saw an error")
  if options.PollMode == 1 then
    assert(ip.messages == 0 and ip.writebacks == ip.descriptors, "poll mode took interrupts")
  else
    assert(ip.messages > 0 and ip.writebacks == 0)
  end
  assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
  local leaks = m:check_leaks()
  assert(#leaks == 0, leaks[1] and leaks[1].message)
  m:close()
end

-- The order of the ported release: the descriptors of a split
-- transaction's second DMA operation zeroed after DmaCompleted programmed them.
local function descriptors_zeroed()
  local m, hw, _, fdo = start("msi", {})
  local _, file = open(m, fdo, "\\h2c_0")
  local len = 9 * MiB
  local b = m:buffer(len, { offset = 0x123 })
  b:write(0, dma.pattern(len, 3))
  local w = send(fdo, m:irp { major = IRP_MJ_WRITE, buffer = b, device_offset = 0, file = file })
  local ok, err = pcall(m.run, m)
  local ip = hw:stats()
  assert(not ok and err:find("WDF_VIOLATION (0x10D, P1=0x08): WdfDmaTransactionRelease", 1, true), err)
  assert(not w.done and ip.errors == 1 and ip.bytes_h2c == 8 * MiB, "the second DMA operation ran")
  print(("kmdf_xdma descriptors zeroed after DmaCompleted: a write of 9 MiB: %d bytes moved, then "
         .. "MAGIC_STOPPED; %s"):format(ip.bytes_h2c, err:match("(WDF_VIOLATION %b()[^\n]*)")))
  m:close()
end

local FIXED_ORDER = { ClearBeforeCompleted = true }
run("kmdf_xdma MSI", "msi", FIXED_ORDER, 10 * MiB, RANDOM)
run("kmdf_xdma INTA", "line", FIXED_ORDER, 256 * KiB, RANDOM // 2)
run("kmdf_xdma POLL_MODE=1", "msi", { PollMode = 1, ClearBeforeCompleted = true }, 8 * MiB, RANDOM // 2)
descriptors_zeroed()
