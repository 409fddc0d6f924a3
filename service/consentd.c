/*
 * consentd: the daemon. `consentd init` makes a data directory; `consentd serve` serves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "consentd/ckpt.h"
#include "consentd/config.h"
#include "consentd/crashpoint.h"
#include "consentd/hash.h"
#include "consentd/http.h"
#include "consentd/jtis.h"
#include "consentd/keys.h"
#include "consentd/log.h"
#include "consentd/policy.h"
#include "consentd/rebuild.h"
#include "consentd/secret.h"
#include "consentd/sequencer.h"
#include "consentd/store.h"
#include "consentd/tls.h"
#include "consentd/token.h"
#include "consentd/tokenkeys.h"

#define WHY_MAX 512

static const char usage_main[] =
    "usage: consentd <command> [options]\n"
    "\n"
    "commands:\n"
    "  init    make a new data directory: keys, configuration and the log's first checkpoint\n"
    "  serve   serve a data directory over HTTP\n"
    "\n"
    "Run `consentd <command> --help` for a command's options. See docs/operations.md.\n";

static const char usage_init[] =
    "usage: consentd init --data DIR [--origin NAME] [--issuer URL] [--policy FILE]\n"
    "\n"
    "Makes DIR (mode 0700) with the checkpoint and token signing keys (mode 0600), the LMDB\n"
    "store, consentd.conf and the log's first checkpoint, then prints two lines:\n"
    "  admin-token: <the admin bearer token; shown once, only its hash is kept>\n"
    "  log-key: <the checkpoint verifier key, for consentctl audit verify --key>\n"
    "\n"
    "  --data DIR      the data directory (must not already hold a service)\n"
    "  --origin NAME   the log's origin line and checkpoint key name "
    "(default " CONFIG_DEFAULT_ORIGIN ")\n"
    "  --issuer URL    the OAuth issuer URL clients use (default " CONFIG_DEFAULT_ISSUER ")\n"
    "  --policy FILE   the policy document (default " CONFIG_DEFAULT_POLICY ")\n";

static const char usage_serve[] =
    "usage: consentd serve --data DIR [options]\n"
    "\n"
    "Serves DIR until SIGTERM or SIGINT. Flags override the environment (CONSENTD_*), which\n"
    "overrides DIR/consentd.conf.\n"
    "\n"
    "  --data DIR              the data directory made by consentd init\n"
    "  --listen HOST:PORT      address to listen on (default " CONFIG_DEFAULT_LISTEN ")\n"
    "  --policy FILE           the policy document\n"
    "  --threads N             HTTP worker threads (default: one per core)\n"
    "  --max-connections N     open connections, all threads together (default 1024)\n"
    "  --tls-cert FILE         serve HTTPS with this PEM certificate chain...\n"
    "  --tls-key FILE          ...and this PEM private key (mode 0600)\n"
    "  --check-config          check the configuration, print \"configuration OK\", and exit\n"
    "  --rebuild               replay the log into fresh state, compare it with the stored\n"
    "                          state table by table, report, and exit (0: identical)\n"
    "  --verbose, --debug      more diagnostics on standard error\n";

static int cmd_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
cmd_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "consentd: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static bool
dir_holds_service(const struct config *c)
{
    static const char *const names[] = {CONFIG_FILE_NAME, CONFIG_CKPT_LOG_NAME,
                                        CONFIG_CKPT_KEY_NAME, CONFIG_TOKEN_KEY_NAME,
                                        CONFIG_LMDB_DIR_NAME};
    char path[PATH_MAX];
    struct stat st;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (config_path(c, names[i], path) == ERR_OK && lstat(path, &st) == 0)
            return true;
    return false;
}

static int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},   {"origin", required_argument, NULL, 'o'},
        {"issuer", required_argument, NULL, 'i'}, {"policy", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    char token[SECRET_TOKEN_LEN + 1], path[PATH_MAX], vkey[NOTE_VKEY_MAX + 1], why[WHY_MAX];
    const char *data = NULL, *origin = NULL, *issuer = NULL, *policy = NULL;
    struct keys_pair *ck = NULL, *tk = NULL;
    struct ckpt_signer signer = {0};
    struct policy *pol = NULL;
    struct store *store = NULL;
    struct config cfg;
    int ch, code = EX_SOFTWARE;
    enum err rc;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            origin = optarg;
            break;
        case 'i':
            issuer = optarg;
            break;
        case 'p':
            policy = optarg;
            break;
        case 'h':
            fputs(usage_init, stdout);
            return EX_OK;
        default:
            fputs(usage_init, stderr);
            return EX_USAGE;
        }
    }
    if (data == NULL || optind != argc) {
        fputs(usage_init, stderr);
        return EX_USAGE;
    }
    config_defaults(&cfg, data);
    if ((origin != NULL && config_set(&cfg, "origin", origin, why, sizeof(why)) != ERR_OK) ||
        (issuer != NULL && config_set(&cfg, "issuer", issuer, why, sizeof(why)) != ERR_OK))
        return cmd_fail(EX_USAGE, "%s", why);
    if (!note_name_valid(cfg.origin) || strlen(cfg.origin) > NOTE_MAX_ORIGIN)
        return cmd_fail(EX_USAGE,
                        "--origin \"%s\" must be 1-255 bytes with no spaces, '+' or control "
                        "characters",
                        cfg.origin);
    if (strncmp(cfg.issuer, "https://", 8) != 0 && strncmp(cfg.issuer, "http://", 7) != 0)
        return cmd_fail(EX_USAGE, "--issuer \"%s\" must be an http:// or https:// URL", cfg.issuer);
    if (policy == NULL)
        policy = cfg.policy;
    if (realpath(policy, path) == NULL)
        return cmd_fail(EX_NOINPUT, "cannot find the policy %s", policy);
    if (policy_load(path, &pol, why, sizeof(why)) != ERR_OK)
        return cmd_fail(EX_DATAERR, "%s", why);
    policy_free(pol);
    snprintf(cfg.policy, sizeof(cfg.policy), "%s", path);

    if (mkdir(data, 0700) != 0 && errno != EEXIST)
        return cmd_fail(EX_CANTCREAT, "cannot make the data directory %s", data);
    if (dir_holds_service(&cfg))
        return cmd_fail(EX_CANTCREAT,
                        "%s already holds a consentd service; it is never overwritten", data);
    if (chmod(data, 0700) != 0)
        return cmd_fail(EX_CANTCREAT, "cannot set mode 0700 on %s", data);

    if (hash_init() != ERR_OK || keys_generate(&ck) != ERR_OK || keys_generate(&tk) != ERR_OK)
        goto out;
    code = EX_CANTCREAT;
    if (config_path(&cfg, CONFIG_CKPT_KEY_NAME, path) != ERR_OK || keys_save(ck, path) != ERR_OK)
        goto out;
    if (config_path(&cfg, CONFIG_TOKEN_KEY_NAME, path) != ERR_OK || keys_save(tk, path) != ERR_OK)
        goto out;
    secret_token_new(token);
    if (secret_hash(token, strlen(token), cfg.admin_token_hash) != ERR_OK)
        goto out;
    if (config_path(&cfg, CONFIG_LMDB_DIR_NAME, path) != ERR_OK ||
        store_open(path, cfg.map_size_mb * 1024 * 1024, &store) != ERR_OK)
        goto out;
    rc = ckpt_signer_init(&signer, ck, cfg.origin);
    ck = NULL;
    if (rc != ERR_OK)
        goto out;
    if (config_path(&cfg, CONFIG_CKPT_LOG_NAME, path) != ERR_OK ||
        sequencer_genesis(&signer, path) != ERR_OK)
        goto out;
    if (note_verifier_format(&signer.verifier, vkey, sizeof(vkey)) != ERR_OK)
        goto out;
    if (config_write(&cfg) != ERR_OK)
        goto out;
    printf("admin-token: %s\nlog-key: %s\n", token, vkey);
    fflush(stdout);
    code = EX_OK;
out:
    if (code != EX_OK)
        fprintf(stderr, "consentd: init of %s failed (%s); remove what it made and try again\n",
                data, strerror(errno));
    explicit_bzero(token, sizeof(token));
    store_close(store);
    ckpt_signer_clear(&signer);
    keys_free(ck);
    keys_free(tk);
    return code;
}

/* load_key loads the data directory's key file name, saying what is wrong if it cannot. */
static enum err
load_key(const struct config *cfg, const char *name, const char *what, struct keys_pair **k)
{
    char path[PATH_MAX];
    enum err rc;

    rc = config_path(cfg, name, path);
    if (rc == ERR_OK)
        rc = keys_load(path, k);
    if (rc != ERR_OK)
        fprintf(stderr, "consentd: cannot use the %s key %s: %s\n", what, path,
                rc == ERR_PERM ? "it must be a regular file of mode 0600, not a symlink"
                               : err_str(rc));
    return rc;
}

