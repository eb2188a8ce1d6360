/*
** dl_file.h: file objects (the WDK's FILE_OBJECT, reduced to what the I/O
** manager's rules need): the originator opens one with IRP_MJ_CREATE,
** sends reads, writes and IOCTLs on it, and ends it with IRP_MJ_CLEANUP
** (the last handle closed) and IRP_MJ_CLOSE (the last reference gone).
**
** The I/O manager's rules: a create on a file already sent is refused, a
** create on an exclusive device (DO_EXCLUSIVE) that has an open file fails
** with STATUS_ACCESS_DENIED without reaching the driver; any other request
** on a file goes to the device it was opened on, while it is open (CLOSE
** after CLEANUP, nothing after CLOSE). A file lives as long as its machine.
**
** FileName: the part of the path the originator opened past the device's
** name (\h2c_0 for \Device\XDMA\h2c_0), empty when the device
** itself was opened; set before the create is sent, kept for the file's
** life.
*/
#ifndef DL_FILE_H
#define DL_FILE_H

#include <stdint.h>

#include "io/dl_irp.h"

/* A file's life. */
typedef enum dl_file_state {
  DL_FILE_NEW,        /* made, its IRP_MJ_CREATE not yet sent or completed */
  DL_FILE_OPEN,       /* the create succeeded */
  DL_FILE_CLEANED_UP, /* IRP_MJ_CLEANUP completed */
  DL_FILE_CLOSED      /* IRP_MJ_CLOSE completed, or the create failed */
} dl_file_state;

struct dl_file {
  DL_OBJECT_FIELDS
  dl_device *dev;     /* the device it was opened on (NULL until its create is sent) */
  dl_file_state state;
  void *fx;           /* the framework's file object (WDFFILEOBJECT), or NULL */
  char *name;         /* FileName, or NULL for an empty one */
};

/* The longest FileName: a UNICODE_STRING's Length is a USHORT of bytes. */
#define DL_FILE_NAME_MAX 32767

/* The FILE_OBJECT type. */
extern const dl_object_type dl_file_type;

/* A new file object, for an IRP_MJ_CREATE. */
int dl_file_new(dl_machine *m, dl_file **out);

/* Frees it; NULL is a harmless no-op. */
void dl_file_free(dl_file *f);

/* IoCallDriver's checks of irp's file: DL_ESTATE if the request may not be
** sent on it (see above); DL_EBUSY for a create on an exclusive device
** that has a file open (the caller fails it with STATUS_ACCESS_DENIED). */
int dl_file_check_send(const dl_irp *irp, const dl_device *dev);

/* Records a create's device when it is sent. */
void dl_file_on_send(dl_irp *irp, dl_device *dev);

/* IoCompleteRequest's part: a create that succeeded opens the file, one
** that failed closes it; a cleanup and a close move it on. */
void dl_file_on_complete(dl_irp *irp);

/* Sets the FileName of a file whose create is not yet sent: empty, or
** starting with a backslash (the object manager's remainder of the path),
** at most DL_FILE_NAME_MAX characters. DL_ESTATE once the create was sent,
** DL_EINVAL for another name, DL_ENOMEM. */
int dl_file_set_name(dl_file *f, const char *name);

/* Accessors (dl_file_name: "" for an empty FileName). */
const char *dl_file_name(const dl_file *f);
dl_file_state dl_file_get_state(const dl_file *f);
dl_device *dl_file_device(const dl_file *f);

#endif
