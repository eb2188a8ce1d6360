/*
** dl_wdk.c: the tables of IRP major codes, IRQLs and the I/O values a
** driver passes, built from the enums of dl_wdk.h or written once here
** with the WDK header's value; and the WDK's naming, which tells a WDK
** routine or value the lab lacks from an ordinary name.
*/
#include "base/dl_wdk.h"

#include <string.h>

/* Every major function code in value order; IRP_MJ_MAXIMUM_FUNCTION (the
** bound, = IRP_MJ_PNP) last. */
static const dl_wdk_value majors[] = {
  {"IRP_MJ_CREATE", DL_IRP_MJ_CREATE},
  {"IRP_MJ_CREATE_NAMED_PIPE", DL_IRP_MJ_CREATE_NAMED_PIPE},
  {"IRP_MJ_CLOSE", DL_IRP_MJ_CLOSE},
  {"IRP_MJ_READ", DL_IRP_MJ_READ},
  {"IRP_MJ_WRITE", DL_IRP_MJ_WRITE},
  {"IRP_MJ_QUERY_INFORMATION", DL_IRP_MJ_QUERY_INFORMATION},
  {"IRP_MJ_SET_INFORMATION", DL_IRP_MJ_SET_INFORMATION},
  {"IRP_MJ_QUERY_EA", DL_IRP_MJ_QUERY_EA},
  {"IRP_MJ_SET_EA", DL_IRP_MJ_SET_EA},
  {"IRP_MJ_FLUSH_BUFFERS", DL_IRP_MJ_FLUSH_BUFFERS},
  {"IRP_MJ_QUERY_VOLUME_INFORMATION", DL_IRP_MJ_QUERY_VOLUME_INFORMATION},
  {"IRP_MJ_SET_VOLUME_INFORMATION", DL_IRP_MJ_SET_VOLUME_INFORMATION},
  {"IRP_MJ_DIRECTORY_CONTROL", DL_IRP_MJ_DIRECTORY_CONTROL},
  {"IRP_MJ_FILE_SYSTEM_CONTROL", DL_IRP_MJ_FILE_SYSTEM_CONTROL},
  {"IRP_MJ_DEVICE_CONTROL", DL_IRP_MJ_DEVICE_CONTROL},
  {"IRP_MJ_INTERNAL_DEVICE_CONTROL", DL_IRP_MJ_INTERNAL_DEVICE_CONTROL},
  {"IRP_MJ_SHUTDOWN", DL_IRP_MJ_SHUTDOWN},
  {"IRP_MJ_LOCK_CONTROL", DL_IRP_MJ_LOCK_CONTROL},
  {"IRP_MJ_CLEANUP", DL_IRP_MJ_CLEANUP},
  {"IRP_MJ_CREATE_MAILSLOT", DL_IRP_MJ_CREATE_MAILSLOT},
  {"IRP_MJ_QUERY_SECURITY", DL_IRP_MJ_QUERY_SECURITY},
  {"IRP_MJ_SET_SECURITY", DL_IRP_MJ_SET_SECURITY},
  {"IRP_MJ_POWER", DL_IRP_MJ_POWER},
  {"IRP_MJ_SYSTEM_CONTROL", DL_IRP_MJ_SYSTEM_CONTROL},
  {"IRP_MJ_DEVICE_CHANGE", DL_IRP_MJ_DEVICE_CHANGE},
  {"IRP_MJ_QUERY_QUOTA", DL_IRP_MJ_QUERY_QUOTA},
  {"IRP_MJ_SET_QUOTA", DL_IRP_MJ_SET_QUOTA},
  {"IRP_MJ_PNP", DL_IRP_MJ_PNP},
  {"IRP_MJ_MAXIMUM_FUNCTION", DL_IRP_MJ_MAXIMUM_FUNCTION},
};

