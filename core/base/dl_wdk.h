/*
** dl_wdk.h: the other Windows values the lab uses, each defined once with
** the WDK's value: IRP major function codes (wdm.h), IRQLs (x64 wdm.h) and
** the page-geometry macros (BYTE_OFFSET, PAGE_ALIGN, BYTES_TO_PAGES,
** ROUND_TO_PAGES, ADDRESS_AND_SIZE_TO_SPAN_PAGES) as functions of the
** page size, which is a machine's and always a power of two; the values a
** driver passes to the I/O manager and the framework (device types and
** characteristics, IOCTL methods and access, pool types, WDF I/O types),
** CTL_CODE, and how a name the lab lacks reads as a WDK name (the WDK's
** naming: routine prefixes, enum families, ALL_CAPS macros and values).
** The tables list the values by WDK name, so the Lua module exports
** exactly these.
*/
#ifndef DL_WDK_H
#define DL_WDK_H

#include <stddef.h>
#include <stdint.h>

#include "base/dl_ntstatus.h"

/* Major function codes, with the WDK's values (wdm.h: all 28). */
enum {
  DL_IRP_MJ_CREATE = 0x00,
  DL_IRP_MJ_CREATE_NAMED_PIPE = 0x01,
  DL_IRP_MJ_CLOSE = 0x02,
  DL_IRP_MJ_READ = 0x03,
  DL_IRP_MJ_WRITE = 0x04,
  DL_IRP_MJ_QUERY_INFORMATION = 0x05,
  DL_IRP_MJ_SET_INFORMATION = 0x06,
  DL_IRP_MJ_QUERY_EA = 0x07,
  DL_IRP_MJ_SET_EA = 0x08,
  DL_IRP_MJ_FLUSH_BUFFERS = 0x09,
  DL_IRP_MJ_QUERY_VOLUME_INFORMATION = 0x0a,
  DL_IRP_MJ_SET_VOLUME_INFORMATION = 0x0b,
  DL_IRP_MJ_DIRECTORY_CONTROL = 0x0c,
  DL_IRP_MJ_FILE_SYSTEM_CONTROL = 0x0d,
  DL_IRP_MJ_DEVICE_CONTROL = 0x0e,
  DL_IRP_MJ_INTERNAL_DEVICE_CONTROL = 0x0f,
  DL_IRP_MJ_SHUTDOWN = 0x10,
  DL_IRP_MJ_LOCK_CONTROL = 0x11,
  DL_IRP_MJ_CLEANUP = 0x12,
  DL_IRP_MJ_CREATE_MAILSLOT = 0x13,
  DL_IRP_MJ_QUERY_SECURITY = 0x14,
  DL_IRP_MJ_SET_SECURITY = 0x15,
  DL_IRP_MJ_POWER = 0x16,
  DL_IRP_MJ_SYSTEM_CONTROL = 0x17,
  DL_IRP_MJ_DEVICE_CHANGE = 0x18,
  DL_IRP_MJ_QUERY_QUOTA = 0x19,
  DL_IRP_MJ_SET_QUOTA = 0x1a,
  DL_IRP_MJ_PNP = 0x1b,
  DL_IRP_MJ_MAXIMUM_FUNCTION = 0x1b
};

/* IOCTL transfer types and required access (devioctl.h), the two fields
** of a CTL_CODE a driver and the I/O manager read. */
enum {
  DL_METHOD_BUFFERED = 0,
  DL_METHOD_IN_DIRECT = 1,
  DL_METHOD_OUT_DIRECT = 2,
  DL_METHOD_NEITHER = 3,
  DL_FILE_ANY_ACCESS = 0,
  DL_FILE_READ_ACCESS = 1,
  DL_FILE_WRITE_ACCESS = 2
};

/* What a name the lab does not provide is, read as a WDK name. */
typedef enum dl_wdk_kind {
  DL_WDK_OTHER,     /* not a WDK name: an ordinary nil */
  DL_WDK_ROUTINE,   /* a WDK routine or function-like macro (IoFoo, WDF_X_INIT) */
  DL_WDK_CONSTANT,  /* a WDK value (FILE_DEVICE_X, NonPagedPoolX, WdfDeviceIoX) */
  DL_WDK_NULL       /* a WDK name whose value is NULL (WDF_NO_HANDLE): nil */
} dl_wdk_kind;

/* CTL_CODE(DeviceType, Function, Method, Access): an IOCTL code, as devioctl.h
** builds it: (DeviceType << 16) | (Access << 14) | (Function << 2) | Method. */
static inline uint32_t dl_ctl_code(uint32_t device_type, uint32_t function, uint32_t method, uint32_t access) {
  return (device_type << 16) | (access << 14) | (function << 2) | method;
}

/* IRQL values (x64). */
enum {
  DL_PASSIVE_LEVEL = 0,
  DL_LOW_LEVEL = 0,
  DL_APC_LEVEL = 1,
  DL_DISPATCH_LEVEL = 2,
  DL_CMCI_LEVEL = 5,
  DL_CLOCK_LEVEL = 13,
  DL_IPI_LEVEL = 14,
  DL_POWER_LEVEL = 14,
  DL_PROFILE_LEVEL = 15,
  DL_HIGH_LEVEL = 15
};

