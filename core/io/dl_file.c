/*
** dl_file.c: file objects and the I/O manager's rules on them (see dl_file.h).
*/
#include "io/dl_file.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl_ntstatus.h"
#include "base/dl_status.h"
#include "io/dl_device.h"

static void destroy(dl_object *o) { dl_file_free((dl_file *)o); }

const dl_object_type dl_file_type = { "FILE_OBJECT", destroy, NULL, NULL, NULL };

/* A new file object. */
int dl_file_new(dl_machine *m, dl_file **out) {
  dl_file *f = calloc(1, sizeof *f);
  if (!f) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(f), m, &dl_file_type, NULL);
  *out = f;
  return DL_OK;
}

/* Frees it. */
void dl_file_free(dl_file *f) {
  if (!f) return;
  dl_object_unlink(DL_OBJECT(f));
  free(f->name);
  free(f);
}

/* May irp be sent to dev on its file? */
int dl_file_check_send(const dl_irp *irp, const dl_device *dev) {
  const dl_file *f = irp->file;
  if (!f) return DL_OK;
  if (irp->major == DL_IRP_MJ_CREATE) {
    if (f->dev || f->state != DL_FILE_NEW) return DL_ESTATE;
    return (dev->flags & DL_DO_EXCLUSIVE) && dev->open_files ? DL_EBUSY : DL_OK;
  }
  if (f->dev != dev) return DL_ESTATE;
  if (irp->major == DL_IRP_MJ_CLOSE)
    return f->state == DL_FILE_OPEN || f->state == DL_FILE_CLEANED_UP ? DL_OK : DL_ESTATE;
  return f->state == DL_FILE_OPEN ? DL_OK : DL_ESTATE;
}

/* A create's file belongs to the device it is sent to. */
void dl_file_on_send(dl_irp *irp, dl_device *dev) {
  if (irp->file && irp->major == DL_IRP_MJ_CREATE) irp->file->dev = dev;
}

/* The file's life moves on with its completed requests. */
void dl_file_on_complete(dl_irp *irp) {
  dl_file *f = irp->file;
  if (!f || !f->dev) return;
  if (irp->major == DL_IRP_MJ_CREATE && f->state == DL_FILE_NEW) {
    f->state = dl_nt_success(irp->status) ? DL_FILE_OPEN : DL_FILE_CLOSED;
    if (f->state == DL_FILE_OPEN) f->dev->open_files++;
  } else if (irp->major == DL_IRP_MJ_CLEANUP && f->state == DL_FILE_OPEN) {
    f->state = DL_FILE_CLEANED_UP;
  } else if (irp->major == DL_IRP_MJ_CLOSE && f->state != DL_FILE_CLOSED) {
    f->state = DL_FILE_CLOSED;
    if (f->dev->open_files) f->dev->open_files--;
  }
}

/* The FileName of a create not yet sent. */
int dl_file_set_name(dl_file *f, const char *name) {
  if (f->dev || f->state != DL_FILE_NEW) return DL_ESTATE;
  size_t n = name ? strlen(name) : 0;
  if (n > DL_FILE_NAME_MAX || (n && name[0] != '\\')) return DL_EINVAL;
  char *copy = NULL;
  if (n) {
    copy = malloc(n + 1);
    if (!copy) return DL_ENOMEM;
    memcpy(copy, name, n + 1);
  }
  free(f->name);
  f->name = copy;
  return DL_OK;
}

/* Accessors. */
const char *dl_file_name(const dl_file *f) { return f->name ? f->name : ""; }
dl_file_state dl_file_get_state(const dl_file *f) { return f->state; }
dl_device *dl_file_device(const dl_file *f) { return f->dev; }
