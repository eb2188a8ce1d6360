-- A verifier report in record mode fails the scenario unless declared; the
-- machine is closed before the end, and the report still counts.
local dma = require "dma"
local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "1G" } }, verifier = "record" }
local dev = m:device { name = "bad" }
local adapter = IoGetDmaAdapter(dev, { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE,
  ScatterGather = FALSE, Dma32BitAddresses = TRUE, MaximumLength = 65536, InterfaceType = PCIBus })
pcall(adapter.FreeMapRegisters, adapter, nil, 1)  -- at PASSIVE_LEVEL: report 0xE6/0x13
adapter:PutDmaAdapter()
m:close()
