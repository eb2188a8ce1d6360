-- The XDMA IP model (scripts/drivers/xdma/model.lua) driven through its
-- registers, without the driver: the config BAR's identifiers, an H2C and a
-- C2H descriptor chain fetched in adjacent blocks, the status and its
-- read-to-clear view, the channel interrupt, poll mode's writeback, and the
-- stops a bad chain gets (a wrong magic, a block across 4 KiB, a next
-- pointer that leaves the block).
local dma = require "dma"
local support = require "support"
dma.export()

package.path = "scripts/?.lua;" .. package.path
local model = require "drivers.xdma.model"
local R = model.R

local DESC = dma.struct { { "control", "ULONG" }, { "numBytes", "ULONG" }, { "srcAddrLo", "ULONG" },
                          { "srcAddrHi", "ULONG" }, { "dstAddrLo", "ULONG" }, { "dstAddrHi", "ULONG" },
                          { "nextLo", "ULONG" }, { "nextHi", "ULONG" } }

describe("the XDMA IP model", function()
  local m, hw, cfg
  before_each(function()
    m = support.machine { ram = "1G" }
    hw = model.new(m, { name = "xdma", h2c_channels = 1, c2h_channels = 1, card_memory = "1M" })
    local bar = hw.resources.bars[2]
    cfg = MmMapIoSpace(bar.start, bar.length, MmNonCached)
  end)
  after_each(function()
    MmUnmapIoSpace(cfg, R.CONFIG_BAR_SIZE)
    m:close()
  end)

  -- A common buffer of an adapter: memory the IP may reach, va and logical.
  local function shared(len)
    local a = support.adapter(m, "sg64", 64 * 1024)
    local va, logical = a:AllocateCommonBuffer(len, false)
    return { va = va, logical = logical,
             read = function(_, at, n) return m:read(va + (at or 0), n or len - (at or 0)) end,
             write = function(_, at, bytes) m:write(va + at, bytes) end,
             free = function()
               a:FreeCommonBuffer(len, logical, va, false)
               a:PutDmaAdapter()
             end }
  end

  local function rd(o) return READ_REGISTER_ULONG(cfg + o) end
  local function wr(o, v) WRITE_REGISTER_ULONG(cfg + o, v) end

  -- A chain of descriptors at `offset` in common buffer b: one per
  -- { n, src, dst }, linked in order by logical address, the last with
  -- STOP | COMPLETED.
  local function chain(b, offset, pieces)
    local ring = DESC:array(m, b.va + offset, #pieces)
    local at = b.logical + offset
    for i, p in ipairs(pieces) do
      local d = ring[i - 1]
      local last = i == #pieces
      d.control = R.DESC_MAGIC << 16 | (last and (R.DESC_STOP | R.DESC_COMPLETED) or 0)
      d.numBytes, d.srcAddrLo, d.srcAddrHi = p[1], p[2] & 0xFFFFFFFF, p[2] >> 32
      d.dstAddrLo, d.dstAddrHi = p[3] & 0xFFFFFFFF, p[3] >> 32
      local next = last and 0 or at + i * DESC.size
      d.nextLo, d.nextHi = next & 0xFFFFFFFF, next >> 32
    end
  end

  -- Runs engine `dir` (0 H2C, 1 C2H) channel 0 on the chain at logical
  -- address `first` with firstDescAdj `adj`; returns the status read to clear.
  local function go(dir, first, adj)
    local e, sg = dir * R.BLOCK, R.SGDMA_BLOCK + dir * R.BLOCK
    wr(sg + R.firstDescLo, first & 0xFFFFFFFF)
    wr(sg + R.firstDescHi, first >> 32)
    wr(sg + R.firstDescAdj, adj or 0)
    wr(e + R.controlW1S, R.RUN)
    m:run()
    wr(e + R.controlW1C, R.RUN)
    return rd(e + R.statusRC)
  end

  it("answers the driver's probes with the XDMA identifiers", function()
    assert.are.equal(0x1FC20006, rd(R.IRQ_BLOCK))
    assert.are.equal(0x1FC30006, rd(R.CONFIG_BLOCK))
    assert.are.equal(0x1FC00006, rd(0))                       -- H2C 0
    assert.are.equal(0x1FC10006, rd(R.BLOCK))                 -- C2H 0
    assert.are.equal(0, rd(R.ENGINE))                          -- no H2C 1
    assert.are.equal(0x1FC50006, rd(R.SGDMA_BLOCK + R.BLOCK))
    assert.are.equal(2, rd(R.CONFIG_BLOCK + R.pcieMRRS))
  end)

  it("moves a chain both ways in adjacent blocks, counts it and interrupts once enabled", function()
    local b = shared(8 * 4096)                       -- descriptors in page 0, data in 1..3, 4..6
    local data = dma.pattern(3 * 4096, 9)
    b:write(4096, data)
    local src, back = b.logical + 4096, b.logical + 4 * 4096
    chain(b, 0, { { 4096, src, 0x100 }, { 4096, src + 4096, 0x1100 }, { 4096, src + 8192, 0x2100 } })
    wr(R.intEnableMask, R.DESCRIPTOR_STOPPED | R.DESCRIPTOR_COMPLETED)
    wr(R.IRQ_BLOCK + R.channelIntEnable, 1)
    assert.are.equal(R.DESCRIPTOR_STOPPED | R.DESCRIPTOR_COMPLETED, go(0, b.logical, 2))
    assert.are.equal(3, rd(R.completedDescCount))
    assert.are.equal(0, rd(R.status))                          -- cleared by the read of statusRC
    assert.are.equal(1, hw:stats().messages)                   -- the MSI
    assert.are.equal(data, hw:card_read(0x100, 3 * 4096))
    local s = hw:stats()
    assert.are.same({ 1, 3, 3 }, { s.fetches, s.max_block, s.descriptors })
    chain(b, 0, { { 3 * 4096, 0x100, back } })
    assert.are.equal(R.DESCRIPTOR_STOPPED | R.DESCRIPTOR_COMPLETED, go(1, b.logical))
    assert.are.equal(data, b:read(4 * 4096, 3 * 4096))
    assert.are.equal(1, hw:stats().messages)                   -- C2H's channel bit was not enabled
    b.free()
  end)

  it("writes the completed count back in poll mode", function()
    local b = shared(4096)                           -- descriptors at 0, write-back at 0x800, data at 0xC00
    chain(b, 0, { { 32, b.logical + 0xC00, 0 }, { 32, b.logical + 0xC20, 32 } })
    wr(R.pollModeWbLo, (b.logical + 0x800) & 0xFFFFFFFF)
    wr(R.pollModeWbHi, (b.logical + 0x800) >> 32)
    wr(R.controlW1S, R.POLL_MODE)
    go(0, b.logical)
    assert.are.equal(2, m:read_u32(b.va + 0x800))
    assert.are.equal(2, hw:stats().writebacks)
    b.free()
  end)

  it("stops on a wrong magic, a block across 4 KiB and a next pointer outside the block", function()
    local b = shared(2 * 4096)
    local src = b.logical + 4096 + 0x800
    chain(b, 0, { { 8, src, 0 } })
    DESC:at(m, b.va).control = 0x12340000 | R.DESC_STOP
    assert.are.equal(R.MAGIC_STOPPED, go(0, b.logical))
    local near_end = 4096 - DESC.size
    chain(b, near_end, { { 8, src, 0 }, { 8, src, 8 } })
    assert.are.equal(R.FETCH_STOPPED, go(0, b.logical + near_end, 1))   -- two descriptors across the page
    chain(b, 0, { { 8, src, 0 }, { 8, src, 8 }, { 8, src, 16 } })
    DESC:at(m, b.va).nextLo = (b.logical + 2 * DESC.size) & 0xFFFFFFFF
    assert.are.equal(R.FETCH_STOPPED, go(0, b.logical, 2))              -- skips the block's second
    assert.are.equal(3, hw:stats().errors)
    b.free()
  end)
end)