/*
 * load_token_keys makes the token signer from the token-key state the log records: with no
 * key.rotate entry, the key in CONFIG_TOKEN_KEY_NAME; otherwise the current key's own file,
 * which must hold that key, and the retired public key with its publication window. Unless
 * check_only, it removes a retired key's private key file that is still there (a stop between
 * a rotation's commit and its clean-up).
 */
static enum err
load_token_keys(const struct config *cfg, struct store *store, bool check_only,
                struct token_signer *tokens)
{
    char name[TOKENKEYS_FILE_MAX], path[PATH_MAX], kid[KEYS_KID_LEN + 1];
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct tokenkeys_state st;
    struct keys_pair *tk = NULL;
    struct store_txn *t = NULL;
    const char *leftovers[2];
    bool rotated;
    size_t i;
    enum err rc;

    rc = store_begin(store, false, &t);
    if (rc == ERR_OK)
        rc = tokenkeys_get(t, &st);
    store_abort(t);
    if (rc != ERR_OK && rc != ERR_NOTFOUND) {
        fprintf(stderr, "consentd: cannot read the token keys from the store: %s\n", err_str(rc));
        return rc;
    }
    rotated = rc == ERR_OK;
    tokenkeys_file_name(rotated ? st.current : NULL, name);
    if (load_key(cfg, name, "token", &tk) != ERR_OK) {
        if (rotated)
            fprintf(stderr,
                    "consentd: the log's key.rotate entries name %s as the current token key; "
                    "restore its key file %s\n",
                    st.current, name);
        return ERR_PERM;
    }
    keys_public(tk, pk);
    keys_kid(pk, kid);
    if (rotated && strcmp(kid, st.current) != 0) {
        fprintf(stderr,
                "consentd: the token key file %s holds key %s, not the current key %s the log "
                "names\n",
                name, kid, st.current);
        keys_free(tk);
        return ERR_PERM;
    }
    if (token_signer_init(tokens, tk, cfg->issuer) != ERR_OK) {
        fprintf(stderr, "consentd: issuer \"%s\" is too long\n", cfg->issuer);
        return ERR_INVAL;
    }
    if (!rotated)
        return ERR_OK;
    token_signer_set_retired(tokens, st.retired_pk, tokenkeys_published_until(st.retired_at));
    if (check_only)
        return ERR_OK;
    /*
     * A retired key only verifies: its private key file, if a stop between the rotation's
     * commit and its clean-up left it, has no use any more. Only a file holding that very key
     * is removed.
     */
    leftovers[0] = CONFIG_TOKEN_KEY_NAME;
    tokenkeys_file_name(st.retired, name);
    leftovers[1] = name;
    for (i = 0; i < 2; i++) {
        if (config_path(cfg, leftovers[i], path) != ERR_OK || access(path, F_OK) != 0 ||
            keys_load(path, &tk) != ERR_OK)
            continue;
        keys_public(tk, pk);
        keys_free(tk);
        tk = NULL;
        keys_kid(pk, kid);
        if (strcmp(kid, st.retired) != 0)
            continue;
        if (unlink(path) == 0)
            log_info("consentd: removed %s, the private key of retired token key %s", path, kid);
        else
            log_warn("consentd: cannot remove %s, the private key of retired token key %s", path,
                     kid);
    }
    return ERR_OK;
}

