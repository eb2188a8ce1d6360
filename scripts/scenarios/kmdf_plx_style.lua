-- kmdf_plx_style.lua: the PLX9x5x-style KMDF driver (drivers/kmdf_plx_style.lua)
-- on the PLX 9656-style chip model (drivers/plx_model.lua): writes, then
-- reads back, requests of 1 byte to 1 MiB (the edges of pages, MDLs and
-- DMA operations, then random sizes) at random buffer offsets, every byte
-- checked in the chip's local memory after the write and in the buffer
-- after the read. Write k and read k-1 are sent together, so the write
-- queue and the read queue keep both DMA channels busy at once (duplex).
-- Run twice: with the requests' own buffers, then with
-- SIMULATE_MEMORY_FRAGMENTATION (the data bounced through a chain of many
-- small MDLs). A request past the local memory fails with
-- STATUS_INVALID_BUFFER_SIZE. Last, with RequireSingleTransfer, requests
-- up to the fragment length take one DMA operation and a longer one fails
-- with STATUS_WDF_TOO_MANY_TRANSFERS. Statistics of the driver, the chip, the
-- adapters and the machine are printed for each run.
--
-- Environment: DMALAB_REQUESTS (random sizes after the fixed ones, default
-- 40), DMALAB_SEED (default 1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local plx = require "drivers.plx_model"
local drv = require "drivers.kmdf_plx_style"

local RANDOM = tonumber(os.getenv("DMALAB_REQUESTS") or "") or 40
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local MiB = 1024 * 1024
local LOCAL_MEMORY = 4 * MiB
local STATUS_INVALID_BUFFER_SIZE = 0xC0000206

local FIXED = { 1, 2, 3, 15, 16, 17, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192,
                8193, 65535, 65536, 65537, 100000, 131072, 262143, 262144, 524288, 1048575, 1048576 }

-- One run: a machine with RAM below and above 4 GiB (so the 64-bit
-- profile's lists carry high addresses), the chip, the driver.
local function run(title, options)
  math.randomseed(SEED)
  local m = dma.machine { ram = { { 0, "2G" }, { "4G", "4G" } }, seed = SEED, alloc = "scattered" }
  local hw = plx.new(m, { name = "plx9656", local_memory = LOCAL_MEMORY, bandwidth = "512M",
                          setup_latency = "1us", descriptor_latency = "200ns", vector = 40, irql = 7 })
  local status, Driver = drv.DriverEntry(dma.driver { name = "plx9x5x" }, nil, options)
  assert(status == STATUS_SUCCESS, "WdfDriverCreate failed")
  local Device, started = m:wdf_add_device(Driver, hw)
  assert(Device and started == STATUS_SUCCESS, "the device did not start")
  local fdo = WdfDeviceWdmGetDeviceObject(Device)
  local devExt = drv.Context(Device)

  local sizes = {}
  for _, n in ipairs(FIXED) do sizes[#sizes + 1] = n end
  for _ = 1, RANDOM do sizes[#sizes + 1] = math.random(1, MiB) end

  local out = { writes = 0, reads = 0, bytes = 0 }
  -- request k: a pattern at a random place of one half of the local memory
  local function make(k)
    local len = sizes[k]
    local r = { len = len, offset = (k % 2) * (LOCAL_MEMORY // 2) + math.random(0, LOCAL_MEMORY // 2 - len),
                data = dma.pattern(len, SEED * 7919 + k) }
    r.wbuf = m:buffer(len, { offset = math.random(0, PAGE_SIZE - 1) })
    r.wbuf:write(0, r.data)
    r.rbuf = m:buffer(len, { offset = math.random(0, PAGE_SIZE - 1) })
    r.rbuf:fill(0xEE)
    return r
  end
  -- the IRP of request r (`what`: "write" or "read") through `buffer`; its
  -- completion checks the status, the length, then the bytes (`check()`),
  -- counts it and frees the buffer
  local function request(major, what, buffer, r, check)
    return m:irp { major = major, buffer = buffer, device_offset = r.offset, completion = function(irp)
      assert(irp.IoStatus.Status == STATUS_SUCCESS,
             ("%s of %d failed: 0x%x"):format(what, r.len, irp.IoStatus.Status))
      assert(irp.IoStatus.Information == r.len, "short " .. what)
      check()
      out[what .. "s"], out.bytes = out[what .. "s"] + 1, out.bytes + r.len
      buffer:free()
    end }
  end
  local function write(r)
    return request(IRP_MJ_WRITE, "write", r.wbuf, r, function()
      assert(hw:local_read(r.offset, r.len) == r.data,
             ("the chip's memory differs after a write of %d"):format(r.len))
    end)
  end
  local function read(r)
    return request(IRP_MJ_READ, "read", r.rbuf, r, function()
      local same, at = r.rbuf:compare(0, r.data)
      assert(same, ("read of %d: byte %s differs"):format(r.len, tostring(at)))
    end)
  end

  -- write 1; then write k with read k-1; then read n
  local previous
  for k = 1, #sizes + 1 do
    local irps = {}
    local r = sizes[k] and make(k)
    if r then irps[#irps + 1] = write(r) end
    if previous then irps[#irps + 1] = read(previous) end
    for _, irp in ipairs(irps) do assert(IoCallDriver(fdo, irp) == STATUS_PENDING) end
    m:run()
    for _, irp in ipairs(irps) do assert(irp.done, "a request never completed") end
    previous = r
  end
  assert(out.writes == #sizes and out.reads == #sizes)

  -- past the end of the local memory: refused before any DMA
  local b = m:buffer(4096)
  local refused = m:irp { major = IRP_MJ_WRITE, buffer = b, device_offset = LOCAL_MEMORY - 100 }
  IoCallDriver(fdo, refused)
  m:run()
  assert(refused.done and refused.IoStatus.Status == STATUS_INVALID_BUFFER_SIZE,
         "a write past the end was not refused")
  b:free()

  local st, chip, s = devExt.Stats, hw:stats(), m:run_stats()
  local wa, ra = devExt.WriteAdapter:stats(), devExt.ReadAdapter:stats()
  print(("%s: %d writes and %d reads of 1 B .. 1 MiB, %d bytes, every byte verified; "
         .. "1 request past the end refused"):format(title, out.writes, out.reads, out.bytes))
  print(("  driver: EvtProgramDma %d write + %d read, %d DTEs (%d above 4 GiB; at most %d a DMA operation, "
         .. "table of %d), ISRs %d, DPCs %d"):format(st.write_dma, st.read_dma, st.dtes, st.high_dtes,
         st.max_dtes, devExt.WriteTransferElements, st.isr, st.dpc))
  print(("  chip: %d starts, %d descriptors, %d bytes to and %d from the device, %d interrupts, "
         .. "%d errors"):format(chip.starts, chip.descriptors, chip.bytes_to_device, chip.bytes_from_device,
         chip.interrupts, chip.errors))
  print(("  duplex: channel 0 busy %.3f ms, channel 1 busy %.3f ms in %.3f ms"):format(
    chip.busy_ns[0] / 1e6, chip.busy_ns[1] / 1e6, s.time / 1e6))
  print(("  adapters (write/read): %d/%d map transfers of %d/%d bytes, %d/%d bounced; "
         .. "enabler %s"):format(wa.map_transfers, ra.map_transfers, wa.bytes_mapped, ra.bytes_mapped,
         wa.bytes_bounced, ra.bytes_bounced, tostring(devExt.DmaEnabler)))
  print(("  machine: %d interrupts, %d DPCs, DPC latency min/median/max %d/%d/%d ns; "
         .. "simulated time %.3f ms"):format(s.interrupts, s.dpcs, s.dpc_latency_min, s.dpc_latency_median,
         s.dpc_latency_max, s.time / 1e6))
  assert(chip.errors == 0, "the chip saw a bad bus cycle")
  assert(st.write_dma == st.read_dma, "reads and writes of the same sizes take the same DMA operations")
  assert(chip.bytes_to_device == out.bytes // 2 and chip.bytes_from_device == out.bytes // 2)
  assert(chip.busy_ns[0] + chip.busy_ns[1] > s.time, "the channels never ran at once")

  -- D0Exit (reset), ReleaseHardware, then the framework deletes the device and its
  -- children: the enabler with its transactions and common buffers, PlxEvtDeviceCleanup
  assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
  m:close()
end

-- RequireSingleTransfer (the sample's IOCTL; DMA version 3): a request the
-- framework can do in one DMA operation takes one; a longer one fails at
-- initialization with STATUS_WDF_TOO_MANY_TRANSFERS, before any DMA.
local function single_transfer()
  local m = dma.machine { ram = { { 0, "2G" }, { "4G", "4G" } }, seed = SEED, alloc = "scattered" }
  local hw = plx.new(m, { name = "plx9656", local_memory = LOCAL_MEMORY, vector = 40, irql = 7 })
  local _, Driver = drv.DriverEntry(dma.driver { name = "plx9x5x" }, nil, { RequireSingleTransfer = true })
  local Device = assert(m:wdf_add_device(Driver, hw))
  local fdo, devExt = WdfDeviceWdmGetDeviceObject(Device), drv.Context(Device)
  local fragment = WdfDmaEnablerGetFragmentLength(devExt.DmaEnabler, WdfDmaDirectionWriteToDevice)
  local results = {}
  for _, len in ipairs { 1, 4096, fragment, fragment + 1 } do
    local b = m:buffer(len, { offset = 0x10 })
    local data = dma.pattern(len, len)
    b:write(0, data)
    local before = devExt.Stats.write_dma + devExt.Stats.read_dma
    local w = m:irp { major = IRP_MJ_WRITE, buffer = b, device_offset = 0 }
    local r = m:irp { major = IRP_MJ_READ, buffer = b, device_offset = 0 }
    assert(IoCallDriver(fdo, w) == STATUS_PENDING)
    m:run()
    b:fill(0)
    assert(IoCallDriver(fdo, r) == STATUS_PENDING)
    m:run()
    local ops = devExt.Stats.write_dma + devExt.Stats.read_dma - before
    if len <= fragment then
      assert(w.IoStatus.Status == STATUS_SUCCESS and r.IoStatus.Status == STATUS_SUCCESS)
      assert(b:compare(0, data), "single transfer: the bytes differ")
      assert(ops == 2, "one DMA operation each way")
    else
      assert(w.IoStatus.Status == STATUS_WDF_TOO_MANY_TRANSFERS
             and r.IoStatus.Status == STATUS_WDF_TOO_MANY_TRANSFERS)
      assert(ops == 0)
    end
    results[#results + 1] = ("%d: 0x%x"):format(len, w.IoStatus.Status)
    b:free()
  end
  print(("kmdf_plx_style RequireSingleTransfer: fragment length %d; write status by length %s; "
         .. "the bytes of each single transfer verified"):format(fragment, table.concat(results, ", ")))
  assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
  m:close()
end

run("kmdf_plx_style", {})
run("kmdf_plx_style SIMULATE_MEMORY_FRAGMENTATION", { SimulateMemoryFragmentation = true })
single_transfer()