/* Device types (devioctl.h; FILE_DEVICE_UNKNOWN 0x22), device characteristics
** (wdm.h, IoCreateDevice), IOCTL methods and access (devioctl.h; FILE_READ_DATA
** and FILE_WRITE_DATA are the file access rights an IOCTL's Access names),
** POOL_TYPE (wdm.h) and WDF_DEVICE_IO_TYPE (wdfdevice.h). */
static const dl_wdk_value io_values[] = {
  {"FILE_DEVICE_BEEP", 0x01}, {"FILE_DEVICE_CD_ROM", 0x02},
  {"FILE_DEVICE_CD_ROM_FILE_SYSTEM", 0x03}, {"FILE_DEVICE_CONTROLLER", 0x04},
  {"FILE_DEVICE_DATALINK", 0x05}, {"FILE_DEVICE_DFS", 0x06}, {"FILE_DEVICE_DISK", 0x07},
  {"FILE_DEVICE_DISK_FILE_SYSTEM", 0x08}, {"FILE_DEVICE_FILE_SYSTEM", 0x09},
  {"FILE_DEVICE_INPORT_PORT", 0x0a}, {"FILE_DEVICE_KEYBOARD", 0x0b},
  {"FILE_DEVICE_MAILSLOT", 0x0c}, {"FILE_DEVICE_MIDI_IN", 0x0d}, {"FILE_DEVICE_MIDI_OUT", 0x0e},
  {"FILE_DEVICE_MOUSE", 0x0f}, {"FILE_DEVICE_MULTI_UNC_PROVIDER", 0x10},
  {"FILE_DEVICE_NAMED_PIPE", 0x11}, {"FILE_DEVICE_NETWORK", 0x12},
  {"FILE_DEVICE_NETWORK_BROWSER", 0x13}, {"FILE_DEVICE_NETWORK_FILE_SYSTEM", 0x14},
  {"FILE_DEVICE_NULL", 0x15}, {"FILE_DEVICE_PARALLEL_PORT", 0x16},
  {"FILE_DEVICE_PHYSICAL_NETCARD", 0x17}, {"FILE_DEVICE_PRINTER", 0x18},
  {"FILE_DEVICE_SCANNER", 0x19}, {"FILE_DEVICE_SERIAL_MOUSE_PORT", 0x1a},
  {"FILE_DEVICE_SERIAL_PORT", 0x1b}, {"FILE_DEVICE_SCREEN", 0x1c}, {"FILE_DEVICE_SOUND", 0x1d},
  {"FILE_DEVICE_STREAMS", 0x1e}, {"FILE_DEVICE_TAPE", 0x1f},
  {"FILE_DEVICE_TAPE_FILE_SYSTEM", 0x20}, {"FILE_DEVICE_TRANSPORT", 0x21},
  {"FILE_DEVICE_UNKNOWN", 0x22}, {"FILE_DEVICE_VIDEO", 0x23}, {"FILE_DEVICE_VIRTUAL_DISK", 0x24},
  {"FILE_DEVICE_WAVE_IN", 0x25}, {"FILE_DEVICE_WAVE_OUT", 0x26}, {"FILE_DEVICE_8042_PORT", 0x27},
  {"FILE_DEVICE_NETWORK_REDIRECTOR", 0x28}, {"FILE_DEVICE_BATTERY", 0x29},
  {"FILE_DEVICE_BUS_EXTENDER", 0x2a}, {"FILE_DEVICE_MODEM", 0x2b}, {"FILE_DEVICE_VDM", 0x2c},
  {"FILE_DEVICE_MASS_STORAGE", 0x2d}, {"FILE_DEVICE_SMB", 0x2e}, {"FILE_DEVICE_KS", 0x2f},
  {"FILE_DEVICE_CHANGER", 0x30}, {"FILE_DEVICE_SMARTCARD", 0x31}, {"FILE_DEVICE_ACPI", 0x32},
  {"FILE_DEVICE_DVD", 0x33}, {"FILE_DEVICE_FULLSCREEN_VIDEO", 0x34},
  {"FILE_DEVICE_DFS_FILE_SYSTEM", 0x35}, {"FILE_DEVICE_DFS_VOLUME", 0x36},
  {"FILE_DEVICE_SERENUM", 0x37}, {"FILE_DEVICE_TERMSRV", 0x38}, {"FILE_DEVICE_KSEC", 0x39},
  {"FILE_DEVICE_FIPS", 0x3a}, {"FILE_DEVICE_INFINIBAND", 0x3b}, {"FILE_DEVICE_VMBUS", 0x3e},
  {"FILE_DEVICE_CRYPT_PROVIDER", 0x3f}, {"FILE_DEVICE_WPD", 0x40}, {"FILE_DEVICE_BLUETOOTH", 0x41},
  {"FILE_DEVICE_MT_COMPOSITE", 0x42}, {"FILE_DEVICE_MT_TRANSPORT", 0x43},
  {"FILE_DEVICE_BIOMETRIC", 0x44}, {"FILE_DEVICE_PMI", 0x45}, {"FILE_DEVICE_EHSTOR", 0x46},
  {"FILE_DEVICE_DEVAPI", 0x47}, {"FILE_DEVICE_GPIO", 0x48}, {"FILE_DEVICE_USBEX", 0x49},
  {"FILE_DEVICE_CONSOLE", 0x50}, {"FILE_DEVICE_NFP", 0x51}, {"FILE_DEVICE_SYSENV", 0x52},
  {"FILE_DEVICE_VIRTUAL_BLOCK", 0x53},
  {"FILE_REMOVABLE_MEDIA", 0x00000001}, {"FILE_READ_ONLY_DEVICE", 0x00000002},
  {"FILE_FLOPPY_DISKETTE", 0x00000004}, {"FILE_WRITE_ONCE_MEDIA", 0x00000008},
  {"FILE_REMOTE_DEVICE", 0x00000010}, {"FILE_DEVICE_IS_MOUNTED", 0x00000020},
  {"FILE_VIRTUAL_VOLUME", 0x00000040}, {"FILE_AUTOGENERATED_DEVICE_NAME", 0x00000080},
  {"FILE_DEVICE_SECURE_OPEN", 0x00000100}, {"FILE_CHARACTERISTIC_PNP_DEVICE", 0x00000800},
  {"FILE_CHARACTERISTIC_TS_DEVICE", 0x00001000}, {"FILE_CHARACTERISTIC_WEBDAV_DEVICE", 0x00002000},
  {"FILE_DEVICE_ALLOW_APPCONTAINER_TRAVERSAL", 0x00020000}, {"FILE_PORTABLE_DEVICE", 0x00040000},
  {"METHOD_BUFFERED", DL_METHOD_BUFFERED}, {"METHOD_IN_DIRECT", DL_METHOD_IN_DIRECT},
  {"METHOD_OUT_DIRECT", DL_METHOD_OUT_DIRECT}, {"METHOD_NEITHER", DL_METHOD_NEITHER},
  {"FILE_ANY_ACCESS", DL_FILE_ANY_ACCESS}, {"FILE_SPECIAL_ACCESS", DL_FILE_ANY_ACCESS},
  {"FILE_READ_ACCESS", DL_FILE_READ_ACCESS}, {"FILE_WRITE_ACCESS", DL_FILE_WRITE_ACCESS},
  {"FILE_READ_DATA", 0x0001}, {"FILE_WRITE_DATA", 0x0002},
  {"NonPagedPool", 0}, {"NonPagedPoolExecute", 0}, {"PagedPool", 1}, {"NonPagedPoolNx", 512},
  {"WdfDeviceIoUndefined", 0}, {"WdfDeviceIoNeither", 1}, {"WdfDeviceIoBuffered", 2},
  {"WdfDeviceIoDirect", 3}, {"WdfDeviceIoBufferedOrDirect", 4},
  {"PAGE_NOACCESS", DL_PAGE_NOACCESS}, {"PAGE_READONLY", DL_PAGE_READONLY},
  {"PAGE_READWRITE", DL_PAGE_READWRITE}, {"PAGE_EXECUTE", DL_PAGE_EXECUTE},
  {"PAGE_EXECUTE_READ", DL_PAGE_EXECUTE_READ}, {"PAGE_EXECUTE_READWRITE", DL_PAGE_EXECUTE_READWRITE},
  {"PAGE_NOCACHE", DL_PAGE_NOCACHE}, {"PAGE_WRITECOMBINE", DL_PAGE_WRITECOMBINE},
};

