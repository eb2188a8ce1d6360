/*
** test_layout.c: C structure layout (core/base/dl_layout.c) and typed
** access to simulated memory (dl_rtl_read_uint/write_uint): natural
** alignment, arrays, nested structures padded to their alignment, sizeof
** rounded up; little-endian encoding with sign extension for signed types.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/dl_layout.h"
#include "base/dl_status.h"
#include "kernel/dl_pool.h"
#include "kernel/dl_rtl.h"
#include "machine/dl_machine.h"

/* The descriptor, checked against the C compiler's own layout. */
struct desc { uint32_t status, link; uint64_t buffer; uint16_t length; };

static void test_descriptor_layout(void **state) {
  (void)state;
  dl_layout l;
  uint64_t off[4];
  dl_layout_init(&l);
  assert_int_equal(dl_layout_add(&l, 4, 4, 1, &off[0]), DL_OK);
  assert_int_equal(dl_layout_add(&l, 4, 4, 1, &off[1]), DL_OK);
  assert_int_equal(dl_layout_add(&l, 8, 8, 1, &off[2]), DL_OK);
  assert_int_equal(dl_layout_add(&l, 2, 2, 1, &off[3]), DL_OK);
  assert_int_equal(off[0], offsetof(struct desc, status));
  assert_int_equal(off[1], offsetof(struct desc, link));
  assert_int_equal(off[2], offsetof(struct desc, buffer));
  assert_int_equal(off[3], offsetof(struct desc, length));
  assert_int_equal(dl_layout_finish(&l), sizeof(struct desc));  /* 24: padded to 8 */
  assert_int_equal(l.align, 8);
}

struct inner { uint8_t a; uint16_t b; };              /* 4 bytes, align 2 */
struct outer { uint8_t c; struct inner in[3]; uint8_t tail[5]; uint32_t x; };

static void test_arrays_and_nesting(void **state) {
  (void)state;
  dl_layout in, out;
  uint64_t o;
  dl_layout_init(&in);
  dl_layout_add(&in, 1, 1, 1, &o);
  dl_layout_add(&in, 2, 2, 1, &o);
  assert_int_equal(dl_layout_finish(&in), sizeof(struct inner));
  dl_layout_init(&out);
  dl_layout_add(&out, 1, 1, 1, &o);
  assert_int_equal(dl_layout_add(&out, in.size, in.align, 3, &o), DL_OK);
  assert_int_equal(o, offsetof(struct outer, in));
  assert_int_equal(dl_layout_add(&out, 1, 1, 5, &o), DL_OK);
  assert_int_equal(o, offsetof(struct outer, tail));
  assert_int_equal(dl_layout_add(&out, 4, 4, 1, &o), DL_OK);
  assert_int_equal(o, offsetof(struct outer, x));
  assert_int_equal(dl_layout_finish(&out), sizeof(struct outer));
  assert_int_equal(dl_layout_add(&out, 4, 3, 1, &o), DL_EINVAL);  /* not a power of two */
  assert_int_equal(dl_layout_add(&out, 4, 4, 0, &o), DL_EINVAL);
  assert_int_equal(dl_layout_add(&out, UINT64_C(1) << 31, 8, 4, &o), DL_EINVAL);
}

static void test_types_and_encoding(void **state) {
  (void)state;
  assert_int_equal(dl_ctype_find("USHORT")->size, 2);
  assert_int_equal(dl_ctype_find("PHYSICAL_ADDRESS")->size, 8);
  assert_true(dl_ctype_find("LONG")->is_signed);
  assert_null(dl_ctype_find("FLOAT"));
  unsigned char b[8];
  dl_ctype_encode(b, 4, 0x11223344);
  assert_int_equal(b[0], 0x44);
  assert_int_equal(b[3], 0x11);
  dl_ctype_encode(b, 2, 0xFFFE);
  assert_int_equal(dl_ctype_decode(b, 2, 0), 0xFFFE);
  assert_int_equal((int64_t)dl_ctype_decode(b, 2, 1), -2);
}

static void test_typed_memory(void **state) {
  (void)state;
  dl_machine_config cfg;
  dl_machine_config_init(&cfg);
  dl_machine *m;
  assert_int_equal(dl_machine_new(&cfg, &m), DL_OK);
  uint64_t va, v;
  assert_int_equal(dl_pool_alloc(m, 0, 16, 1, 1, &va, NULL), DL_OK);
  assert_int_equal(dl_rtl_write_uint(m, va + 4, 4, 0xA1B2C3D4), DL_OK);
  assert_int_equal(dl_rtl_read_uint(m, va + 4, 2, &v), DL_OK);
  assert_int_equal(v, 0xC3D4);
  assert_int_equal(dl_rtl_read_uint(m, va, 8, &v), DL_OK);
  assert_int_equal(v, UINT64_C(0xA1B2C3D400000000));
  assert_int_equal(dl_rtl_read_uint(m, va + 12, 8, &v), DL_ENOTMAPPED);  /* past its end */
  assert_int_equal(dl_rtl_read_uint(m, va, 3, &v), DL_EINVAL);
  dl_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_descriptor_layout),
    cmocka_unit_test(test_arrays_and_nesting),
    cmocka_unit_test(test_types_and_encoding),
    cmocka_unit_test(test_typed_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
