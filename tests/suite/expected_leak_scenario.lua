-- The same leak, declared: the scenario passes.
local dma = require "dma"
local m = dma.machine { ram = { { "1M", "256K" }, { "4G", "1G" } }, verifier = "record" }
local dev = m:device { name = "leaky" }
local adapter = IoGetDmaAdapter(dev, { Version = DEVICE_DESCRIPTION_VERSION2, Master = TRUE,
  ScatterGather = FALSE, Dma64BitAddresses = TRUE, MaximumLength = 65536, InterfaceType = PCIBus })
adapter:AllocateCommonBuffer(4096, FALSE)
scenario { expect_leaks = true }
