-- The KMDF scripts under dmalab: seeds 000 (reserving DMA resources) and
-- 001 (the four phases of a bus-master KMDF driver), the PLX9x5x-style
-- driver on its chip model, the XDMA port on its IP model, and
-- random_io.lua with the KMDF drivers (kmdf_packet, kmdf_sg) with few
-- requests. Each exits 0 with nothing on stderr (no verifier
-- report, no leak) and prints the numbers pinned here. Then the chip model
-- itself (scripts/drivers/plx_model.lua), driven through its registers.
local dma = require "dma"
local support = require "support"

local run, has, count = support.run_script, support.has, support.count

describe("KMDF seed scripts", function()
  it("000: one reservation of 8 map registers serves 12 requests; FreeResources gives them back", function()
    local code, out, err = run("scripts/seeds/000_reserving_dma_resources.lua")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "(2) WdfDmaTransactionCreate")
    has(out, "(3) WdfDmaTransactionGetTransferInfo: this request needs 7 map registers; "
             .. "WdfDmaTransactionAllocateResources(8)")
    has(out, "(4) EvtReserveDma: 8 map registers and the adapter reserved")
    has(out, "(5)(6) in EvtReserveDma: initialize + execute -> 0x0; EvtProgramDma ran 1 time(s) inside "
             .. "WdfDmaTransactionExecute")
    assert.are.equal(1, count(out, "(4) EvtReserveDma"))
    assert.are.equal(11, count(out, "(8) in the request handler, the transaction reserved"))
    assert.are.equal(12, count(out, "map registers still held: 8 (machine: 8 in use)"))
    has(out, "(8) no longer needed: WdfDmaTransactionFreeResources; map registers held: 0 (machine: 0)")
    has(out, "204800 bytes written and read back in 7 transfer(s) each: every byte matches")
    has(out, "12 requests, 401412 bytes each way, 34 transfers; EvtReserveDma ran 1 time(s)")
    has(out, "adapter: 1 channel grant(s) (the reservation), 34 map transfers, 802824 bytes bounced, "
             .. "map registers high-water 8, held now 0")
    has(out, "no leaks")
  end)

  it("001: the four phases, both directions, a common buffer, every byte", function()
    local code, out, err = run("scripts/seeds/001_kmdf_bus_master.lua")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "(1) EvtDriverDeviceAdd: WdfDmaEnablerCreate -> WDFDMAENABLER")
    has(out, "WdfCommonBufferCreate: 256 bytes for 16 descriptors")
    has(out, "power-up ran the enabler's callbacks: EvtDmaEnablerFill, EvtDmaEnablerEnable, "
             .. "EvtDmaEnablerSelfManagedIoStart")
    assert.are.equal(8, count(out, "(3) EvtProgramDma:"))
    assert.are.equal(8, count(out, "(4) EvtInterruptIsr at IRQL 5"))
    assert.are.equal(6, count(out, "(the next transfer was programmed inside it)"))
    assert.are.equal(2, count(out, "(4) the transaction is complete: 204800 bytes"))
    has(out, "the medium holds all 204800 bytes")
    has(out, "the buffer holds all 204800 bytes")
    has(out, "transfers: 4 write, 4 read (fragment length 61440); interrupts 8, DPCs 8")
    has(out, "removal ran: EvtDmaEnablerSelfManagedIoStop, EvtDmaEnablerDisable, EvtDmaEnablerFlush")
    has(out, "no leaks")
  end)
end)

