/*
 * err: the one error type every fallible function in consentd returns.
 *
 * THREAD SAFETY: err_str() returns static strings and is safe from any thread.
 */
#ifndef ERR_H
#define ERR_H

enum err {
    ERR_OK = 0,
    ERR_NOMEM,    /* an allocation failed */
    ERR_INVAL,    /* the input is malformed or outside its limits */
    ERR_NOTFOUND, /* the thing asked for does not exist */
    ERR_BADSIG,   /* a signature, hash or proof did not verify */
    ERR_CONFLICT, /* the request contradicts current state (a known id, a fork) */
    ERR_STORAGE,  /* the store failed; the process must not acknowledge anything */
    ERR_TOOBIG,   /* the input is larger than its limit */
    ERR_IO,       /* a file operation failed (errno says why) */
    ERR_PERM,     /* a file's mode, owner or type is unsafe */
    ERR_UNAVAIL,  /* the service cannot do this now (read-only, shutting down) */
    ERR_AUTH,     /* missing or wrong credentials */
    ERR_EXISTS    /* the file or directory already exists */
};

/* err_str returns a short lower-case English phrase for rc; never NULL. */
const char *err_str(enum err rc);

#define ERR_WUR __attribute__((warn_unused_result))

#endif
