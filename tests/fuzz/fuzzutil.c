/*
 * fuzzutil: what the libFuzzer targets share.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd/b64.h"
#include "consentd/hash.h"
#include "consentd/sig.h"
#include "fuzzutil.h"

void
fz_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("fuzz: invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void
fz_init(void)
{
    static bool done;

    if (done)
        return;
    if (hash_init() != ERR_OK)
        fz_fail("libsodium failed to initialise");
    done = true;
}

const struct keys_pair *
fz_key(unsigned char seed_byte, uint8_t pk[KEYS_PUBLIC_BYTES], char kid[KEYS_KID_LEN + 1])
{
    static struct keys_pair *keys[256];
    uint8_t seed[KEYS_SEED_BYTES], p[KEYS_PUBLIC_BYTES];

    fz_init();
    if (keys[seed_byte] == NULL) {
        memset(seed, seed_byte, sizeof(seed));
        if (keys_from_seed(seed, &keys[seed_byte]) != ERR_OK)
            fz_fail("cannot make the key of seed byte %u", seed_byte);
    }
    keys_public(keys[seed_byte], p);
    if (pk != NULL)
        memcpy(pk, p, KEYS_PUBLIC_BYTES);
    if (kid != NULL)
        keys_kid(p, kid);
    return keys[seed_byte];
}

size_t
fz_jws(const struct keys_pair *k, const char *header, size_t hlen, const char *payload, size_t plen,
       char out[static FZ_JWS_MAX])
{
    uint8_t sig[SIG_BYTES];
    size_t n;

    if (b64_encoded_len(hlen, B64_URL) + b64_encoded_len(plen, B64_URL) +
            b64_encoded_len(SIG_BYTES, B64_URL) + 3 >
        FZ_JWS_MAX)
        return 0;
    if (b64_encode((const uint8_t *)header, hlen, B64_URL, out, FZ_JWS_MAX) != ERR_OK)
        return 0;
    n = strlen(out);
    out[n++] = '.';
    if (b64_encode((const uint8_t *)payload, plen, B64_URL, out + n, FZ_JWS_MAX - n) != ERR_OK)
        return 0;
    n += strlen(out + n);
    sig_sign(k, (const uint8_t *)out, n, sig);
    out[n++] = '.';
    if (b64_encode(sig, sizeof(sig), B64_URL, out + n, FZ_JWS_MAX - n) != ERR_OK)
        return 0;
    return n + strlen(out + n);
}

static char *
fz_copy(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL)
        fz_fail("out of memory");
    if (len > 0)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

void
fz_split(const uint8_t *data, size_t size, char **a, size_t *alen, char **b, size_t *blen)
{
    const uint8_t *nl = size > 0 ? memchr(data, '\n', size) : NULL;

    if (nl == NULL) {
        *a = fz_copy(data, 0);
        *alen = 0;
        *b = fz_copy(data, size);
        *blen = size;
        return;
    }
    *alen = (size_t)(nl - data);
    *a = fz_copy(data, *alen);
    *blen = size - *alen - 1;
    *b = fz_copy(nl + 1, *blen);
}

char *
fz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    *len = 0;
    if (f == NULL)
        return NULL;
    n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

const struct policy *
fz_policy(void)
{
    static struct policy *p;
    char why[256];
    size_t len;
    char *doc;

    if (p != NULL)
        return p;
    doc = fz_read_file(FZ_POLICY, &len);
    if (doc == NULL)
        fz_fail("cannot read %s: run the target from the repository root", FZ_POLICY);
    if (policy_parse(doc, len, &p, why, sizeof(why)) != ERR_OK)
        fz_fail("%s does not load: %s", FZ_POLICY, why);
    free(doc);
    return p;
}

struct store *
fz_store(void)
{
    static struct store *s;
    char dir[64], path[96];
    const char *tmp = getenv("TMPDIR");

    if (s != NULL)
        return s;
    fz_init();
    snprintf(dir, sizeof(dir), "%s/consentd-fuzz.XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        fz_fail("cannot make a temporary directory under %s", dir);
    if (store_open(dir, FZ_STORE_SIZE, &s) != ERR_OK)
        fz_fail("cannot open a store in %s", dir);
    /*
     * The open environment keeps its files through their descriptors and maps, so they are
     * removed now: nothing is left behind, even when a crash ends the process.
     */
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    return s;
}