/* The IRP_MJ_* codes, IRP_MJ_MAXIMUM_FUNCTION last; *count gets the length. */
const dl_wdk_value *dl_irp_major_table(size_t *count);

/* The values drivers pass that the lab exports: FILE_DEVICE_* device types
** and characteristics, METHOD_*, FILE_*_ACCESS, FILE_READ_DATA and
** FILE_WRITE_DATA, POOL_TYPE and WDF_DEVICE_IO_TYPE values. */
const dl_wdk_value *dl_wdk_io_table(size_t *count);

/* The WDK names whose value is NULL (WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE...). */
const char *dl_wdk_null_name(size_t i);

/* What `name` is as a WDK name, for a name the lab does not provide: a
** routine (Wdf/Io/Ke/Mm/Ex/Rtl/Hal/Zw/Ob/Ps/Po/Dbg/Kd + a capital, the
** list and register macros, WDF_*_INIT), a constant (enum families such as
** NonPagedPool* or WdfDeviceIo*, ALL_CAPS names of the WDK's families such
** as FILE_*, METHOD_*, IRP_MJ_*, WDF_*), NULL, or not a WDK name. */
dl_wdk_kind dl_wdk_classify(const char *name);

/* The IRQL names, the usual name of a level first; *count gets the length. */
const dl_wdk_value *dl_irql_table(size_t *count);

/* The usual name of an IRQL ("DISPATCH_LEVEL"), or NULL for an unnamed level. */
const char *dl_irql_name(uint32_t irql);

/* BYTE_OFFSET(Va): the offset of va in its page. */
static inline uint64_t dl_byte_offset(uint64_t va, uint64_t page_size) {
  return va & (page_size - 1);
}

/* PAGE_ALIGN(Va): the start of va's page. */
static inline uint64_t dl_page_align(uint64_t va, uint64_t page_size) {
  return va & ~(page_size - 1);
}

/* BYTES_TO_PAGES(Size): pages to hold size bytes (no overflow near 2^64). */
static inline uint64_t dl_bytes_to_pages(uint64_t size, uint64_t page_size) {
  return size / page_size + (size % page_size != 0);
}

/* ROUND_TO_PAGES(Size): size rounded up to whole pages. */
static inline uint64_t dl_round_to_pages(uint64_t size, uint64_t page_size) {
  return (size + page_size - 1) & ~(page_size - 1);
}

/* ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size): the pages [va, va+size) touches,
** (BYTE_OFFSET(Va) + Size + PAGE_SIZE - 1) / PAGE_SIZE, written so that it
** does not overflow: (0x1FFF, 2) spans 2 pages of 4096, (0x1000, 4096) 1;
** as in the WDK, a size of 0 gives 0 on a page boundary and 1 elsewhere. */
static inline uint64_t dl_span_pages(uint64_t va, uint64_t size, uint64_t page_size) {
  return size / page_size + (dl_byte_offset(va, page_size) + size % page_size + page_size - 1) / page_size;
}

/* EVENT_TYPE, KWAIT_REASON, WORK_QUEUE_TYPE and ExAllocatePool2's POOL_FLAG_*. */
const dl_wdk_value *dl_wdk_kernel_table(size_t *count);

/* Page protections (winnt.h), as MmMapIoSpaceEx takes them. */
enum {
  DL_PAGE_NOACCESS = 0x01,
  DL_PAGE_READONLY = 0x02,
  DL_PAGE_READWRITE = 0x04,
  DL_PAGE_EXECUTE = 0x10,
  DL_PAGE_EXECUTE_READ = 0x20,
  DL_PAGE_EXECUTE_READWRITE = 0x40,
  DL_PAGE_NOCACHE = 0x200,
  DL_PAGE_WRITECOMBINE = 0x400
};

/* CM_RESOURCE_TYPE (wdm.h). */
enum { DL_CM_NULL = 0, DL_CM_PORT = 1, DL_CM_INTERRUPT = 2, DL_CM_MEMORY = 3 };

/* CM_SHARE_DISPOSITION. */
enum {
  DL_CM_SHARE_UNDETERMINED = 0,
  DL_CM_SHARE_DEVICE_EXCLUSIVE = 1,
  DL_CM_SHARE_DRIVER_EXCLUSIVE = 2,
  DL_CM_SHARE_SHARED = 3
};

/* Flags of each type. */
enum {
  DL_CM_INTERRUPT_LEVEL_SENSITIVE = 0x0000,
  DL_CM_INTERRUPT_LATCHED = 0x0001,
  DL_CM_INTERRUPT_MESSAGE = 0x0002,
  DL_CM_MEMORY_READ_WRITE = 0x0000,
  DL_CM_MEMORY_PREFETCHABLE = 0x0004,
  DL_CM_PORT_MEMORY = 0x0000,
  DL_CM_PORT_IO = 0x0001,
  DL_CM_PORT_16_BIT_DECODE = 0x0010
};

/* The CM_RESOURCE_TYPE, CM_SHARE_DISPOSITION and CM_RESOURCE_* flag values
** of resource descriptors (wdm.h), by WDK name. */
const dl_wdk_value *dl_wdk_cm_table(size_t *count);

#endif
