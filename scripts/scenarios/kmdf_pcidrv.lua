-- kmdf_pcidrv.lua: the port of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf; drivers/pcidrv/)
-- on the Intel 8255x model (drivers/e100_model.lua), driven as an
-- application would through the NDISPROT interface: the packet filter set
-- and the MAC address queried by METHOD_BUFFERED IOCTLs, then frames
-- written (each one a WDFDMATRANSACTION whose S/G list becomes the TBDs of
-- a TCB; more writes than TCBs, so some wait on the manual
-- PendingWriteQueue) and frames received (reads parked on the manual
-- PendingReadQueue, each completed with a frame the chip wrote into an
-- RFD), both at once. Every byte is checked: each frame the chip put on
-- the wire against the application's write, each read against the frame
-- injected, and the bytes past a frame in a read buffer stay untouched. A
-- frame arriving with no read parked is dropped, as in the sample. The
-- machine has RAM above 4 GiB and the sample's enabler is 32-bit
-- (WdfDmaProfileScatterGather), so writes from buffers up there go through
-- map registers. Statistics of the driver, the chip and the machine are
-- printed.
--
-- Environment: DMALAB_FRAMES (frames each way, default 48), DMALAB_SEED (1).
local dma = require "dma"
dma.export()

local here = (arg and arg[0] or ""):match("^(.*)scenarios/[^/]*$") or "scripts/"
package.path = here .. "?.lua;" .. package.path

local e100 = require "drivers.e100_model"
local pcidrv = require "drivers.pcidrv.pcidrv"

local FRAMES = tonumber(os.getenv("DMALAB_FRAMES") or "") or 48
local SEED = tonumber(os.getenv("DMALAB_SEED") or "") or 1
local MAX_FRAME, MIN_FRAME = 1514, 60
local ADDRESS = "\x00\xAA\x00\x12\x34\x56"

math.randomseed(SEED)
local m = dma.machine { ram = { { 0, "2G" }, { "4G", "2G" } }, seed = SEED, alloc = "scattered" }
local hw = e100.new(m, { name = "e100", vector = 40, irql = 7 })
local status, Driver = pcidrv.DriverEntry(dma.driver { name = "pcidrv" }, "\\Registry\\pcidrv",
                                          { NumTcb = 8, NumRfd = 16, PermanentAddress = ADDRESS })
assert(status == STATUS_SUCCESS, "DriverEntry failed")
local Device, started = m:wdf_add_device(Driver, hw)
assert(Device and started == STATUS_SUCCESS, "the device did not start")
local fdo = WdfDeviceWdmGetDeviceObject(Device)
local FdoData = pcidrv.FdoGetData(Device)
assert(FdoData.NumTcb == 8 and FdoData.CurrNumRfd == 16)
assert(FdoData.CSRAddress and FdoData.IoBaseAddress and not FdoData.MappedPorts,
       "the CSR BAR and the I/O ports")
local buffers = {}

local function buffer(len, opts)
  local b = m:buffer(len, opts)
  buffers[#buffers + 1] = b
  return b
end

local MS = 1000000
-- Link detection (the watchdog timer's first 100 ms, from
-- EvtDeviceSelfManagedIoInit): the filter IOCTL waits on PendingIoctlQueue
-- and writes wait on PendingWriteQueue until the link is found.
local cbs = hw:stats().cbs
local filter_in = buffer(8)
filter_in:write(0, string.pack("<I4I4", pcidrv.OID_GEN_CURRENT_PACKET_FILTER,
                               pcidrv.NDIS_PACKET_TYPE_DIRECTED | pcidrv.NDIS_PACKET_TYPE_BROADCAST))
-- (with an output buffer too: NICLinkDetection takes the parked request's
-- output buffer, and without one the sample never completes it)
local filter = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = pcidrv.IOCTL_NDISPROT_SET_OID_VALUE,
                       input = filter_in, buffer = buffer(8) }