/* cmd_rebuild runs --rebuild: replay, compare, report; EX_DATAERR when the states differ. */
static int
cmd_rebuild(const struct config *cfg, struct store *store)
{
    char scratch[PATH_MAX], report[512];
    uint64_t entries = 0;
    enum err rc;

    if (config_path(cfg, "rebuild.tmp", scratch) != ERR_OK)
        return EX_SOFTWARE;
    rc = rebuild_compare(store, scratch, report, sizeof(report), &entries);
    if (rc == ERR_OK) {
        printf("rebuild: replayed %llu entries; the derived state matches the stored state\n",
               (unsigned long long)entries);
        return EX_OK;
    }
    if (rc == ERR_CONFLICT) {
        printf("rebuild: replayed %llu entries; the states differ: %s\n",
               (unsigned long long)entries, report);
        return EX_DATAERR;
    }
    if (rc == ERR_IO)
        fprintf(stderr, "consentd: rebuild failed (%s); is %s left over from an earlier run?\n",
                err_str(rc), scratch);
    else
        fprintf(stderr,
                "consentd: rebuild failed (%s): the stored log or state could not be read, which "
                "a damaged page of lmdb/data.mdb would cause; restore from a backup\n",
                err_str(rc));
    return EX_IOERR;
}

/* Another consentd serving the same directory would be a second writer: refuse it. */
static int
lock_data_dir(const struct config *cfg)
{
    char path[PATH_MAX];
    int fd;

    if (config_path(cfg, CONFIG_LOCK_NAME, path) != ERR_OK)
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        errno = EWOULDBLOCK;
        return -1;
    }
    return fd;
}

