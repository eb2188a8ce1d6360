-- pcidrv/routines.lua: HW/routines.c of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf/HW/routines.c):
-- the SCB handshake (WaitScb), the PHY's MDI reads, the selective and full
-- resets and the submission of a non-transmit command block.
-- Left out: MdiWrite and the PHY set-up (ResetPhy, PhyDetect, ScanAndSetupPhy,
-- SelectPhy, SetupPhy, FindPhySpeedAndDpx), the EEPROM (eeprom.c) and
-- DumpStatsCounters: PHY and EEPROM details are no part of the data path.
local dma = require "dma"
dma.export()

local here = ((...) or "drivers.pcidrv."):match("^(.-)[^.]*$")
local P = require(here .. "nic_def")
local CSR = P.CSR

-- WaitScb: the chip took the last SCB command (ScbCommandLow reads 0 within 600 ms).
function P.WaitScb(FdoData)
  local csr = CSR(FdoData)
  local bResult = P.MP_STALL_AND_WAIT(function() return csr.ScbCommandLow == 0 end, 600)
  if not bResult then P.MP_SET_HARDWARE_ERROR(FdoData) end
  return bResult
end

-- MdiRead: a PHY register through the MDI control register.
function P.MdiRead(FdoData, RegAddress, PhyAddress, Recoverable)
  local csr = CSR(FdoData)
  csr.MDIControl = (RegAddress << 16) | (PhyAddress << 21) | (P.MDI_READ << 26)
  KeStallExecutionProcessor(20)
  local bResult = P.MP_STALL_AND_WAIT(function() return csr.MDIControl & P.MDI_PHY_READY ~= 0 end, 2000)
  if not bResult then
    if not Recoverable then P.MP_SET_FLAG(FdoData, P.fMP_ADAPTER_NON_RECOVER_ERROR) end
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return false
  end
  return true, csr.MDIControl & 0xFFFF
end

-- NICIssueSelectiveReset: the CU and RU stop (PORT selective reset).
function P.NICIssueSelectiveReset(FdoData)
  local csr = CSR(FdoData)
  if not P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_HARDWARE_ERROR) then P.WaitScb(FdoData) end
  if not FdoData.TransmitIdle then
    local function cu_not_active() return csr.ScbStatus & P.SCB_CUS_MASK ~= P.SCB_CUS_ACTIVE end
    if not P.MP_STALL_AND_WAIT(cu_not_active, 2000) then
      P.MP_SET_HARDWARE_ERROR(FdoData)
    end
    if csr.ScbStatus & P.SCB_RUS_MASK ~= P.SCB_RUS_IDLE then
      P.D100IssueScbCommand(FdoData, P.SCB_RUC_ABORT, true)
    end
    csr.Port = P.PORT_SELECTIVE_RESET
    KeStallExecutionProcessor(P.NIC_DELAY_POST_RESET)
    if not P.MP_STALL_AND_WAIT(function() return csr.Port == 0 end, 2) then
      P.MP_SET_HARDWARE_ERROR(FdoData)
    end
    P.NICDisableInterrupt(FdoData)
    FdoData.TransmitIdle = true
    FdoData.ResumeWait = true
  end
end

-- NICIssueFullReset: a selective reset, then the software reset.
function P.NICIssueFullReset(FdoData)
  local csr = CSR(FdoData)
  P.NICIssueSelectiveReset(FdoData)
  csr.Port = P.PORT_SOFTWARE_RESET
  if not P.MP_STALL_AND_WAIT(function() return csr.Port == 0 end, 2) then
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return
  end
  P.NICDisableInterrupt(FdoData)
end

-- D100SubmitCommandBlockAndWait: the non-transmit command block (NonTxCmdBlock)
-- at the general pointer, run to completion.
function P.D100SubmitCommandBlockAndWait(FdoData)
  local csr = CSR(FdoData)
  local header = P.CB_HEADER_STRUC:at(FdoData.Machine, FdoData.NonTxCmdBlock)
  header.CbCommand = header.CbCommand | P.CB_EL_BIT
  header.CbStatus = 0
  P.D100IssueScbCommand(FdoData, P.SCB_CUC_START, false)
  if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  if not P.MP_STALL_AND_WAIT(function() return header.CbStatus & P.CB_STATUS_COMPLETE ~= 0 end, 3000) then
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return STATUS_DEVICE_DATA_ERROR
  end
  if csr.ScbStatus & P.SCB_ACK_MASK ~= 0 then csr.ScbStatus = csr.ScbStatus & P.SCB_ACK_MASK end
  if header.CbStatus & P.CB_STATUS_OK == 0 then
    P.MP_SET_HARDWARE_ERROR(FdoData)
    return STATUS_DEVICE_DATA_ERROR
  end
  return STATUS_SUCCESS
end

-- GetMediaState: the PHY's link status (read twice: the bit latches low).
function P.GetMediaState(FdoData)
  local ok1 = P.MdiRead(FdoData, P.MDI_STATUS_REG, FdoData.PhyAddress, true)
  local ok2, MdiStatusReg = P.MdiRead(FdoData, P.MDI_STATUS_REG, FdoData.PhyAddress, true)
  if not ok1 or not ok2 then return FdoData.MediaState end
  return MdiStatusReg & P.MDI_SR_LINK_STATUS ~= 0 and P.Connected or P.Disconnected
end

return P