assert(IoCallDriver(fdo, filter) == STATUS_PENDING)
local early = {}
for k = 1, 4 do
  local len = 100 * k
  local w = { data = ("\xA5"):rep(len - 1) .. string.char(k) }
  w.buffer = buffer(len, { offset = 0x80 * k })
  w.buffer:write(0, w.data)
  w.irp = m:irp { major = IRP_MJ_WRITE, buffer = w.buffer }
  assert(IoCallDriver(fdo, w.irp) == STATUS_PENDING)
  early[k] = w
end
m:run_until(m.now + 50 * MS)
assert(not filter.done and FdoData.PendingIoctlQueue:stats().waiting == 1,
       "the filter did not wait for the link")
assert(FdoData.nWaitSend == 4 and #hw.transmitted == 0, "writes went out before the link was found")
m:run_until(150 * MS)
assert(filter.done and filter:result().Status == STATUS_SUCCESS, "the packet filter was refused")
assert(hw:stats().cbs == cbs + 1 + #early, "no configure command reached the chip")
for k, w in ipairs(early) do
  assert(w.irp.done and w.irp:result().Information == #w.data and hw.transmitted[k] == w.data,
         "a write held during link detection")
end

-- An OID query with its answer in the same (METHOD_BUFFERED) buffer.
local function oid_query(oid, out)
  local input = buffer(8)
  input:write(0, string.pack("<I4I4", oid, 0))
  local irp = m:irp { major = IRP_MJ_DEVICE_CONTROL, ioctl = pcidrv.IOCTL_NDISPROT_QUERY_OID_VALUE,
                      input = input, buffer = buffer(out) }
  IoCallDriver(fdo, irp)
  m:run_until(m.now + MS)
  return irp:result()
end
local r = oid_query(pcidrv.OID_802_3_CURRENT_ADDRESS, 12)
assert(r.Status == STATUS_SUCCESS and r.Information == 10 and r.output:sub(5, 10) == ADDRESS,
       "the MAC address query")
r = oid_query(pcidrv.OID_GEN_LINK_SPEED, 8)
assert(r.Status == STATUS_SUCCESS and string.unpack("<I4", r.output, 5) == 1000000, "the link speed query")
assert(hw.address == ADDRESS, "the chip's individual address (IA setup) is not the driver's")

-- A frame: a header to the adapter, a random payload.
local function frame(k, len)
  local payload = dma.pattern(len - 14, SEED * 7919 + k)
  return ADDRESS .. "\x02\x00\x00\x00\x00" .. string.char(k % 256) .. "\x08\x00" .. payload
end

-- Writes of random frames (random buffer offsets: one or two pages each,
-- below or above 4 GiB), reads parked for as many frames, the frames
-- injected meanwhile: both directions at once.
local writes, reads, injected = {}, {}, {}
for k = 1, FRAMES do
  local len = k == 1 and MIN_FRAME or k == 2 and MAX_FRAME or math.random(MIN_FRAME, MAX_FRAME)
  local w = { data = frame(k, len) }
  w.buffer = buffer(len, { offset = math.random(0, PAGE_SIZE - 1) })
  w.buffer:write(0, w.data)
  w.irp = m:irp { major = IRP_MJ_WRITE, buffer = w.buffer }
  writes[k] = w
  local rd = { buffer = buffer(MAX_FRAME, { offset = math.random(0, PAGE_SIZE - 1) }) }
  rd.buffer:fill(0xEE)
  rd.irp = m:irp { major = IRP_MJ_READ, buffer = rd.buffer }
  reads[k] = rd
end
for k = 1, FRAMES do assert(IoCallDriver(fdo, reads[k].irp) == STATUS_PENDING) end
local parked = FdoData.PendingReadQueue:stats().waiting
for k = 1, FRAMES do
  assert(IoCallDriver(fdo, writes[k].irp) == STATUS_PENDING)
  local len = k == 1 and MAX_FRAME or math.random(MIN_FRAME, MAX_FRAME)
  injected[k] = frame(1000 + k, len)
  hw:inject(injected[k])
end
local most_waiting = FdoData.nWaitSend
m:run_until(m.now + 50 * MS)

local tx_bytes, rx_bytes = 0, 0
for k = 1, FRAMES do
  local w, rd = writes[k], reads[k]
  local wr, rr = w.irp:result(), rd.irp:result()
  assert(wr and wr.Status == STATUS_SUCCESS and wr.Information == #w.data, "write " .. k .. " failed")
  assert(hw.transmitted[#early + k] == w.data, "frame " .. k .. " on the wire differs from the write")
  assert(rr and rr.Status == STATUS_SUCCESS and rr.Information == #injected[k], "read " .. k .. " failed")
  local got = rd.buffer:read()
  assert(got:sub(1, #injected[k]) == injected[k], "read " .. k .. " differs from the frame received")
  assert(got:sub(#injected[k] + 1) == ("\xEE"):rep(MAX_FRAME - #injected[k]),
         "read " .. k .. " wrote past the frame")
  tx_bytes, rx_bytes = tx_bytes + #w.data, rx_bytes + #injected[k]
end
assert(#hw.transmitted == #early + FRAMES)
for _, w in ipairs(early) do tx_bytes = tx_bytes + #w.data end
assert(FdoData.BytesTransmitted == tx_bytes and FdoData.BytesReceived == rx_bytes)
assert(most_waiting > 0, "no write waited for a TCB")
assert(FdoData.nWaitSend == 0 and FdoData.nBusySend == 0)

-- A frame with no read parked is dropped; the next read gets the next frame.
local dropped = FdoData.DroppedReceives
hw:inject(frame(5000, 100))
m:run_until(m.now + MS)
assert(FdoData.DroppedReceives == dropped + 1, "a frame with no read parked was not dropped")
local late = { buffer = buffer(MAX_FRAME) }
late.irp = m:irp { major = IRP_MJ_READ, buffer = late.buffer }
assert(IoCallDriver(fdo, late.irp) == STATUS_PENDING)
m:run_until(m.now + MS)
assert(not late.irp.done, "a read got a frame dropped before it")
local last = frame(6000, 777)
hw:inject(last)
m:run_until(m.now + MS)

-- The watchdog's hang checks (every 400 ms) read the PHY's link through the MDI.
local mdi = hw:stats().mdi
m:run_until(m.now + 1000 * MS)
assert(hw:stats().mdi >= mdi + 4, "the watchdog did not check the link")
assert(late.irp:result().Information == #last and late.buffer:read(0, #last) == last)

local chip, s = hw:stats(), m:run_stats()
local adapter = WdfDmaEnablerWdmGetDmaAdapter(FdoData.WdfDmaEnabler, WdfDmaDirectionWriteToDevice):stats()
print(("kmdf_pcidrv: %d frames written (%d bytes) and %d received (%d bytes), every byte verified; "
       .. "%d TCBs (up to %d writes waited for one), %d RFDs; 1 frame dropped with no read parked"):format(
       #early + FRAMES, tx_bytes, FRAMES + 1, rx_bytes + #last, FdoData.NumTcb, most_waiting,
       FdoData.CurrNumRfd))
print(("  chip: %d SCB commands, %d command blocks, %d frames sent, %d received, %d lost, "
       .. "%d interrupts"):format(
       chip.commands, chip.cbs, chip.tx_frames, chip.rx_frames, chip.rx_dropped, chip.interrupts))
print(("  write adapter: %d map transfers, %d bytes mapped, %d bounced (32-bit enabler, RAM above "
       .. "4 GiB)"):format(
       adapter.map_transfers, adapter.bytes_mapped, adapter.bytes_bounced))
print(("  machine: %d interrupts, %d DPCs, simulated time %.3f ms"):format(s.interrupts, s.dpcs,
                                                                          s.time / 1e6))
assert(chip.tx_errors == 0 and chip.rx_dropped == 0, "the chip lost frames")
assert(parked == FRAMES, "the reads were not parked on PendingReadQueue")

for _, b in ipairs(buffers) do b:free() end
-- SelfManagedIoSuspend stops the watchdog, SelfManagedIoCleanup deletes it: nothing stays on the clock
assert(m:wdf_remove_device(Device) == STATUS_SUCCESS)
m:run()
local leaks = m:check_leaks()
assert(#leaks == 0, leaks[1] and leaks[1].message)
assert(#m:reports() == 0, m:reports()[1] and m:reports()[1].message)
m:close()
