-- pcidrv/nic_def.lua: the definitions of the WDK's PCIDRV KMDF sample
-- (microsoft/Windows-driver-samples, general/pcidrv/kmdf: HW/nic_def.h,
-- HW/e100_557.h, HW/e100_equ.h, HW/macros.h, HW/nuiouser.h, PCIDRV.H),
-- ported to Lua: the constants, the hardware structures the driver shares
-- with the 8255x through common buffers (declared once with dma.struct and
-- read and written where they lie, as the C code does), the CSR accessor,
-- the inline helpers of macros.h and the flag macros.
--
-- Every module of the port fills the one table this module returns (the C
-- files' shared namespace): P.NICInitSendBuffers, P.WaitScb, ...
--
-- Where the C and this port differ, and why:
--   * The C driver dereferences CSRAddress (a volatile CSR_STRUC over the
--     mapped BAR): `FdoData->CSRAddress->ScbStatus`. Here P.CSR(FdoData)
--     is a view whose fields read and write the register with
--     READ_REGISTER_* / WRITE_REGISTER_* of the field's size at its offset.
--   * MP_TCB and MP_RFD hold framework handles (WDFDMATRANSACTION,
--     WDFCOMMONBUFFER, WDFMEMORY, the MDL): they are Lua tables, kept in
--     the memory the driver allocates for them (MpTcbMem from pool, each
--     MP_RFD in its lookaside buffer) by that memory's address.
--   * LIST_ENTRY lists (RecvList) are Lua arrays with the list macros'
--     names (InsertTailList, RemoveEntryList, GetListHeadEntry, ...).
--   * TBD_STRUC's bit fields (TbdCount:14, EndOfList:1) are one ULONG
--     written through TBD_SET_COUNT, which keeps the other bits as the C
--     bit-field assignment does.
local dma = require "dma"
dma.export()

local P = {}

local function BIT(n) return 1 << n end

-- ---- e100_557.h / e100_equ.h --------------------------------------------------------
P.E100_82559_A_STEP = 6
P.PORT_SOFTWARE_RESET, P.PORT_SELFTEST, P.PORT_SELECTIVE_RESET = 0, 1, 2
P.SCB_ACK_MASK = BIT(9) | 0xF000 | BIT(8)
P.SCB_ALL_INTERRUPT_BITS = 0xFF00
P.SCB_CUS_MASK, P.SCB_CUS_IDLE, P.SCB_CUS_SUSPEND, P.SCB_CUS_ACTIVE = 0xC0, 0, BIT(6), BIT(7)
P.SCB_RUS_MASK, P.SCB_RUS_IDLE, P.SCB_RUS_READY = 0x3C, 0, BIT(4)
P.SCB_CUC_START, P.SCB_CUC_RESUME, P.SCB_CUC_DUMP_ADDR = BIT(4), BIT(5), BIT(6)
P.SCB_CUC_LOAD_BASE, P.SCB_CUC_DUMP_RST_STAT = BIT(5) | BIT(6), 0x70
P.SCB_RUC_START, P.SCB_RUC_ABORT, P.SCB_RUC_LOAD_BASE = BIT(0), BIT(2), BIT(1) | BIT(2)
P.SCB_INT_MASK = BIT(0)
P.CB_IA_ADDRESS, P.CB_CONFIGURE, P.CB_MULTICAST, P.CB_TRANSMIT = 1, 2, 3, 4
P.CB_EL_BIT, P.CB_S_BIT, P.CB_TX_SF_BIT, P.CB_CMD_MASK = BIT(15), BIT(14), BIT(3), 0x7
P.CB_STATUS_COMPLETE, P.CB_STATUS_OK = BIT(15), BIT(13)
P.RFD_STATUS_OK, P.RFD_STATUS_COMPLETE, P.RFD_EL_BIT = BIT(13), BIT(15), BIT(15)
P.RFD_EOF_BIT, P.RFD_F_BIT, P.RFD_ACT_COUNT_MASK = BIT(15), BIT(14), 0x3FFF
P.MDI_READ, P.MDI_PHY_READY, P.MDI_STATUS_REG, P.MDI_SR_LINK_STATUS = 2, BIT(28), 1, BIT(2)
P.CB_CFIG_BYTE_COUNT = 22
P.CB_CFIG_PROMISCUOUS, P.CB_CFIG_BROADCAST_DIS, P.CB_CFIG_CRS_OR_CDT = BIT(0), BIT(1), BIT(7)
P.CB_CFIG_503_MII, P.CB_CFIG_B3_MWI_ENABLE, P.CB_CFIG_MULTICAST_ALL = BIT(0), BIT(0), BIT(3)
P.CB_CFIG_URUN_RETRY, P.CB_CFIG_FORCE_FDX, P.CB_CFIG_FDX_ENABLE = BIT(1) | BIT(2), BIT(6), BIT(7)
-- CB_557_CFIG_DEFAULT_PARM0..21
P.CFIG_DEFAULT = { [0] = 22, 0x88, 0x00, 0x00, 0x00, 0x00, 0x32, 0x01, 0x01, 0, 0x2e, 0x00, 0x60, 0x00, 0xf2,
                   0xea, 0x00, 0x40, 0xf2, 0x80, 0x3f, 0x05 }
P.DEFAULT_TX_FIFO_LIMIT, P.DEFAULT_RX_FIFO_LIMIT, P.DEFAULT_UNDERRUN_RETRY = 0x08, 0x08, 0x01
P.DRIVER_NULL = 0xFFFFFFFF
P.ETH_LENGTH_OF_ADDRESS = 6
P.MIN_NUM_RFD = 4

-- ---- nic_def.h --------------------------------------------------------------------------
P.NIC_MAX_PACKET_SIZE = 1514
P.NIC_DEF_TCBS, P.NIC_MAX_TCBS, P.NIC_MAX_PHYS_BUF_COUNT = 32, 64, 8
P.NIC_MIN_RFDS, P.NIC_DEF_RFDS, P.NIC_MAX_RFDS, P.NIC_MAX_GROW_RFDS = 4, 20, 1024, 128
P.NIC_RFD_SHRINK_THRESHOLD = 10
P.NIC_DELAY_POST_RESET, P.NIC_DELAY_POST_SELF_TEST_MS = 20, 5
P.NIC_LINK_DETECTION_DELAY = -10000 * 100       -- 100 ms in 100 ns units, relative
P.NIC_CHECK_FOR_HANG_DELAY = -10000 * 400
P.NIC_SEND_HANG_THRESHOLD = 5
P.fMP_TCB_IN_USE = 0x1
P.fMP_RFD_RECV_PEND, P.fMP_RFD_RECV_READY, P.fMP_RFD_RESOURCES = 0x1, 0x4, 0x8
P.fMP_ADAPTER_NON_RECOVER_ERROR, P.fMP_ADAPTER_RESET_IN_PROGRESS = 0x00800000, 0x01000000
P.fMP_ADAPTER_NO_CABLE, P.fMP_ADAPTER_HARDWARE_ERROR = 0x02000000, 0x04000000
P.fMP_ADAPTER_LINK_DETECTION = 0x20000000
P.ALIGN_16, P.ETH_DATA_ALIGN, P.HWRFD_SHIFT_OFFSET = 16, 8, 0xA
P.MORE_DATA_FOR_ALIGN = P.ETH_DATA_ALIGN + P.HWRFD_SHIFT_OFFSET
P.Connected, P.Disconnected = 0, 1
P.PCIDRV_POOL_TAG = "DICP"                        -- 'PCID'
-- NDIS packet filters and OIDs (ntddndis.h) the sample handles on its data path
P.NDIS_PACKET_TYPE_DIRECTED, P.NDIS_PACKET_TYPE_MULTICAST = 0x1, 0x2
P.NDIS_PACKET_TYPE_ALL_MULTICAST, P.NDIS_PACKET_TYPE_BROADCAST = 0x4, 0x8
P.NDIS_PACKET_TYPE_PROMISCUOUS = 0x20
P.NIC_SUPPORTED_FILTERS = 0x1 | 0x2 | 0x8 | 0x20 | 0x4
P.OID_GEN_CURRENT_PACKET_FILTER, P.OID_GEN_LINK_SPEED = 0x0001010E, 0x00010107
P.OID_GEN_MEDIA_CONNECT_STATUS, P.OID_802_3_PERMANENT_ADDRESS = 0x00010114, 0x01010101
P.OID_802_3_CURRENT_ADDRESS, P.OID_802_3_MULTICAST_LIST = 0x01010102, 0x01010103
-- nuiouser.h
P.IOCTL_NDISPROT_QUERY_OID_VALUE = CTL_CODE(FILE_DEVICE_NETWORK, 0x201, METHOD_BUFFERED,
                                            FILE_READ_ACCESS | FILE_WRITE_ACCESS)
P.IOCTL_NDISPROT_SET_OID_VALUE = CTL_CODE(FILE_DEVICE_NETWORK, 0x205, METHOD_BUFFERED,
                                          FILE_READ_ACCESS | FILE_WRITE_ACCESS)
P.IOCTL_NDISPROT_INDICATE_STATUS = CTL_CODE(FILE_DEVICE_NETWORK, 0x206, METHOD_BUFFERED,
                                            FILE_READ_ACCESS | FILE_WRITE_ACCESS)
-- public.h
P.GUID_DEVINTERFACE_PCIDRV = "{1e6a2b2c-4e25-4ea0-a2ea-43b1bb4e2ec0}"

-- ---- the hardware structures (e100_557.h), shared with the chip ------------------------
P.CB_HEADER_STRUC = dma.struct { { "CbStatus", "USHORT" }, { "CbCommand", "USHORT" },
                                 { "CbLinkPointer", "ULONG" } }
P.TXCB_STRUC = dma.struct {
  { "TxCbHeader", P.CB_HEADER_STRUC }, { "TxCbTbdPointer", "ULONG" }, { "TxCbCount", "USHORT" },
  { "TxCbThreshold", "UCHAR" }, { "TxCbTbdNumber", "UCHAR" },
  { "TxCbData", "UCHAR", 0xE0 },                  -- ETH_TX_BUFFER_STRUC (TCB_BUFFER_SIZE)
  { "pad0", "ULONG" }, { "pad1", "ULONG" }, { "pad2", "ULONG" }, { "pad3", "ULONG" },
}
P.HW_TCB = P.TXCB_STRUC
-- TBD_STRUC: TbdCount is the bit field TbdCount:14, :1, EndOfList:1, :16 (see TBD_SET_COUNT)
P.TBD_STRUC = dma.struct { { "TbdBufferAddress", "ULONG" }, { "TbdCount", "ULONG" } }
P.RFD_STRUC = dma.struct {
  { "RfdCbHeader", P.CB_HEADER_STRUC }, { "RfdRbdPointer", "ULONG" }, { "RfdActualCount", "USHORT" },
  { "RfdSize", "USHORT" }, { "RfdBuffer", "UCHAR", 1520 },  -- ETH_RX_BUFFER_STRUC (RCB_BUFFER_SIZE)
}
P.HW_RFD = P.RFD_STRUC
P.SELF_TEST_STRUC = dma.struct { { "StSignature", "ULONG" }, { "StResults", "ULONG" } }
P.ERR_COUNT_STRUC = dma.struct {
  { "XmtGoodFrames", "ULONG" }, { "XmtOther", "ULONG", 8 }, { "RcvGoodFrames", "ULONG" },
  { "RcvCrcErrors", "ULONG" }, { "RcvAlignmentErrors", "ULONG" }, { "RcvResourceErrors", "ULONG" },
  { "RcvOther", "ULONG", 3 }, { "CommandComplete", "ULONG" },
}
P.DUMP_AREA_STRUC_SIZE = 600
-- NON_TRANSMIT_CB is a union of these, all at the same address
P.CONFIG_CB_STRUC = dma.struct { { "ConfigCBHeader", P.CB_HEADER_STRUC },
                                 { "ConfigBytes", "UCHAR", P.CB_CFIG_BYTE_COUNT } }
P.IA_CB_STRUC = dma.struct { { "IaCBHeader", P.CB_HEADER_STRUC }, { "IaAddress", "UCHAR", 6 } }
P.MULTICAST_CB_STRUC = dma.struct { { "McCBHeader", P.CB_HEADER_STRUC }, { "McCount", "USHORT" },
                                    { "McAddress", "UCHAR", 6 * 32 } }
P.FILTER_CB_STRUC = dma.struct { { "FilterCBHeader", P.CB_HEADER_STRUC }, { "Pattern", "ULONG", 16 } }
P.NON_TRANSMIT_CB_SIZE = math.max(P.CONFIG_CB_STRUC.size, P.IA_CB_STRUC.size, P.MULTICAST_CB_STRUC.size,
                                  P.FILTER_CB_STRUC.size)
-- nuiouser.h
P.NDISPROT_SET_OID = dma.struct { { "Oid", "ULONG" }, { "Data", "UCHAR", 4 } }
P.NDISPROT_QUERY_OID = P.NDISPROT_SET_OID
P.NDISPROT_INDICATE_STATUS = dma.struct { { "IndicatedStatus", "ULONG" }, { "StatusBufferOffset", "ULONG" },
                                          { "StatusBufferLength", "ULONG" } }

-- sizeof(MP_TCB) and sizeof(MP_RFD) on x64 (nic_def.h): the memory the
-- driver allocates for them.
P.MP_TCB_SIZE, P.MP_RFD_SIZE = 64, 96

-- TbdCount = Length: the 14-bit field of the ULONG, the other bits kept.
function P.TBD_SET_COUNT(tbd, length)
  tbd.TbdCount = (tbd.TbdCount & ~0x3FFF) | (length & 0x3FFF)
end

-- ---- the CSR (CSR_STRUC) -----------------------------------------------------------------
local CSR_FIELDS = {
  ScbStatus = { 0x0, 2 }, ScbCommandLow = { 0x2, 1 }, ScbCommandHigh = { 0x3, 1 },
  ScbGeneralPointer = { 0x4, 4 }, Port = { 0x8, 4 }, FlashControl = { 0xC, 2 }, EepromControl = { 0xE, 2 },
  MDIControl = { 0x10, 4 }, RxDMAByteCount = { 0x14, 4 },
}
P.CSR_STRUC_SIZE = 0x18
P.NIC_MAP_IOSPACE_LENGTH = P.CSR_STRUC_SIZE
local READ = { [1] = READ_REGISTER_UCHAR, [2] = READ_REGISTER_USHORT, [4] = READ_REGISTER_ULONG }
local WRITE = { [1] = WRITE_REGISTER_UCHAR, [2] = WRITE_REGISTER_USHORT, [4] = WRITE_REGISTER_ULONG }
local csr_meta = {
  __index = function(view, name)
    local f = assert(CSR_FIELDS[name], "CSR_STRUC has no field " .. tostring(name))
    return READ[f[2]](view.base + f[1])
  end,
  __newindex = function(view, name, value)
    local f = assert(CSR_FIELDS[name], "CSR_STRUC has no field " .. tostring(name))
    WRITE[f[2]](view.base + f[1], value)
  end,
}

-- FdoData->CSRAddress as C sees it: a view of the mapped registers.
function P.CSR(FdoData)
  local view = FdoData.CSRView
  if not view or rawget(view, "base") ~= FdoData.CSRAddress then
    view = setmetatable({ base = FdoData.CSRAddress }, csr_meta)
    FdoData.CSRView = view
  end
  return view
end

-- ---- flags and lists (nic_def.h) ----------------------------------------------------------
function P.MP_SET_FLAG(o, f) o.Flags = o.Flags | f end
function P.MP_CLEAR_FLAG(o, f) o.Flags = o.Flags & ~f end
function P.MP_CLEAR_FLAGS(o) o.Flags = 0 end
function P.MP_TEST_FLAG(o, f) return o.Flags & f ~= 0 end
function P.MP_SET_HARDWARE_ERROR(o) P.MP_SET_FLAG(o, P.fMP_ADAPTER_HARDWARE_ERROR) end
function P.MP_TCB_RESOURCES_AVAIABLE(FdoData) return FdoData.nBusySend < FdoData.NumTcb end

function P.InitializeListHead() return {} end
function P.IsListEmpty(list) return #list == 0 end
function P.InsertTailList(list, entry) list[#list + 1] = entry end
function P.GetListHeadEntry(list) return list[1] end
function P.GetListTailEntry(list) return list[#list] end
function P.RemoveHeadList(list) return table.remove(list, 1) end
function P.RemoveEntryList(list, entry)
  for i, e in ipairs(list) do
    if e == entry then return table.remove(list, i) end
  end
end

-- The RFD macros.
function P.NIC_RFD_GET_STATUS(HwRfd) return HwRfd.RfdCbHeader.CbStatus end
function P.NIC_RFD_STATUS_COMPLETED(status) return status & P.RFD_STATUS_COMPLETE ~= 0 end
function P.NIC_RFD_STATUS_SUCCESS(status) return status & P.RFD_STATUS_OK ~= 0 end
function P.NIC_RFD_GET_PACKET_SIZE(HwRfd) return HwRfd.RfdActualCount & P.RFD_ACT_COUNT_MASK end
function P.NIC_RFD_VALID_ACTUALCOUNT(HwRfd)
  return HwRfd.RfdActualCount & (P.RFD_EOF_BIT | P.RFD_F_BIT) == P.RFD_EOF_BIT | P.RFD_F_BIT
end

-- The interrupt macros.
function P.NIC_INTERRUPT_DISABLED(FdoData) return P.CSR(FdoData).ScbCommandHigh & P.SCB_INT_MASK ~= 0 end
function P.NIC_INTERRUPT_ACTIVE(FdoData)
  local status = P.CSR(FdoData).ScbStatus
  return status & P.SCB_ALL_INTERRUPT_BITS ~= P.SCB_ALL_INTERRUPT_BITS and status & P.SCB_ACK_MASK ~= 0
end
function P.NIC_ACK_INTERRUPT(FdoData)
  local value = P.CSR(FdoData).ScbStatus & P.SCB_ACK_MASK
  P.CSR(FdoData).ScbStatus = value
  return value
end
function P.NIC_IS_RECV_READY(FdoData)
  return P.CSR(FdoData).ScbStatus & P.SCB_RUS_MASK == P.SCB_RUS_READY
end

-- MP_STALL_AND_WAIT: polls `condition()` every 20 us for up to timeout_ms.
function P.MP_STALL_AND_WAIT(condition, timeout_ms)
  for _ = timeout_ms * 50, 1, -1 do
    if condition() then return true end
    KeStallExecutionProcessor(20)
  end
  return false
end

-- MP_STALL_EXECUTION: waits ms milliseconds, 100 us at a time.
function P.MP_STALL_EXECUTION(ms)
  for _ = ms * 10, 1, -1 do KeStallExecutionProcessor(100) end
end

-- ---- macros.h ------------------------------------------------------------------------------
function P.D100IssueScbCommand(FdoData, ScbCommandLow, WaitForScb)
  if WaitForScb then
    if not P.WaitScb(FdoData) then return STATUS_DEVICE_DATA_ERROR end
  end
  P.CSR(FdoData).ScbCommandLow = ScbCommandLow
  return STATUS_SUCCESS
end

function P.MP_GET_STATUS_FROM_FLAGS(FdoData)
  if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_RESET_IN_PROGRESS) then return STATUS_DEVICE_NOT_READY end
  if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_HARDWARE_ERROR) then return STATUS_DEVICE_OFF_LINE end
  if P.MP_TEST_FLAG(FdoData, P.fMP_ADAPTER_NO_CABLE) then return STATUS_DEVICE_NOT_CONNECTED end
  return STATUS_UNSUCCESSFUL
end

function P.NICDisableInterrupt(FdoData) P.CSR(FdoData).ScbCommandHigh = P.SCB_INT_MASK end

-- EVT_WDF_INTERRUPT_SYNCHRONIZE NICEnableInterrupt(WdfInterrupt, Context)
function P.NICEnableInterrupt(_, FdoData)
  P.CSR(FdoData).ScbCommandHigh = 0
  return TRUE
end

function P.IsPoMgmtSupported(FdoData) return FdoData.RevsionID >= P.E100_82559_A_STEP end

return P