/* EVENT_TYPE, KWAIT_REASON, WORK_QUEUE_TYPE, DEVICE_POWER_STATE (wdm.h)
** and the flags of ExAllocatePool2 (POOL_FLAGS, wdm.h). */
static const dl_wdk_value kernel_values[] = {
  {"NotificationEvent", 0}, {"SynchronizationEvent", 1}, {"Executive", 0},
  {"CriticalWorkQueue", 0}, {"DelayedWorkQueue", 1}, {"HyperCriticalWorkQueue", 2},
  {"POOL_FLAG_USE_QUOTA", 0x1}, {"POOL_FLAG_UNINITIALIZED", 0x2},
  {"POOL_FLAG_SESSION", 0x4}, {"POOL_FLAG_CACHE_ALIGNED", 0x8},
  {"POOL_FLAG_RAISE_ON_FAILURE", 0x20}, {"POOL_FLAG_NON_PAGED", 0x40},
  {"POOL_FLAG_NON_PAGED_EXECUTE", 0x80}, {"POOL_FLAG_PAGED", 0x100},
  {"PowerDeviceUnspecified", 0}, {"PowerDeviceD0", 1}, {"PowerDeviceD1", 2}, {"PowerDeviceD2", 3},
  {"PowerDeviceD3", 4}, {"PowerDeviceMaximum", 5},
};

