-- The seed scripts (scripts/seeds/) run under dmalab: they exit 0, leave
-- nothing on stderr (no verifier report, no leak), and print the numbers of
-- their pages. tests/run.sh runs them too; this pins what they print.
local support = require "support"

local run, has = support.run_script, support.has

describe("seed scripts", function()
  it("002: packet-based bus-master DMA moves 200 KiB both ways through 16 map registers", function()
    local code, out, err = run("scripts/seeds/002_packet_bus_master.lua")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "NumberOfMapRegisters = 16 (MaximumLength 65536 -> BYTES_TO_PAGES + 1 = 17, capped)")
    has(out, "buffer: 204800 bytes at 0xa0000000234 (byte offset 0x234), spans 51 pages")
    has(out, "write transfer 1: CurrentVa 0xa0000000234 Length  64972 spans 16 pages")
    has(out, "write transfer 4: CurrentVa 0xa0000030000 Length   8756 spans  3 pages")
    has(out, "read  transfer 4: CurrentVa 0xa0000030000 Length   8756 spans  3 pages")
    has(out, "IRP_MJ_WRITE: 4 transfers, 204800 bytes, the medium holds the pattern")
    has(out, "IRP_MJ_READ: 4 transfers, 204800 bytes, the buffer holds the pattern")
    has(out, "transfers: 4 write, 4 read (51 pages spanned, 16 map registers per transfer)")
    has(out, "map registers used: 16 (high water) of 16")
    has(out, "bytes bounced: 409600 (mapped 409600)")
    has(out, "simulated time: 425600 ns")
    has(out, "all 204800 bytes match (write and read)")
    -- a real WDM driver: IRPs through IoCallDriver and StartIo, the device's
    -- interrupts through the ISR and DpcForIsr, one of each per transfer
    has(out, "I/O: 2 IRPs through IoCallDriver and StartIo, 8 interrupts, 8 DpcForIsr runs")
    has(out, "IRP_MJ_WRITE: 4 transfers, 204800 bytes, the medium holds the pattern, done at 212800 ns")
  end)

  it("004: 12 map registers needed, 5 available -> 3 transfers; the AT disk limit -> 8", function()
    local code, out, err = run("scripts/seeds/004_splitting.lua")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    has(out, "MaximumLength 16384 -> NumberOfMapRegisters 5")
    has(out, "ADDRESS_AND_SIZE_TO_SPAN_PAGES = 12 > 5")
    has(out, "dma.split_transfer: 3 transfers")
    has(out, "1: CurrentVa 0xa0000000100  Length   20224  map registers   5")
    has(out, "2: CurrentVa 0xa0000005000  Length   20480  map registers   5")
    has(out, "3: CurrentVa 0xa000000a000  Length    4352  map registers   2")
    has(out, "performed: write 3 transfers, read 3 transfers (MapTransfer 6, FlushAdapterBuffers 6, "
             .. "map registers high water 5); all 45056 bytes match")
    has(out, "256 sectors of 512 bytes = 131072 bytes a transfer")
    has(out, "map registers alone allow 1 transfer")
    has(out, "dma.split_transfer with max_bytes = 131072: 8 transfers")
    has(out, "performed: write 8 transfers")
    has(out, "partial IRP 8: MDL 0xa00000ed200  Length 131072  -> 1 transfer")
    has(out, "performed: 8 partial IRPs of one transfer each; all 1048576 bytes match")
    has(out, "simulated time: 2231264 ns")
    -- 2 + 1 + 8 IRPs through IoCallDriver; 3 + 3 + 8 + 8 transfers, each an interrupt and a
    -- DPC; a request for part of a sector fails in the disk driver's dispatch routine
    has(out, "I/O: 11 IRPs through IoCallDriver and StartIo, 22 interrupts, 22 DpcForIsr runs; "
             .. "1 failed in dispatch")
    local transfers = 0
    for _ in out:gmatch("\n    %d: CurrentVa") do transfers = transfers + 1 end
    assert.are.equal(3 + 8, transfers)
  end)
end)
