/*
** dl_status.c: names of the engine's status codes.
*/
#include "base/dl_status.h"

static const char *const messages[DL_STATUS_COUNT] = {
  [DL_OK] = "success",
  [DL_ENOMEM] = "out of host memory",
  [DL_EINVAL] = "invalid argument",
  [DL_ENOSPACE] = "not enough simulated physical memory",
  [DL_ENOTMAPPED] = "address not mapped",
  [DL_ESTATE] = "object in the wrong state",
  [DL_EBUSY] = "object in use",
  [DL_ERANGE] = "range outside the object",
  [DL_EIO] = "host file write failed",
  [DL_ELIMIT] = "over an engine limit",
};

/* Returns a short, constant description of a status code. */
const char *dl_strerror(int status) {
  if (status < 0 || status >= DL_STATUS_COUNT) return "unknown status";
  return messages[status];
}