/* The WDK names defined as NULL: nil in Lua, and not a missing name. */
static const struct { const char *name; } nulls[] = {
  {"WDF_NO_OBJECT_ATTRIBUTES"}, {"WDF_NO_HANDLE"}, {"WDF_NO_EVENT_CALLBACK"}, {"WDF_NO_CONTEXT"},
  {"WDF_NO_SEND_OPTIONS"}, {"NULL"},
};

static const dl_wdk_value levels[] = {
  {"PASSIVE_LEVEL", DL_PASSIVE_LEVEL},
  {"LOW_LEVEL", DL_LOW_LEVEL},
  {"APC_LEVEL", DL_APC_LEVEL},
  {"DISPATCH_LEVEL", DL_DISPATCH_LEVEL},
  {"CMCI_LEVEL", DL_CMCI_LEVEL},
  {"CLOCK_LEVEL", DL_CLOCK_LEVEL},
  {"IPI_LEVEL", DL_IPI_LEVEL},
  {"POWER_LEVEL", DL_POWER_LEVEL},
  {"HIGH_LEVEL", DL_HIGH_LEVEL},
  {"PROFILE_LEVEL", DL_PROFILE_LEVEL},
};

/* The IRP_MJ_* codes. */
const dl_wdk_value *dl_irp_major_table(size_t *count) {
  *count = sizeof majors / sizeof majors[0];
  return majors;
}

/* The IRQL names. */
const dl_wdk_value *dl_irql_table(size_t *count) {
  *count = sizeof levels / sizeof levels[0];
  return levels;
}

/* The usual name of an IRQL, or NULL. */
const char *dl_irql_name(uint32_t irql) {
  return dl_wdk_name(levels, sizeof levels / sizeof levels[0], irql);
}

/* The I/O values drivers pass. */
const dl_wdk_value *dl_wdk_io_table(size_t *count) {
  *count = sizeof io_values / sizeof io_values[0];
  return io_values;
}

/* The kernel values drivers pass (events, waits, work queues, pool flags). */
const dl_wdk_value *dl_wdk_kernel_table(size_t *count) {
  *count = sizeof kernel_values / sizeof kernel_values[0];
  return kernel_values;
}

/* The i-th WDK name defined as NULL, or NULL past the last. */
const char *dl_wdk_null_name(size_t i) {
  return i < sizeof nulls / sizeof nulls[0] ? nulls[i].name : NULL;
}

/* ---- the WDK's naming ---------------------------------------------------- */

/* The routine prefixes of ntddk.h/wdm.h and the framework (a capital follows):
** WdfDeviceCreate, IoCreateDevice, KeWaitForSingleObject, RtlZeroMemory... */
static const char *const routine_prefixes[] = {
  "Wdf", "Io", "Ke", "Mm", "Ex", "Rtl", "Hal", "Zw", "Ob", "Ps", "Po", "Dbg", "Kd", NULL
};

/* Function-like macros and routines without a prefix (wdm.h's lists, asserts). */
static const char *const routine_names[] = {
  "InitializeListHead", "InsertHeadList", "InsertTailList", "RemoveHeadList", "RemoveTailList",
  "RemoveEntryList", "IsListEmpty", "PushEntryList", "PopEntryList", "ASSERT", "ASSERTMSG",
  "UNREFERENCED_PARAMETER", "PAGED_CODE", "CONTAINING_RECORD", "FIELD_OFFSET", "ARGUMENT_PRESENT",
  "NT_ERROR", "NT_WARNING", "NT_INFORMATION", "DEVICE_TYPE_FROM_CTL_CODE", "METHOD_FROM_CTL_CODE",
  "RTL_CONSTANT_STRING", "DECLARE_CONST_UNICODE_STRING", "DECLARE_UNICODE_STRING_SIZE", NULL
};

