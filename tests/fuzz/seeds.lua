-- Writes the API fuzzer's seed corpus (tests/fuzz/corpus/): short programs
-- that reach the deep states of the engine (a channel granted and mapped,
-- an S/G list waiting for registers, a KMDF transaction in each state, an
-- interrupt and its DPC, a machine closed from a callback), for libFuzzer
-- to mutate. `dmalab tests/fuzz/seeds.lua` rewrites them; a step's name
-- stands for its opcode (numbered by driver.lua's op(...) order), numbers
-- are operand bytes (see each op in driver.lua for what it reads).
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local OP, n = {}, 0
for line in io.lines(dir .. "/driver.lua") do
  local name = line:match('^op%("([%w_]+)"')
  if name then
    OP[name] = n
    n = n + 1
  end
end

local function program(t)
  local out = {}
  for _, v in ipairs(t) do
    if type(v) == "string" then
      out[#out + 1] = string.char((assert(OP[v], v)))
    elseif type(v) == "table" then
      for _, b in ipairs(v) do out[#out + 1] = string.char(b) end
    else
      out[#out + 1] = string.char(v)
    end
  end
  return table.concat(out)
end

-- Operand groups used below.
local FIRST = { 0, 0 }             -- pick: the first object of the kind
local function nth(i) return { 0, i } end
local MACHINE = { 1, 0, 0, 1, 1 }  -- record, 1 CPU, 64M, no trace, default registers
local SMALL_MR = { 1, 0, 0, 1, 0, 3 }  -- record, 3 map registers
local PACKET = { 1, 1, 1, 1 }      -- packet, master, 32-bit, 64 KiB
local SG = { 0, 1, 1, 1 }
local BUF8K = { 112, 0, 0, 0, 0, 1 }   -- 8193 bytes, built
local BUF64K = { 208, 0, 0, 0, 1 }  -- num() edge 65536 (+1)
local RET_KEEP_REGS, RET_KEEP, RET_RAISE, RET_TRUE, RET_SUCCESS = 10, 8, 1, 11, 5

local seeds = {
  wdm_packet = program {
    MACHINE, "device", FIRST, 0, "adapter", FIRST, PACKET, "buffer_mdl", FIRST, BUF8K,
    "KeRaiseIrql", 0,
    "AllocateAdapterChannel", FIRST, FIRST, 1, 1, RET_KEEP_REGS, 0,
    "MapTransfer", FIRST, FIRST, nth(1), 112, 0, 1,
    "FlushAdapterBuffers", FIRST, FIRST, nth(1), 112, 0, 1,
    "FreeMapRegisters", FIRST, nth(1), 1,
    "KeLowerIrql", 0, "run", FIRST, "close", FIRST,
  },
  wdm_sg_wait = program {
    SMALL_MR, "device", FIRST, 0, "adapter", FIRST, SG, "buffer_mdl", FIRST, BUF64K,
    "buffer_mdl", FIRST, BUF64K, "KeRaiseIrql", 0,
    "GetScatterGatherList", FIRST, FIRST, FIRST, 0, 0, 0, 0, 0, 0,
    "GetScatterGatherList", FIRST, nth(1), FIRST, 0, 0, 0, 0, 0, 1,
    "IoFreeMdl", nth(1), "PutScatterGatherList", FIRST, nth(1), 0, "close", FIRST,
  },
  dpc_timer = program {
    MACHINE, "KeInitializeDpc", 2, 0, 0, 0, "KeInitializeTimer",
    "KeSetTimerEx", FIRST, 120, 0, 1, FIRST,
    "KeInsertQueueDpc", FIRST, 0, 0,
    "after", FIRST, 20, 1, RET_RAISE,
    "close", FIRST, "run", FIRST, "run", FIRST,
  },
  two_machines = program {
    MACHINE, "machine", MACHINE, "device", FIRST, 0, "select", nth(1), "device", nth(1), 0,
    "adapter", nth(1), PACKET, "KeRaiseIrql", 0,
    "AllocateAdapterChannel", FIRST, FIRST, 1, 0, RET_KEEP, 0,
    "AllocateAdapterChannel", FIRST, nth(1), 1, 0, RET_KEEP, 0,
    "close", FIRST, "FreeAdapterChannel", FIRST, "drop", nth(1), "collect",
  },
  interrupt = program {
    MACHINE, "device_model", FIRST, 0, 0, 0, 0, 0,
    "IoConnectInterrupt", 1, RET_KEEP, 0, 0, 0,
    "KeInitializeDpc", 0, 0, 0,
    "raise_interrupt", FIRST, "run", FIRST,
    "KeSynchronizeExecution", FIRST, 1, 4, 0, "close", FIRST,
  },
  kmdf_packet = program {
    MACHINE, "device_model", FIRST, 0, 0, 0, 0, 0,
    "wdf_add_device", FIRST, 0, 0, FIRST, 0,
    "WdfDmaEnablerCreate", 0, 1, 0, 0, 0, FIRST,
    "WdfDmaTransactionCreate", 0, 0, 0, 0, 1, FIRST,
    "buffer_mdl", FIRST, BUF64K, "buffer_mdl", FIRST, BUF8K,
    "WdfDmaTransactionInitialize", FIRST, FIRST, 0, RET_TRUE, 0, 0, 0,
    "WdfDmaTransactionExecute", FIRST, 0,
    "WdfDmaTransactionDmaCompleted", FIRST, "WdfDmaTransactionDmaCompleted", FIRST,
    "WdfDmaTransactionRelease", FIRST,
    "wdf_remove_device", FIRST, FIRST, "close", FIRST,
  },
  kmdf_power = program {  -- PnP/power callbacks, enabler power callbacks, cleanups; D3, D0, remove
    MACHINE, "device_model", FIRST, 0, 0, 0, 0, 0,
    "wdf_add_device", FIRST, 0, 0, FIRST, 3,
    0, RET_SUCCESS, 0, RET_SUCCESS, 0, RET_SUCCESS, 0, RET_SUCCESS, 0, 0,
    "WdfDmaEnablerCreate", 0, 1, 1,
    0, RET_SUCCESS, 0, RET_SUCCESS, 0, RET_SUCCESS, 1, RET_SUCCESS, 0, RET_SUCCESS, 0, RET_SUCCESS,
    0, 0, FIRST,
    "wdf_set_power", FIRST, FIRST, 1, "wdf_set_power", FIRST, FIRST, 0,
    "wdf_remove_device", FIRST, FIRST, "close", FIRST,
  },
  kmdf_exhausted = program {  -- the issue's class 3: executed while registers are short
    SMALL_MR, "device_model", FIRST, 0, 0, 0, 0, 0,
    "wdf_add_device", FIRST, 0, 0, FIRST, 0,
    "WdfDmaEnablerCreate", 0, 1, 0, 0, 0, FIRST,
    "WdfDmaTransactionCreate", 0, 0, 0, 0, 1, FIRST,
    "WdfDmaTransactionCreate", 0, 0, 0, 0, 1, FIRST,
    "buffer_mdl", FIRST, BUF64K,
    "WdfDmaTransactionInitialize", FIRST, FIRST, 0, RET_TRUE, 0, 0, 0,
    "WdfDmaTransactionInitialize", FIRST, nth(1), 0, RET_TRUE, 0, 0, 0,
    "WdfDmaTransactionExecute", FIRST, 0, "WdfDmaTransactionExecute", nth(1), 0,
    "WdfDmaTransactionDmaCompletedFinal", nth(1), 0, "WdfDmaTransactionRelease", nth(1),
    "WdfDmaTransactionDmaCompleted", FIRST, "run", FIRST, "close", FIRST,
  },
}

local names = {}
for name in pairs(seeds) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local f = assert(io.open(dir .. "/corpus/" .. name, "wb"))
  f:write(seeds[name])
  f:close()
end
print(#names .. " seeds written to " .. dir .. "/corpus")
