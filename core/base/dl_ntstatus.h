/*
** dl_ntstatus.h: every NTSTATUS the lab uses, defined once, with the
** WDK's values (ntstatus.h; the STATUS_WDF_* ones are wdfstatus.h's, facility
** 0x20: BUSY 0xC0200204 and TOO_FRAGMENTED 0xC020020A as in wdfstatus.h
** (ReactOS sdk/include/wdf/kmdf/1.9); the two KMDF 1.19 codes were not found
** in any source at hand). dl_ntstatus_table lists them by WDK name, so the
** Lua module exports exactly these.
*/
#ifndef DL_NTSTATUS_H
#define DL_NTSTATUS_H

#include <stddef.h>
#include <stdint.h>

#define DL_STATUS_SUCCESS 0x00000000u
#define DL_STATUS_TIMEOUT 0x00000102u
#define DL_STATUS_PENDING 0x00000103u
#define DL_STATUS_DEVICE_BUSY 0x80000011u
#define DL_STATUS_UNSUCCESSFUL 0xC0000001u
#define DL_STATUS_NOT_IMPLEMENTED 0xC0000002u
#define DL_STATUS_ACCESS_VIOLATION 0xC0000005u
#define DL_STATUS_INVALID_PARAMETER 0xC000000Du
#define DL_STATUS_INVALID_DEVICE_REQUEST 0xC0000010u
#define DL_STATUS_MORE_PROCESSING_REQUIRED 0xC0000016u
#define DL_STATUS_NO_MEMORY 0xC0000017u
#define DL_STATUS_BUFFER_TOO_SMALL 0xC0000023u
#define DL_STATUS_SHARING_VIOLATION 0xC0000043u
#define DL_STATUS_DELETE_PENDING 0xC0000056u
#define DL_STATUS_INSUFFICIENT_RESOURCES 0xC000009Au
#define DL_STATUS_DEVICE_DATA_ERROR 0xC000009Cu
#define DL_STATUS_IO_TIMEOUT 0xC00000B5u
#define DL_STATUS_NOT_SUPPORTED 0xC00000BBu
#define DL_STATUS_CANCELLED 0xC0000120u
#define DL_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define DL_STATUS_INVALID_BUFFER_SIZE 0xC0000206u
#define DL_STATUS_INVALID_PARAMETER_1 0xC00000EFu
#define DL_STATUS_IO_DEVICE_ERROR 0xC0000185u
#define DL_STATUS_WDF_BUSY 0xC0200204u
#define DL_STATUS_NO_MORE_ENTRIES 0x8000001Au
#define DL_STATUS_BUFFER_OVERFLOW 0x80000005u
#define DL_STATUS_ACCESS_DENIED 0xC0000022u
#define DL_STATUS_WDF_PAUSED 0xC0200203u
#define DL_STATUS_OBJECT_NAME_COLLISION 0xC0000035u
#define DL_STATUS_OBJECT_NAME_NOT_FOUND 0xC0000034u
#define DL_STATUS_WDF_TOO_FRAGMENTED 0xC020020Au
#define DL_STATUS_WDF_TOO_MANY_TRANSFERS 0xC020022Bu
#define DL_STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS 0xC020022Cu
#define DL_STATUS_DEVICE_NOT_READY 0xC00000A3u
#define DL_STATUS_DEVICE_NOT_CONNECTED 0xC000009Du
#define DL_STATUS_DEVICE_OFF_LINE 0x80000010u
#define DL_STATUS_DEVICE_CONFIGURATION_ERROR 0xC0000182u
#define DL_STATUS_INVALID_ADDRESS 0xC0000141u
#define DL_STATUS_NOT_FOUND 0xC0000225u
#define DL_STATUS_INTERNAL_ERROR 0xC00000E5u

/* A named Windows value: an NTSTATUS, IRP major code or IRQL. */
typedef struct dl_wdk_value {
  const char *name;   /* the WDK's name, e.g. "STATUS_PENDING" */
  uint32_t value;
} dl_wdk_value;

/* NT_SUCCESS: success and informational codes (severity bit clear). */
static inline int dl_nt_success(uint32_t status) { return status < 0x80000000u; }

/* NT_ERROR: error codes (severity 3). */
static inline int dl_nt_error(uint32_t status) { return status >= 0xC0000000u; }

/* The table of every NTSTATUS above; *count gets its length. */
const dl_wdk_value *dl_ntstatus_table(size_t *count);

/* The WDK name of an NTSTATUS ("STATUS_PENDING"), or NULL if the lab has none. */
const char *dl_ntstatus_name(uint32_t status);

/* The name of the first row of table[0..n) holding value, or NULL. */
const char *dl_wdk_name(const dl_wdk_value *table, size_t n, uint32_t value);

#endif