/* Enum families whose values read like routines or like ordinary words:
** POOL_TYPE, EVENT_TYPE, KWAIT_REASON, WAIT_TYPE, MEMORY_CACHING_TYPE and
** the framework's enums (WDF_DEVICE_IO_TYPE, WDF_EXECUTION_LEVEL...). */
static const char *const enum_prefixes[] = {
  "NonPagedPool", "PagedPool", "NotificationEvent", "SynchronizationEvent", "NotificationTimer",
  "SynchronizationTimer", "Executive", "WaitAll", "WaitAny", "PowerDevice", "PowerSystem",
  "DevicePowerState", "SystemPowerState", "CmResource", "MmCached", "MmNonCached", "MmWriteCombined",
  "MmFrameBufferCached", "MmHardwareCoherentCached", "MmUSWCCached", "MmNotMapped", "WdfDeviceIo",
  "WdfIoQueueDispatch", "WdfRequestType", "WdfRequestStopAction", "WdfDmaProfile", "WdfDmaDirection",
  "WdfPowerDevice", "WdfExecutionLevel", "WdfSynchronizationScope", "WdfFileObjectWdf",
  "WdfFileObjectNotRequired", "WdfSpecialFile", "WdfIrqPolicy", "WdfIrqPriority",
  "WdfMemoryDescriptorType", "WdfDeviceState", "WdfTrue", "WdfFalse", "WdfUseDefault", NULL
};

/* The first words of the WDK's ALL_CAPS values and macros (FILE_DEVICE_X,
** METHOD_X, IRP_MJ_X, WDF_X...); an ALL_CAPS name of another word
** (MY_LIMIT) is the script's own. */
static const char *const caps_words[] = {
  "FILE", "METHOD", "IRP", "IOCTL", "STATUS", "WDF", "DEVICE", "MDL", "IO", "DO", "POOL", "CM", "PCI",
  "DMA", "SL", "GENERIC", "OBJ", "KERNEL", "MAXIMUM", "PAGE", "CTL", "READ", "WRITE", "NT", "MM", "KE",
  "EX", "RTL", "HAL", "POWER", "PNP", "GUID", "DRIVER", "IRQL", "INTERRUPT", "TIMER", "DPC", "ADDRESS",
  "BYTE", "BYTES", "ROUND", "ALIGN", "SYNCHRONIZE", "DELETE", "FSCTL", "KEY", "REG", "SE", "PROCESSOR",
  "CONFIGURATION", "MEMORY", "PORT", "ACCESS", "THREAD", "EVENT", "SEMAPHORE", "MUTANT", "CONNECT", NULL
};

/* Whether `name` is in the NULL-terminated list. */
static int listed(const char *name, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(name, list[i]) == 0) return 1;
  return 0;
}

/* Whether `name` starts with one of the list's prefixes. */
static int prefixed(const char *name, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (strncmp(name, list[i], strlen(list[i])) == 0) return 1;
  return 0;
}

/* Whether `name` starts with a routine prefix followed by a capital or digit. */
static int routine_prefixed(const char *name) {
  for (size_t i = 0; routine_prefixes[i]; i++) {
    size_t n = strlen(routine_prefixes[i]);
    if (strncmp(name, routine_prefixes[i], n) != 0) continue;
    char c = name[n];  /* the name is at least as long as the prefix */
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  }
  return 0;
}

/* What an ALL_CAPS name with an underscore is: a macro (READ_/WRITE_
** register access, WDF_*_INIT and WDF_*_INIT_*, WDF_DECLARE_*, timeouts), a value of a WDK
** family, or not a WDK name. */
static dl_wdk_kind classify_caps(const char *name) {
  const char *us = strchr(name, '_');
  if (!us || us == name) return DL_WDK_OTHER;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return DL_WDK_OTHER;
  size_t n = strlen(name), w = (size_t)(us - name);
  int word = 0;
  for (size_t i = 0; caps_words[i] && !word; i++)
    word = strlen(caps_words[i]) == w && strncmp(name, caps_words[i], w) == 0;
  if (!word && !(n > 6 && strcmp(name + n - 6, "_LEVEL") == 0)) return DL_WDK_OTHER;
  if (strncmp(name, "READ_", 5) == 0 || strncmp(name, "WRITE_", 6) == 0 ||
      (n > 5 && strcmp(name + n - 5, "_INIT") == 0) || strstr(name, "_INIT_") ||
      strncmp(name, "WDF_DECLARE", 11) == 0 ||
      strstr(name, "_TIMEOUT_IN_") || strstr(name, "_TO_TYPE_INFO") || strncmp(name, "WDF_ALIGN_", 10) == 0)
    return DL_WDK_ROUTINE;
  return DL_WDK_CONSTANT;
}

