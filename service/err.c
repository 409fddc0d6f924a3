/*
 * err: names for the error codes of include/consentd/err.h.
 */
#include "consentd/err.h"

const char *
err_str(enum err rc)
{
    switch (rc) {
    case ERR_OK:
        return "success";
    case ERR_NOMEM:
        return "out of memory";
    case ERR_INVAL:
        return "invalid input";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_BADSIG:
        return "verification failed";
    case ERR_CONFLICT:
        return "conflict";
    case ERR_STORAGE:
        return "storage failure";
    case ERR_TOOBIG:
        return "too big";
    case ERR_IO:
        return "i/o error";
    case ERR_PERM:
        return "unsafe permissions";
    case ERR_UNAVAIL:
        return "unavailable";
    case ERR_AUTH:
        return "not authorised";
    case ERR_EXISTS:
        return "already exists";
    }
    return "unknown error";
}
