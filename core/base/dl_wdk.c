/*
** dl_wdk.c: the tables of IRP major codes and IRQLs, built from the
** enums of dl_wdk.h (each value is written once there).
*/
#include "base/dl_wdk.h"

static const dl_wdk_value majors[] = {
  {"IRP_MJ_CREATE", DL_IRP_MJ_CREATE},
  {"IRP_MJ_CLOSE", DL_IRP_MJ_CLOSE},
  {"IRP_MJ_READ", DL_IRP_MJ_READ},
  {"IRP_MJ_WRITE", DL_IRP_MJ_WRITE},
  {"IRP_MJ_DEVICE_CONTROL", DL_IRP_MJ_DEVICE_CONTROL},
  {"IRP_MJ_MAXIMUM_FUNCTION", DL_IRP_MJ_MAXIMUM_FUNCTION},
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