/* What a name the lab does not provide is, read as a WDK name. */
dl_wdk_kind dl_wdk_classify(const char *name) {
  if (!name || !*name) return DL_WDK_OTHER;
  for (size_t i = 0; dl_wdk_null_name(i); i++)
    if (strcmp(name, dl_wdk_null_name(i)) == 0) return DL_WDK_NULL;
  if (listed(name, routine_names)) return DL_WDK_ROUTINE;
  if (prefixed(name, enum_prefixes)) return DL_WDK_CONSTANT;
  if (strncmp(name, "Io", 2) == 0 && routine_prefixed(name) && strlen(name) > 8 &&
      strcmp(name + strlen(name) - 6, "Access") == 0)
    return DL_WDK_CONSTANT;  /* IoReadAccess, IoWriteAccess: LOCK_OPERATION */
  if (routine_prefixed(name)) return DL_WDK_ROUTINE;
  return classify_caps(name);
}

/* Resource descriptors (wdm.h). */
static const dl_wdk_value cm_values[] = {
  {"CmResourceTypeNull", DL_CM_NULL}, {"CmResourceTypePort", DL_CM_PORT},
  {"CmResourceTypeInterrupt", DL_CM_INTERRUPT}, {"CmResourceTypeMemory", DL_CM_MEMORY},
  {"CmResourceTypeDma", 4}, {"CmResourceTypeDeviceSpecific", 5}, {"CmResourceTypeBusNumber", 6},
  {"CmResourceTypeMemoryLarge", 7},
  {"CmResourceShareUndetermined", DL_CM_SHARE_UNDETERMINED},
  {"CmResourceShareDeviceExclusive", DL_CM_SHARE_DEVICE_EXCLUSIVE},
  {"CmResourceShareDriverExclusive", DL_CM_SHARE_DRIVER_EXCLUSIVE},
  {"CmResourceShareShared", DL_CM_SHARE_SHARED},
  {"CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE", DL_CM_INTERRUPT_LEVEL_SENSITIVE},
  {"CM_RESOURCE_INTERRUPT_LATCHED", DL_CM_INTERRUPT_LATCHED},
  {"CM_RESOURCE_INTERRUPT_MESSAGE", DL_CM_INTERRUPT_MESSAGE},
  {"CM_RESOURCE_INTERRUPT_POLICY_INCLUDED", 0x0004},
  {"CM_RESOURCE_INTERRUPT_LEVEL_LATCHED_BITS", 0x0001},
  {"CM_RESOURCE_MEMORY_READ_WRITE", DL_CM_MEMORY_READ_WRITE}, {"CM_RESOURCE_MEMORY_READ_ONLY", 0x0001},
  {"CM_RESOURCE_MEMORY_WRITE_ONLY", 0x0002}, {"CM_RESOURCE_MEMORY_WRITEABILITY_MASK", 0x0003},
  {"CM_RESOURCE_MEMORY_PREFETCHABLE", DL_CM_MEMORY_PREFETCHABLE},
  {"CM_RESOURCE_MEMORY_COMBINEDWRITE", 0x0008}, {"CM_RESOURCE_MEMORY_24", 0x0010},
  {"CM_RESOURCE_MEMORY_CACHEABLE", 0x0020},
  {"CM_RESOURCE_PORT_MEMORY", DL_CM_PORT_MEMORY}, {"CM_RESOURCE_PORT_IO", DL_CM_PORT_IO},
  {"CM_RESOURCE_PORT_10_BIT_DECODE", 0x0004}, {"CM_RESOURCE_PORT_12_BIT_DECODE", 0x0008},
  {"CM_RESOURCE_PORT_16_BIT_DECODE", DL_CM_PORT_16_BIT_DECODE},
  {"CM_RESOURCE_PORT_POSITIVE_DECODE", 0x0020},
};

/* The CM values by WDK name. */
const dl_wdk_value *dl_wdk_cm_table(size_t *count) {
  *count = sizeof cm_values / sizeof cm_values[0];
  return cm_values;
}
