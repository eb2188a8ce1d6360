/*
** test_wdk.c: the I/O values a driver passes (device types, characteristics,
** IOCTL methods and access, pool and WDF I/O types) with the WDK headers'
** values, CTL_CODE with the documented layout, and the WDK naming that
** tells a routine or value the lab lacks from an ordinary name.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/dl_wdk.h"

/* The value of `name` in the I/O table; fails the test when it is missing. */
static uint32_t io_value(const char *name) {
  size_t n;
  const dl_wdk_value *t = dl_wdk_io_table(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0) return t[i].value;
  fail_msg("%s is not in the I/O table", name);
  return 0;
}

/* Names are unique and carry the WDK's values (devioctl.h, wdm.h, wdfdevice.h). */
static void io_table_values(void **state) {
  (void)state;
  size_t n;
  const dl_wdk_value *t = dl_wdk_io_table(&n);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) assert_string_not_equal(t[i].name, t[j].name);
  assert_int_equal(io_value("FILE_DEVICE_UNKNOWN"), 0x22);
  assert_int_equal(io_value("FILE_DEVICE_DISK"), 0x07);
  assert_int_equal(io_value("FILE_DEVICE_NETWORK"), 0x12);
  assert_int_equal(io_value("FILE_DEVICE_SERIAL_PORT"), 0x1b);
  assert_int_equal(io_value("FILE_DEVICE_SECURE_OPEN"), 0x100);
  assert_int_equal(io_value("METHOD_BUFFERED"), 0);
  assert_int_equal(io_value("METHOD_IN_DIRECT"), 1);
  assert_int_equal(io_value("METHOD_OUT_DIRECT"), 2);
  assert_int_equal(io_value("METHOD_NEITHER"), 3);
  assert_int_equal(io_value("FILE_ANY_ACCESS"), 0);
  assert_int_equal(io_value("FILE_READ_DATA"), 1);
  assert_int_equal(io_value("FILE_WRITE_DATA"), 2);
  assert_int_equal(io_value("NonPagedPool"), 0);
  assert_int_equal(io_value("PagedPool"), 1);
  assert_int_equal(io_value("NonPagedPoolNx"), 512);
  assert_int_equal(io_value("WdfDeviceIoNeither"), 1);
  assert_int_equal(io_value("WdfDeviceIoBuffered"), 2);
  assert_int_equal(io_value("WdfDeviceIoDirect"), 3);
}

/* CTL_CODE: DeviceType in bits 16-31, Access 14-15, Function 2-13, Method 0-1. */
static void ctl_code_layout(void **state) {
  (void)state;
  assert_int_equal(dl_ctl_code(0x22, 0x800, DL_METHOD_BUFFERED, DL_FILE_ANY_ACCESS), 0x222000);
  assert_int_equal(dl_ctl_code(0x22, 0x801, DL_METHOD_OUT_DIRECT, DL_FILE_READ_ACCESS), 0x226006);
  /* IOCTL_DISK_GET_DRIVE_GEOMETRY = CTL_CODE(FILE_DEVICE_DISK, 0, METHOD_BUFFERED, FILE_ANY_ACCESS) */
  assert_int_equal(dl_ctl_code(0x07, 0, DL_METHOD_BUFFERED, DL_FILE_ANY_ACCESS), 0x70000);
  assert_int_equal(dl_ctl_code(0xFFFF, 0xFFF, 3, 3), 0xFFFFFFFFu);
}

/* Routines and function-like macros by prefix or by name. */
static void classify_routines(void **state) {
  (void)state;
  static const char *const names[] = {
    "IoCreateSymbolicLink", "KeWaitForSingleObject", "MmAllocatePagesForMdl", "ExAllocatePool2",
    "RtlZeroMemory", "WdfSpinLockCreate", "HalGetBusData", "ZwClose", "ObReferenceObject",
    "PsGetCurrentThreadId", "PoStartNextPowerIrp", "DbgPrint", "KdPrint", "READ_PORT_UCHAR",
    "WRITE_REGISTER_ULONG", "WDF_IO_QUEUE_CONFIG_INIT", "WDF_DECLARE_CONTEXT_TYPE_WITH_NAME",
    "WDF_USB_DEVICE_SELECT_CONFIG_PARAMS_INIT_SINGLE_INTERFACE", "WDF_REL_TIMEOUT_IN_MS",
    "InitializeListHead", "UNREFERENCED_PARAMETER", NULL
  };
  for (size_t i = 0; names[i]; i++) assert_int_equal(dl_wdk_classify(names[i]), DL_WDK_ROUTINE);
}

/* Values: ALL_CAPS names of the WDK's families and enum values. */
static void classify_constants(void **state) {
  (void)state;
  static const char *const names[] = {
    "FILE_DEVICE_SECURE_OPEN", "METHOD_FOO", "IRP_MJ_FOO", "STATUS_FOO", "WDF_NO_OBJECT_ATTRIBUTE",
    "NonPagedPoolCacheAligned", "WdfDeviceIoBuffered", "WdfExecutionLevelPassive", "IoReadAccess",
    "MmCached", "SynchronizationEvent", "Executive", "DEVICE_POWER_LEVEL", NULL
  };
  for (size_t i = 0; names[i]; i++) assert_int_equal(dl_wdk_classify(names[i]), DL_WDK_CONSTANT);
  assert_int_equal(dl_wdk_classify("WDF_NO_OBJECT_ATTRIBUTES"), DL_WDK_NULL);
  assert_int_equal(dl_wdk_classify("WDF_NO_HANDLE"), DL_WDK_NULL);
  assert_int_equal(dl_wdk_classify("NULL"), DL_WDK_NULL);
}

/* Everything else is an ordinary name: Lua's, a script's, a typo. */
static void classify_others(void **state) {
  (void)state;
  static const char *const names[] = {
    "print", "string", "dma", "foo", "Iota", "KeepObject", "Example", "Object", "Port", "MY_LIMIT",
    "DEBUG", "N", "Io", "Wdf", "x_y", "FILE", "Hello", "_ENV", "", NULL
  };
  for (size_t i = 0; names[i]; i++) assert_int_equal(dl_wdk_classify(names[i]), DL_WDK_OTHER);
  assert_int_equal(dl_wdk_classify(NULL), DL_WDK_OTHER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(io_table_values),
    cmocka_unit_test(ctl_code_layout),
    cmocka_unit_test(classify_routines),
    cmocka_unit_test(classify_constants),
    cmocka_unit_test(classify_others),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
