/*
 * config: the service's settings. Defaults are below; the data directory's consentd.conf (INI,
 * read with inih) overrides them, the environment (CONSENTD_*) overrides the file, and
 * command-line flags override both. Unknown sections or keys and out-of-range values are
 * errors. A struct config is immutable once the service starts and is passed explicitly.
 *
 * THREAD SAFETY: a loaded struct config is read-only and may be shared.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/secret.h"

#define CONFIG_DEFAULT_LISTEN          "127.0.0.1:8080"
#define CONFIG_DEFAULT_ORIGIN          "consentd.example/log"
#define CONFIG_DEFAULT_ISSUER          "http://127.0.0.1:8080"
#define CONFIG_DEFAULT_POLICY          "policies/default.json"
#define CONFIG_DEFAULT_THREADS         0 /* one per core */
#define CONFIG_DEFAULT_MAX_CONNECTIONS 1024
#define CONFIG_DEFAULT_MAX_BODY        65536
#define CONFIG_DEFAULT_REQ_TIMEOUT_MS  10000
#define CONFIG_DEFAULT_BATCH_MAX       4096
#define CONFIG_DEFAULT_MAP_SIZE_MB     4096
#define CONFIG_DEFAULT_QUEUE_MAX       65536

#define CONFIG_FILE_NAME      "consentd.conf"
#define CONFIG_CKPT_KEY_NAME  "checkpoint.key"
#define CONFIG_TOKEN_KEY_NAME "token.key"
#define CONFIG_CKPT_LOG_NAME  "checkpoints"
#define CONFIG_LMDB_DIR_NAME  "lmdb"
#define CONFIG_LOCK_NAME      "consentd.lock"

#define CONFIG_MAX_THREADS 64
#define CONFIG_STR_MAX     512

struct config {
    char data_dir[PATH_MAX];
    char listen[CONFIG_STR_MAX]; /* host:port, or [v6]:port */
    char origin[CONFIG_STR_MAX]; /* checkpoint origin line */
    char issuer[CONFIG_STR_MAX]; /* OAuth issuer URL, exactly as clients use it */
    char policy[PATH_MAX];       /* policy document */
    char tls_cert[PATH_MAX];     /* PEM certificate chain; empty: plain HTTP */
    char tls_key[PATH_MAX];      /* PEM private key */
    char admin_token_hash[SECRET_HASH_MAX];
    unsigned threads;         /* HTTP worker threads; 0: one per core */
    unsigned max_connections; /* open client connections, all threads together */
    uint64_t max_body;        /* request body cap, bytes */
    unsigned req_timeout_ms;  /* headers, body, keep-alive idle, an answer not read */
    unsigned batch_max;       /* entries in one group commit */
    unsigned queue_max;       /* writes waiting for the sequencer */
    uint64_t map_size_mb;     /* LMDB map size */
};

/* config_defaults fills c with the built-in defaults and the data directory dir. */
void config_defaults(struct config *c, const char *dir);

/*
 * config_load_file reads DIR/consentd.conf over c. Returns ERR_OK; ERR_IO if it cannot be read;
 * ERR_INVAL with a sentence in why (why_cap bytes) naming the line and the key.
 */
enum err config_load_file(struct config *c, char *why, size_t why_cap);

/* config_load_env applies CONSENTD_* variables over c; errors as config_load_file. */
enum err config_load_env(struct config *c, char *why, size_t why_cap);

/*
 * config_set applies one setting by its INI name ("listen", "threads", …) as a flag would.
 * Returns ERR_INVAL with why set for an unknown name or a bad value.
 */
enum err config_set(struct config *c, const char *name, const char *value, char *why,
                    size_t why_cap);

/*
 * config_write writes c's persistent settings as a new DIR/consentd.conf (mode 0600, fsynced).
 * Returns ERR_EXISTS if the file exists, ERR_IO otherwise on failure.
 */
enum err config_write(const struct config *c);

/*
 * config_path writes DIR/name into out (PATH_MAX bytes). Returns ERR_TOOBIG if it does not fit.
 */
enum err config_path(const struct config *c, const char *name, char out[static PATH_MAX]);

/* config_split_listen splits "host:port" or "[v6]:port"; ERR_INVAL if malformed. */
enum err config_split_listen(const char *listen, char *host, size_t host_cap, uint16_t *port);

#endif
