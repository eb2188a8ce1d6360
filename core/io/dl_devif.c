/*
** dl_devif.c: device interfaces (see dl_devif.h).
*/
#include "io/dl_devif.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/dl_status.h"
#include "machine/dl_machine.h"

static void destroy(dl_object *o) {
  dl_object_unlink(o);
  free(o);
}

const dl_object_type dl_devif_type = { "DEVICE_INTERFACE", destroy, NULL, NULL, NULL };

/* The machine's interface after `o` (the first if NULL), or NULL. */
static dl_devif *next_of(dl_machine *m, dl_devif *o) {
  dl_link *head = dl_machine_objects(m);
  for (dl_link *l = o ? o->objects.next : head->next; l != head; l = l->next) {
    dl_object *x = DL_CONTAINER(l, dl_object, objects);
    if (x->type == &dl_devif_type) return (dl_devif *)x;
  }
  return NULL;
}

/* A GUID in registry form. */
int dl_guid_valid(const char *s) {
  static const char form[] = "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}";
  if (strlen(s) != sizeof form - 1) return 0;
  for (size_t i = 0; form[i]; i++)
    if (form[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != form[i]) return 0;
  return 1;
}

/* IoRegisterDeviceInterface. */
int dl_io_register_device_interface(dl_device *dev, const char *guid, const char *ref,
                                    dl_devif **out) {
  if (!dl_guid_valid(guid)) return DL_EINVAL;
  if (!ref) ref = "";
  if (strlen(ref) > 63 || strchr(ref, '\\')) return DL_EINVAL;
  char link[200];
  snprintf(link, sizeof link, "\\??\\DMALAB#%s#%llu#%s%s%s", dev->name,
           (unsigned long long)dev->id, guid, *ref ? "\\" : "", ref);
  for (dl_devif *f = next_of(dev->m, NULL); f; f = next_of(dev->m, f))
    if (strcasecmp(f->link, link) == 0) {
      *out = f;  /* registered before: the same link */
      return DL_OK;
    }
  dl_devif *f = calloc(1, sizeof *f);
  if (!f) return DL_ENOMEM;
  dl_object_init(DL_OBJECT(f), dev->m, &dl_devif_type, NULL);
  f->dev = dev;
  snprintf(f->guid, sizeof f->guid, "%s", guid);
  snprintf(f->link, sizeof f->link, "%s", link);
  *out = f;
  return DL_OK;
}

/* The interface with that link, enabled or not. */
static dl_devif *by_link(dl_machine *m, const char *link) {
  for (dl_devif *f = next_of(m, NULL); f; f = next_of(m, f))
    if (strcasecmp(f->link, link) == 0) return f;
  return NULL;
}

/* IoSetDeviceInterfaceState. */
int dl_io_set_device_interface_state(dl_machine *m, const char *link, int enable) {
  dl_devif *f = by_link(m, link);
  if (!f) return DL_ERANGE;
  f->enabled = enable != 0;
  return DL_OK;
}

/* The i-th interface of the class. */
dl_devif *dl_io_device_interface_at(dl_machine *m, const char *guid, const dl_device *dev, int all,
                                    size_t i) {
  for (dl_devif *f = next_of(m, NULL); f; f = next_of(m, f)) {
    if ((guid && strcasecmp(f->guid, guid) != 0) || (dev && f->dev != dev) || (!all && !f->enabled))
      continue;
    if (i-- == 0) return f;
  }
  return NULL;
}

/* The enabled interface with that link. */
dl_devif *dl_io_find_device_interface(dl_machine *m, const char *link) {
  dl_devif *f = by_link(m, link);
  return f && f->enabled ? f : NULL;
}