static int
cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-connections", required_argument, NULL, 'm'},
                                         {"tls-cert", required_argument, NULL, 'c'},
                                         {"tls-key", required_argument, NULL, 'k'},
                                         {"check-config", no_argument, NULL, 'C'},
                                         {"rebuild", no_argument, NULL, 'R'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"debug", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct {
        const char *name;
        const char *value;
    } flags[8];
    char why[WHY_MAX], path[PATH_MAX], host[256];
    const char *data = NULL;
    bool check_only = false, rebuild = false, verbose = true, debug = false;
    struct http_app app;
    struct config cfg;
    struct ckpt_signer signer = {0};
    struct token_signer tokens;
    struct keys_pair *ck = NULL;
    struct policy *pol = NULL;
    struct store *store = NULL;
    struct sequencer *seq = NULL;
    struct jtis *jtis = NULL;
    SSL_CTX *tls = NULL;
    size_t nflags = 0, i;
    uint16_t port;
    int ch, code = EX_CONFIG, lock_fd = -1, cleared = 0;
    enum err rc;

    /* Cleared on every way out, initialised or not; an atomic member cannot take {0} in clang. */
    memset(&tokens, 0, sizeof(tokens));
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data = optarg;
            break;
        case 'l':
            flags[nflags].name = "listen", flags[nflags++].value = optarg;
            break;
        case 'p':
            flags[nflags].name = "policy", flags[nflags++].value = optarg;
            break;
        case 't':
            flags[nflags].name = "threads", flags[nflags++].value = optarg;
            break;
        case 'm':
            flags[nflags].name = "max_connections", flags[nflags++].value = optarg;
            break;
        case 'c':
            flags[nflags].name = "tls_cert", flags[nflags++].value = optarg;
            break;
        case 'k':
            flags[nflags].name = "tls_key", flags[nflags++].value = optarg;
            break;
        case 'C':
            check_only = true;
            break;
        case 'R':
            rebuild = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'D':
            debug = true;
            break;
        case 'h':
            fputs(usage_serve, stdout);
            return EX_OK;
        default:
            fputs(usage_serve, stderr);
            return EX_USAGE;
        }
        if (nflags == sizeof(flags) / sizeof(flags[0]))
            return cmd_fail(EX_USAGE, "%s", "too many flags");
    }
    if (data == NULL || optind != argc) {
        fputs(usage_serve, stderr);
        return EX_USAGE;
    }
    log_init(debug, verbose);
    CRASHPOINT_INIT();
    config_defaults(&cfg, data);
    if (config_load_file(&cfg, why, sizeof(why)) != ERR_OK ||
        config_load_env(&cfg, why, sizeof(why)) != ERR_OK)
        return cmd_fail(EX_CONFIG, "%s", why);
    for (i = 0; i < nflags; i++)
        if (config_set(&cfg, flags[i].name, flags[i].value, why, sizeof(why)) != ERR_OK)
            return cmd_fail(EX_USAGE, "%s", why);
    if (config_split_listen(cfg.listen, host, sizeof(host), &port) != ERR_OK)
        return cmd_fail(EX_CONFIG, "listen \"%s\" must be HOST:PORT", cfg.listen);
    if (!secret_hash_valid(cfg.admin_token_hash))
        return cmd_fail(EX_CONFIG, "%s", "[admin] token_hash is missing from consentd.conf");
    if (policy_load(cfg.policy, &pol, why, sizeof(why)) != ERR_OK)
        return cmd_fail(EX_CONFIG, "%s", why);
    if (hash_init() != ERR_OK) {
        code = cmd_fail(EX_SOFTWARE, "%s", "libsodium failed to initialise; not serving");
        goto out;
    }
    if (load_key(&cfg, CONFIG_CKPT_KEY_NAME, "checkpoint", &ck) != ERR_OK)
        goto out;
    rc = ckpt_signer_init(&signer, ck, cfg.origin);
    ck = NULL;
    if (rc != ERR_OK) {
        fprintf(stderr, "consentd: origin \"%s\" is not a valid key name\n", cfg.origin);
        goto out;
    }
    /* Before anything is opened, and in --check-config too: a bad certificate is config. */
    if (tls_context_new(cfg.tls_cert, cfg.tls_key, &tls, why, sizeof(why)) != ERR_OK) {
        fprintf(stderr, "consentd: %s\n", why);
        goto out;
    }
    if (!check_only) {
        lock_fd = lock_data_dir(&cfg);
        if (lock_fd == -1) {
            fprintf(stderr, "consentd: %s is in use by another consentd (or cannot be locked)\n",
                    data);
            code = EX_TEMPFAIL;
            goto out;
        }
    }
    code = EX_IOERR;
    if (config_path(&cfg, CONFIG_LMDB_DIR_NAME, path) != ERR_OK ||
        store_open(path, cfg.map_size_mb * 1024 * 1024, &store) != ERR_OK)
        goto out;
    if (!check_only && store_reader_check(store, &cleared) == ERR_OK && cleared > 0)
        log_info("consentd: cleared %d stale LMDB reader slots", cleared);
    if (rebuild) {
        code = cmd_rebuild(&cfg, store);
        goto out;
    }
    /* Which token key is current is in the log, so the store is read first. */
    code = EX_CONFIG;
    if (load_token_keys(&cfg, store, check_only, &tokens) != ERR_OK)
        goto out;
    if (check_only) {
        printf("configuration OK\n");
        code = EX_OK;
        goto out;
    }
    code = EX_IOERR;
    if (jtis_open(store, (int64_t)time(NULL), JTIS_MAX_LIVE, &jtis) != ERR_OK ||
        config_path(&cfg, CONFIG_CKPT_LOG_NAME, path) != ERR_OK ||
        sequencer_open(store, &signer, path, cfg.batch_max, cfg.queue_max, &seq) != ERR_OK ||
        sequencer_start(seq) != ERR_OK)
        goto out;

    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.store = store;
    app.seq = seq;
    app.policy = pol;
    app.signer = &signer;
    app.tokens = &tokens;
    app.jtis = jtis;
    app.tls = tls;
    app.admin = secret_check_new(cfg.admin_token_hash);
    if (app.admin == NULL ||
        note_verifier_format(&signer.verifier, app.log_key, sizeof(app.log_key)) != ERR_OK)
        goto out;
    rc = http_serve(&app);
    secret_check_free(app.admin);
    if (rc == ERR_OK)
        code = EX_OK;
out:
    sequencer_free(seq);
    jtis_free(jtis);
    store_close(store);
    ckpt_signer_clear(&signer);
    token_signer_clear(&tokens);
    keys_free(ck);
    policy_free(pol);
    tls_context_free(tls);
    if (lock_fd != -1)
        close(lock_fd);
    if (code == EX_OK && !check_only)
        log_info("consentd: stopped");
    return code;
}

/*
 * no_core_dumps sets the core file size limit to 0, soft and hard. The keys live in libsodium's
 * guarded memory, which is left out of core dumps anyway, but request buffers hold bearer
 * tokens and NHS numbers, and a core file would keep them on disk.
 */
static void
no_core_dumps(void)
{
    const struct rlimit none = {0, 0};

    if (setrlimit(RLIMIT_CORE, &none) != 0)
        fprintf(stderr, "consentd: cannot disable core dumps: %s\n", strerror(errno));
}

int
main(int argc, char **argv)
{
    no_core_dumps();
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return EX_OK;
    }
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    fprintf(stderr, "consentd: unknown command \"%s\"\n\n%s", argv[1], usage_main);
    return EX_USAGE;
}
