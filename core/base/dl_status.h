/*
** dl_status.h: status codes of the dmalab engine.
** Every core function that can fail returns one of these (0 is success),
** in the manner of SQLite's result codes; dl_strerror names them.
*/
#ifndef DL_STATUS_H
#define DL_STATUS_H

enum {
  DL_OK = 0,
  DL_ENOMEM,       /* host memory exhausted */
  DL_EINVAL,       /* an argument is out of its domain */
  DL_ENOSPACE,     /* simulated physical memory cannot satisfy the request */
  DL_ENOTMAPPED,   /* a virtual or logical address is not mapped */
  DL_ESTATE,       /* the object is not in a state that allows the call */
  DL_EBUSY,        /* the object is in use (locked pages, live partial MDLs) */
  DL_ERANGE,       /* an address range lies outside its object */
  DL_EIO,          /* a host file could not be written */
  DL_ELIMIT,       /* over a limit the engine sets on what one call may cost the host */
  DL_STATUS_COUNT
};

/* Returns a short, constant description of a status code. */
const char *dl_strerror(int status);

#endif