describe("scripts/scenarios/kmdf_plx_style.lua", function()
  it("writes and reads back 1 B .. 1 MiB with and without the fragmented MDL chain; single transfers",
     function()
    local code, out, err = run("scripts/scenarios/kmdf_plx_style.lua", "DMALAB_REQUESTS=3 DMALAB_SEED=2")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "kmdf_plx_style: 31 writes and 31 reads of 1 B .. 1 MiB")
    has(out, "kmdf_plx_style SIMULATE_MEMORY_FRAGMENTATION: 31 writes and 31 reads of 1 B .. 1 MiB")
    assert.are.equal(2, count(out, "every byte verified; 1 request past the end refused"))
    assert.are.equal(2, count(out, "0 errors"))
    has(out, "table of 17)")  -- BYTES_TO_PAGES(ROUND_TO_PAGES(64 KiB) + PAGE_SIZE)
    has(out, "table of 28)")  -- 9 MDLs of 8 KiB, 3 pages each, + 1
    -- #9: the DRIVER_OBJECT (dma.driver) is a machine object with its own id since dl_driver
    has(out, "0/0 bounced; enabler WDFDMAENABLER#9 profile=6 v3 max_length=65536 fragment=65536")
    has(out, "kmdf_plx_style RequireSingleTransfer: fragment length 65536; write status by length 1: 0x0, "
             .. "4096: 0x0, 65536: 0x0, 65537: 0xc020022b")
    -- the same requests take the same DMA operations, whatever the buffers
    local ops = {}
    for w, r in out:gmatch("EvtProgramDma (%d+) write %+ (%d+) read") do
      assert.are.equal(w, r)
      ops[#ops + 1] = w
    end
    assert.are.equal(2, #ops)
    assert.are.equal(ops[1], ops[2])
    -- more DTEs through the fragmented chain
    local dtes = {}
    for n in out:gmatch("read, (%d+) DTEs") do dtes[#dtes + 1] = tonumber(n) end
    assert.is_true(dtes[2] > dtes[1])
  end)
end)

describe("scripts/scenarios/kmdf_xdma.lua", function()
  it("moves every byte both ways through the XDMA port's engines by MSI, INTA and polling; "
     .. "the ported release's descriptor clearing fails a split transaction", function()
    local code, out, err = run("scripts/scenarios/kmdf_xdma.lua", "DMALAB_REQUESTS=4 DMALAB_SEED=3")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "kmdf_xdma MSI: 22 writes and 22 reads of 1 B .. 10240 KiB at most on 2 H2C and 2 C2H engines")
    has(out, "kmdf_xdma INTA: 15 writes and 15 reads of 1 B .. 256 KiB at most")
    has(out, "kmdf_xdma POLL_MODE=1: 18 writes and 18 reads of 1 B .. 8192 KiB at most")
    has(out, "21 INTA assertions")
    assert.are.equal(3, count(out, "every byte verified"))
    assert.are.equal(3, count(out, "0 errors"))
    assert.are.equal(3, count(out, "(at most 16 adjacent)"))    -- MRRS 512 B: 16 descriptors a fetch
    has(out, " 0 MSIs, ")                                       -- poll mode
    assert.are.equal(3, count(out, "PERF_GET 477 clocks, 256 beats"))
    assert.are.equal(3, count(out, "refused: \\bogus 0xc000000d, \\h2c_3 0xc000000d, \\bypass 0xc000000d, "
                                   .. "\\event_0 0xc000000d, (device) 0xc000000d"))
    has(out, "a write of 9 MiB: 8388608 bytes moved, then MAGIC_STOPPED; WDF_VIOLATION (0x10D, P1=0x08): "
             .. "WdfDmaTransactionRelease")
  end)
end)

local KMDF_RANDOM_IO = "scripts/scenarios/random_io.lua kmdf_packet kmdf_sg"

describe("scripts/scenarios/random_io.lua with the KMDF drivers", function()
  local function summary(out, name)
    local line = out:match(name .. ": [^\n]*")
    assert.truthy(line, out)
    local n, w, r, ok, failed = line:match("(%d+) requests %((%d+) writes, (%d+) reads%), (%d+) completed, "
                                           .. "(%d+) failed")
    return { tonumber(n), tonumber(w), tonumber(r), tonumber(ok), tonumber(failed) }
  end

  it("runs the requests through kmdf_packet and kmdf_sg, every byte checked, the same for the same seed",
     function()
    local code, out, err = run(KMDF_RANDOM_IO, "DMALAB_REQUESTS=120 DMALAB_SEED=3")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    local packet, sg = summary(out, "kmdf_packet"), summary(out, "kmdf_sg")
    assert.are.equal(120, packet[1])
    assert.are.equal(120, packet[2] + packet[3])
    assert.are.equal(120, packet[4] + packet[5])
    assert.is_true(packet[5] > 0, "the injected errors and hang fail requests")
    assert.are.same(packet, sg)  -- the same requests, the same faults
    assert.are.equal(2, count(out, "every byte verified"))
    assert.are.equal(2, count(out, "1 timeouts"))
    local hashes = {}
    for h in out:gmatch("trace hash (0x%x+)") do hashes[#hashes + 1] = h end
    assert.are.equal(2, #hashes)
    local code2, again = run(KMDF_RANDOM_IO, "DMALAB_REQUESTS=120 DMALAB_SEED=3")
    assert.are.equal(0, code2)
    local hashes2 = {}
    for h in again:gmatch("trace hash (0x%x+)") do hashes2[#hashes2 + 1] = h end
    assert.are.same(hashes, hashes2)
  end)

  it("accepts one driver by name", function()
    local code, out, err = run("scripts/scenarios/random_io.lua kmdf_sg", "DMALAB_REQUESTS=20")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "kmdf_sg: 20 requests")
    assert.falsy(out:find("kmdf_packet", 1, true))
  end)
end)

describe("the PLX 9656-style chip model", function()
  package.path = "scripts/?.lua;" .. package.path
  local plx = require "drivers.plx_model"
  local R = plx.R
  local m, hw, regs

  before_each(function()
    m = support.machine { ram = "1G", seed = 1 }
    hw = plx.new(m, { name = "plx", local_memory = "64K", bandwidth = "1G", setup_latency = "1us",
                      descriptor_latency = "100ns", vector = 41, irql = 6 })
    regs = dma.MmMapIoSpace(hw.resources.memory.start, hw.resources.memory.length, dma.MmNonCached)
  end)
  after_each(function()
    m:close()
  end)

  it("decodes byte, word and dword accesses; DMACSR reads Done after reset, Start reads 0", function()
    dma.WRITE_REGISTER_ULONG(regs + R.DMAPADR0, 0x11223344)
    assert.are.equal(0x33, dma.READ_REGISTER_UCHAR(regs + R.DMAPADR0 + 1))
    dma.WRITE_REGISTER_USHORT(regs + R.DMAPADR0 + 2, 0xAABB)
    assert.are.equal(0xAABB3344, dma.READ_REGISTER_ULONG(regs + R.DMAPADR0))
    assert.are.equal(R.CSR_DONE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR0))
    assert.are.equal(R.CSR_DONE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR1))
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR1, R.CSR_ENABLE)   -- channel 1 only
    assert.are.equal(R.CSR_DONE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR0))
    assert.are.equal(R.CSR_DONE | R.CSR_ENABLE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR1))
    assert.are.equal((R.CSR_DONE | R.CSR_ENABLE) << 8 | R.CSR_DONE,
                     dma.READ_REGISTER_USHORT(regs + R.DMACSR0))
  end)

  -- A common buffer of an adapter: memory the chip may reach, va and logical.
  local function shared(len)
    local a = support.adapter(m, "sg64", 64 * 1024)
    local va, logical = a:AllocateCommonBuffer(len, false)
    return { va = va, logical = logical, free = function()
      a:FreeCommonBuffer(len, logical, va, false)
      a:PutDmaAdapter()
    end }
  end

  it("block mode: moves the bytes after setup + size / bandwidth, interrupts, Clear ends it", function()
    local b = shared(4096)
    m:write(b.va, dma.pattern(4096, 5))
    dma.WRITE_REGISTER_ULONG(regs + R.DMAMODE0, R.DONE_INT_ENABLE | R.INT_TO_PCI)
    dma.WRITE_REGISTER_ULONG(regs + R.INTCSR, R.PCI_INT_ENABLE | R.DMA0_INT_ENABLE)
    dma.WRITE_REGISTER_ULONG(regs + R.DMAPADR0, b.logical & 0xFFFFFFFF)
    dma.WRITE_REGISTER_ULONG(regs + R.DMADAC0, b.logical >> 32)
    dma.WRITE_REGISTER_ULONG(regs + R.DMALADR0, 100)
    dma.WRITE_REGISTER_ULONG(regs + R.DMASIZ0, 4096)
    dma.WRITE_REGISTER_ULONG(regs + R.DMADPR0, 0)               -- PCI -> local
    local start = m.now
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR0, R.CSR_ENABLE | R.CSR_START)
    assert.is_true(hw:busy(0))
    assert.are.equal(R.CSR_ENABLE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR0))
    local took = 1000 + 4096 * 1000000000 // (1 << 30)
    m:run_until(start + took - 1)
    assert.is_true(hw:busy(0))
    m:run_until(start + took)
    assert.is_false(hw:busy(0))
    assert.is_true(hw:local_read(100, 4096) == dma.pattern(4096, 5))
    assert.are.equal(R.CSR_ENABLE | R.CSR_DONE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR0))
    assert.is_true(dma.READ_REGISTER_ULONG(regs + R.INTCSR) & R.DMA0_INT_ACTIVE ~= 0)
    assert.is_true(hw.model.interrupt_asserted)
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR0, R.CSR_ENABLE | R.CSR_CLEAR)
    assert.is_false(hw.model.interrupt_asserted)
    assert.are.equal(0, dma.READ_REGISTER_ULONG(regs + R.INTCSR) & R.DMA0_INT_ACTIVE)
    local s = hw:stats()
    assert.are.same({ 1, 1, 4096, 1, 1 }, { s.starts, s.block_transfers, s.bytes_to_device, s.interrupts,
                                            s.clears })
    b.free()
  end)

  it("S/G mode: follows the chain, zeroes the sizes in clear-count mode, aborts and resets", function()
    local data = dma.pattern(3000, 9)
    hw:local_write(1000, data)
    local dst, chain = shared(8192), shared(4096)
    local d1 = string.pack("<I4I4I4I4I4I4I4I4", (dst.logical + 100) & 0xFFFFFFFF, 1000, 1000,
                           R.DESC_PCI | R.TO_PCI | ((chain.logical + 32) & R.DESC_ADDRESS_MASK),
                           (dst.logical + 100) >> 32, 0, 0, 0)
    local d2 = string.pack("<I4I4I4I4I4I4I4I4", (dst.logical + 5000) & 0xFFFFFFFF, 2000, 2000,
                           R.DESC_PCI | R.TO_PCI | R.END_OF_CHAIN, (dst.logical + 5000) >> 32, 0, 0, 0)
    m:write(chain.va, d1 .. d2)
    dma.WRITE_REGISTER_ULONG(regs + R.DMAMODE1, R.SG_MODE | R.DONE_INT_ENABLE | R.INT_TO_PCI
                                                 | R.DAC_CHAIN_LOAD | R.CLEAR_COUNT_MODE)
    dma.WRITE_REGISTER_ULONG(regs + R.DMADPRHI1, chain.logical >> 32)
    dma.WRITE_REGISTER_ULONG(regs + R.DMADPR1, R.DESC_PCI | (chain.logical & R.DESC_ADDRESS_MASK))
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR1, R.CSR_ENABLE | R.CSR_START)
    m:run()
    assert.is_true(m:read(dst.va + 100, 1000) == data:sub(1, 1000))
    assert.is_true(m:read(dst.va + 5000, 2000) == data:sub(1001, 3000))
    assert.are.equal(0, (string.unpack("<I4", m:read(chain.va + 8, 4))))
    assert.are.equal(0, (string.unpack("<I4", m:read(chain.va + 32 + 8, 4))))
    assert.are.same({ 2, 3000 }, { hw:stats().descriptors, hw:stats().bytes_from_device })
    assert.is_false(hw.model.interrupt_asserted)                -- INTCSR's enables are off
    assert.is_true(dma.READ_REGISTER_ULONG(regs + R.INTCSR) & R.DMA1_INT_ACTIVE ~= 0)
    -- an abort: the channel is done at once, the descriptor in progress moves nothing
    m:write(chain.va, d1 .. d2)
    m:write(dst.va, ("\0"):rep(8192))
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR1, R.CSR_ENABLE | R.CSR_START | R.CSR_CLEAR)
    m:run_until(m.now + 500)
    dma.WRITE_REGISTER_UCHAR(regs + R.DMACSR1, R.CSR_ENABLE | R.CSR_ABORT)
    assert.is_false(hw:busy(1))
    m:run()
    assert.is_true(m:read(dst.va, 8192) == ("\0"):rep(8192))
    assert.are.equal(1, hw:stats().aborts)
    -- a software reset: registers back to their power-on values
    dma.WRITE_REGISTER_ULONG(regs + R.CNTRL, R.SOFTWARE_RESET)
    dma.WRITE_REGISTER_ULONG(regs + R.CNTRL, 0)
    assert.are.equal(0, dma.READ_REGISTER_ULONG(regs + R.DMAMODE1))
    assert.are.equal(0, dma.READ_REGISTER_ULONG(regs + R.INTCSR))
    assert.are.equal(R.CSR_DONE, dma.READ_REGISTER_UCHAR(regs + R.DMACSR1))
    dst.free()
    chain.free()
  end)
end)
