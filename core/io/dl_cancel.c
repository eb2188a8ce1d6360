/*
** dl_cancel.c: IoCancelIrp and IoSetCancelRoutine (see dl_cancel.h).
*/
#include "io/dl_cancel.h"

#include "io/dl_driver.h"
#include "kernel/dl_cpu.h"
#include "machine/dl_machine.h"
#include "machine/dl_verifier.h"

/* IoSetCancelRoutine. */
int dl_io_set_cancel_routine(dl_irp *irp, dl_irp_cancel_fn fn, void *ctx) {
  int had = irp->cancel_routine != NULL;
  irp->cancel_routine = fn;
  irp->cancel_ctx = fn ? ctx : NULL;
  return had;
}

/* IoCancelIrp. */
int dl_io_cancel_irp(dl_irp *irp) {
  dl_machine *m = irp->m;
  uint8_t irql = dl_machine_irql(m);
  if (irql > DL_DISPATCH_LEVEL)
    dl_verify_fail(m, DL_BUGCHECK_IOMANAGER, DL_IOV_MISC, irp->id, irql, 0,
                   "IoCancelIrp: called at IRQL %u; it must be called at IRQL <= 2",
                   (unsigned)irql);
  if (!irp->device || irp->completed) return 0;
  irp->cancel = 1;
  dl_irp_cancel_fn fn = irp->cancel_routine;
  void *ctx = irp->cancel_ctx;
  if (!fn) return 0;
  irp->cancel_routine = NULL;  /* taken under the cancel spin lock */
  irp->cancel_ctx = NULL;
  if (irql < DL_DISPATCH_LEVEL) dl_machine_set_irql(m, DL_DISPATCH_LEVEL);
  fn(ctx, irp);
  dl_machine_set_irql(m, irql);
  return 1;
}

/* Irp->Cancel. */
int dl_irp_cancelled(const dl_irp *irp) { return irp->cancel; }
