/*
 * fuzz_note: C2SP signed notes and checkpoints: note_verify and ckpt_open_verify with the log's
 * verifier, note_checkpoint_parse, and the verifier and signer key strings.
 *
 * The first byte chooses the input's form. 0: the rest is a signed note, taken as it is. 1: the
 * rest is a note's text, signed here with the checkpoint key (when note_sign takes it), so the
 * checkpoint body behind the signature is reached. 2: the rest is a verifier key string, and
 * also read as a signer key string.
 *
 * Invariants: a note signed here verifies and gives back its text's length; a checkpoint that
 * verifies is of the log's origin, its formatted body begins its text, and signing its size and
 * root again gives a checkpoint that reads the same; a verifier key that parses, formatted,
 * parses to the same key.
 */
#include <string.h>

#include "consentd/ckpt.h"
#include "fuzzutil.h"

#define ORIGIN "consentd.example/log"

static struct ckpt_signer signer;

static void
check_checkpoint(const char *note, size_t len)
{
    struct note_checkpoint c, again;
    char body[CKPT_RECORD], out[CKPT_RECORD];
    size_t blen, olen;

    if (ckpt_open_verify(&signer.verifier, note, len, &c) != ERR_OK)
        return;
    if (strcmp(c.origin, ORIGIN) != 0)
        fz_fail("a checkpoint of origin %s verified", c.origin);
    if (note_checkpoint_format(&c, body, sizeof(body), &blen) != ERR_OK || blen > len ||
        memcmp(body, note, blen) != 0)
        fz_fail("a verified checkpoint's body is not what was signed");
    if (ckpt_sign(&signer, c.size, c.root, out, &olen) != ERR_OK)
        fz_fail("ckpt_sign failed");
    if (ckpt_open_verify(&signer.verifier, out, olen, &again) != ERR_OK ||
        memcmp(&c, &again, sizeof(c)) != 0)
        fz_fail("a checkpoint signed again reads differently");
}

static void
check_note(const char *note, size_t len)
{
    struct note_checkpoint c;
    size_t tlen = 1;

    if (note_verify(&signer.verifier, note, len, &tlen) != ERR_OK && tlen != 0)
        fz_fail("a refused note left a text length");
    if (note_checkpoint_parse(note, len, &c) != ERR_OK && c.size != 0)
        fz_fail("a refused checkpoint body left a size");
    check_checkpoint(note, len);
}

static void
check_keys(const char *s, size_t len)
{
    struct note_verifier v, again;
    struct keys_pair *k = NULL;
    char out[NOTE_VKEY_MAX + 1];

    if (note_verifier_parse(s, len, &v) == ERR_OK) {
        if (note_verifier_format(&v, out, sizeof(out)) != ERR_OK ||
            note_verifier_parse(out, strlen(out), &again) != ERR_OK ||
            memcmp(&v, &again, sizeof(v)) != 0)
            fz_fail("a verifier key does not read back as itself once formatted");
    }
    if (note_signer_parse(s, len, &v, &k) == ERR_OK)
        keys_free(k);
    else if (k != NULL)
        fz_fail("a refused signer key left a key");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t seed[KEYS_SEED_BYTES] = {7};
    static char note[NOTE_MAX_SIZE + 1];
    struct keys_pair *k = NULL;
    size_t len, tlen;

    fz_init();
    if (signer.key == NULL &&
        (keys_from_seed(seed, &k) != ERR_OK || ckpt_signer_init(&signer, k, ORIGIN) != ERR_OK))
        fz_fail("cannot make the checkpoint signer");
    if (size == 0)
        return 0;
    if (data[0] == 0) {
        check_note((const char *)data + 1, size - 1);
    } else if (data[0] == 1) {
        if (note_sign(signer.key, &signer.verifier, (const char *)data + 1, size - 1, note,
                      sizeof(note), &len) != ERR_OK)
            return 0;
        if (note_verify(&signer.verifier, note, len, &tlen) != ERR_OK || tlen != size - 1)
            fz_fail("a note signed here does not verify");
        check_note(note, len);
    } else {
        check_keys((const char *)data + 1, size - 1);
    }
    return 0;
}
