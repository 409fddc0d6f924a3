/*
 * note: C2SP signed notes (signed-note v1.0.0, Ed25519 signature type 0x01) and the
 * tlog-checkpoint v1.0.0 body they carry.
 *
 * A note is text (valid UTF-8, ending in "\n", no blank line, no "\r"), a blank line, and one or
 * more lines "— <name> <base64(4-byte key hash ‖ signature)>\n". The key hash is the first four
 * bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). A verifier key is written
 * "<name>+<8 hex digits of key hash>+<base64(0x01 ‖ public key)>"; a signer key
 * "PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>".
 *
 * THREAD SAFETY: reentrant; signers and verifiers are immutable after creation.
 */
#ifndef NOTE_H
#define NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consentd/err.h"
#include "consentd/hash.h"
#include "consentd/keys.h"

#define NOTE_MAX_NAME       255   /* a key name, bytes */
#define NOTE_MAX_SIZE       16384 /* a whole note, bytes */
#define NOTE_MAX_SIGNATURES 16
#define NOTE_MAX_ORIGIN     255
#define NOTE_VKEY_MAX       (NOTE_MAX_NAME + 1 + 8 + 1 + 45) /* longest verifier key, no NUL */

struct note_verifier {
    char name[NOTE_MAX_NAME + 1];
    uint32_t key_hash;
    uint8_t pk[KEYS_PUBLIC_BYTES];
};

/* note_key_hash returns the key hash of (name, Ed25519 public key), big-endian as an integer. */
uint32_t note_key_hash(const char *name, const uint8_t pk[static KEYS_PUBLIC_BYTES]);

/*
 * note_name_valid is true if name is a usable key name: 1..NOTE_MAX_NAME bytes of UTF-8 with no
 * space, '+' or control character.
 */
bool note_name_valid(const char *name);

/*
 * note_verifier_init fills v from a name and public key. Returns ERR_INVAL for a bad name.
 */
enum err note_verifier_init(struct note_verifier *v, const char *name,
                            const uint8_t pk[static KEYS_PUBLIC_BYTES]);

/* note_verifier_format writes v as a verifier key string and a NUL into out (out_cap bytes). */
enum err note_verifier_format(const struct note_verifier *v, char *out, size_t out_cap);

/*
 * note_verifier_parse reads a verifier key string. Returns ERR_INVAL for a malformed key, an
 * unknown signature type or a key hash that does not match name and key. v is zeroed on failure.
 */
enum err note_verifier_parse(const char *s, size_t len, struct note_verifier *v) ERR_WUR;

/*
 * note_signer_parse reads "PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)", fills v with its verifier
 * and sets *k to the key pair (free with keys_free). Returns ERR_INVAL if malformed or the key
 * hash does not match; *k is NULL then.
 */
enum err note_signer_parse(const char *s, size_t len, struct note_verifier *v,
                           struct keys_pair **k) ERR_WUR;

/*
 * note_sign signs text[0..len) with k under name and writes the whole note and a NUL into out
 * (out_cap bytes), with the note's length in *out_len. Returns ERR_INVAL if the text is not a
 * valid note text, ERR_TOOBIG if out is too small.
 */
enum err note_sign(const struct keys_pair *k, const struct note_verifier *v, const char *text,
                   size_t len, char *out, size_t out_cap, size_t *out_len);

/*
 * note_verify checks that note[0..len) is well formed and carries a valid signature by v (other
 * signatures, by unknown keys, are ignored). On ERR_OK *text_len is the length of the signed
 * text, which is note[0..*text_len). Returns ERR_INVAL if malformed, ERR_BADSIG if no signature
 * by v verifies (a line naming v's key with a bad signature is ERR_BADSIG too).
 */
enum err note_verify(const struct note_verifier *v, const char *note, size_t len,
                     size_t *text_len) ERR_WUR;

/* A checkpoint body: "<origin>\n<size>\n<base64 root>\n", with no extension lines. */
struct note_checkpoint {
    char origin[NOTE_MAX_ORIGIN + 1];
    uint64_t size;
    uint8_t root[HASH_BYTES];
};

/*
 * note_checkpoint_format writes the checkpoint body of c and a NUL into out. Returns ERR_INVAL if
 * the origin is empty or holds a newline, ERR_TOOBIG if out is too small.
 */
enum err note_checkpoint_format(const struct note_checkpoint *c, char *out, size_t out_cap,
                                size_t *out_len);

/*
 * note_checkpoint_parse reads a checkpoint body text[0..len) (as note_verify delimits it).
 * Extension lines after the root are allowed and ignored. The size is decimal with no sign or
 * leading zero (except "0"). Returns ERR_INVAL if malformed; c is zeroed then.
 */
enum err note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *c) ERR_WUR;

#endif
