/*
** dl_ntstatus.c: the NTSTATUS table, built from the defines of
** dl_ntstatus.h (each value is written once there).
*/
#include "base/dl_ntstatus.h"

static const dl_wdk_value statuses[] = {
  {"STATUS_SUCCESS", DL_STATUS_SUCCESS},
  {"STATUS_PENDING", DL_STATUS_PENDING},
  {"STATUS_DEVICE_BUSY", DL_STATUS_DEVICE_BUSY},
  {"STATUS_UNSUCCESSFUL", DL_STATUS_UNSUCCESSFUL},
  {"STATUS_ACCESS_VIOLATION", DL_STATUS_ACCESS_VIOLATION},
  {"STATUS_INVALID_PARAMETER", DL_STATUS_INVALID_PARAMETER},
  {"STATUS_INVALID_DEVICE_REQUEST", DL_STATUS_INVALID_DEVICE_REQUEST},
  {"STATUS_MORE_PROCESSING_REQUIRED", DL_STATUS_MORE_PROCESSING_REQUIRED},
  {"STATUS_NO_MEMORY", DL_STATUS_NO_MEMORY},
  {"STATUS_BUFFER_TOO_SMALL", DL_STATUS_BUFFER_TOO_SMALL},
  {"STATUS_SHARING_VIOLATION", DL_STATUS_SHARING_VIOLATION},
  {"STATUS_DELETE_PENDING", DL_STATUS_DELETE_PENDING},
  {"STATUS_INSUFFICIENT_RESOURCES", DL_STATUS_INSUFFICIENT_RESOURCES},
  {"STATUS_DEVICE_DATA_ERROR", DL_STATUS_DEVICE_DATA_ERROR},
  {"STATUS_IO_TIMEOUT", DL_STATUS_IO_TIMEOUT},
  {"STATUS_NOT_SUPPORTED", DL_STATUS_NOT_SUPPORTED},
  {"STATUS_CANCELLED", DL_STATUS_CANCELLED},
  {"STATUS_INVALID_DEVICE_STATE", DL_STATUS_INVALID_DEVICE_STATE},
  {"STATUS_IO_DEVICE_ERROR", DL_STATUS_IO_DEVICE_ERROR},
  {"STATUS_WDF_BUSY", DL_STATUS_WDF_BUSY},
  {"STATUS_WDF_TOO_FRAGMENTED", DL_STATUS_WDF_TOO_FRAGMENTED},
  {"STATUS_WDF_TOO_MANY_TRANSFERS", DL_STATUS_WDF_TOO_MANY_TRANSFERS},
  {"STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS", DL_STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS},
};

/* The table of every NTSTATUS the lab uses. */
const dl_wdk_value *dl_ntstatus_table(size_t *count) {
  *count = sizeof statuses / sizeof statuses[0];
  return statuses;
}

/* The name of the first row holding value, or NULL. */
const char *dl_wdk_name(const dl_wdk_value *table, size_t n, uint32_t value) {
  for (size_t i = 0; i < n; i++)
    if (table[i].value == value) return table[i].name;
  return NULL;
}

/* The WDK name of an NTSTATUS, or NULL. */
const char *dl_ntstatus_name(uint32_t status) {
  return dl_wdk_name(statuses, sizeof statuses / sizeof statuses[0], status);
}
