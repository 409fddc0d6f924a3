/*
 * api_keys: POST /v1/keys/rotate rotates the token-signing key (admin; DESIGN.md §2
 * "key.rotate"). The handler makes the new key and writes its file; the sequencer decides, in log
 * order, whether the key may rotate now (tokenkeys_may_rotate) and appends the entry. Once the
 * entry is durable the signer switches to the new key, the old one verifies only, and its
 * private key file is removed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentd/api.h"
#include "consentd/consents.h"
#include "consentd/json.h"
#include "consentd/keys.h"
#include "consentd/log.h"
#include "consentd/tokenkeys.h"
#include "consentd/xmalloc.h"

/*
 * A rotation in flight: heap memory handed to http_submit_settled as the check's context, which
 * frees it after the answer. The settle callback gives the key to the signer or frees it.
 */
struct api_keys_ctx {
    struct keys_pair *key;          /* the new key, until the signer takes it */
    char kid[KEYS_KID_LEN + 1];     /* the new key's id */
    char retired[KEYS_KID_LEN + 1]; /* the key it replaces: the signer's current key */
    char key_path[PATH_MAX];        /* the new key's file */
    char retired_path[PATH_MAX];    /* the replaced key's file, removed once the entry is durable */
};

static void
api_keys_ctx_free(struct api_keys_ctx *x)
{
    if (x == NULL)
        return;
    keys_free(x->key);
    free(x);
}

/* api_keys_check runs in the sequencer, in log order: may the key rotate now? */
static enum err
api_keys_check(struct store_txn *t, struct seq_write *w)
{
    const struct api_keys_ctx *x = w->check_ctx;

    return tokenkeys_may_rotate(t, x->retired, w->now, w->why);
}

/*
 * api_keys_settle runs on the worker once the write is finished, whether or not the client
 * waits for the answer: the entry's outcome decides what becomes of the keys and their files.
 */
static void
api_keys_settle(const struct http_app *app, struct seq_write *w)
{
    struct api_keys_ctx *x = w->check_ctx;
    char until[CONSENTS_TIME_LEN + 1];
    int64_t end;

    if (w->rc == ERR_OK) {
        /* The entry's time is the batch's: the retired key's window starts where the log says. */
        end = tokenkeys_published_until(w->now);
        token_signer_rotate(app->tokens, x->key, end);
        x->key = NULL;
        consents_time_format(end, until);
        log_info("api_keys: token key %s is current from log index %llu; %s is retired and "
                 "published until %s",
                 x->kid, (unsigned long long)w->index, x->retired, until);
        if (unlink(x->retired_path) != 0 && errno != ENOENT)
            log_warn("api_keys: cannot remove %s, the private key of retired token key %s; "
                     "remove it by hand",
                     x->retired_path, x->retired);
        return;
    }
    keys_free(x->key);
    x->key = NULL;
    if (w->rc == ERR_CONFLICT || w->rc == ERR_INVAL || w->rc == ERR_TOOBIG) {
        /* Refused: no entry names the new key, so its file has no use. */
        if (unlink(x->key_path) != 0)
            log_warn("api_keys: cannot remove %s, the unused key file of a refused rotation",
                     x->key_path);
        return;
    }
    log_warnx("api_keys: the rotation to token key %s did not complete (%s); %s is kept, since "
              "its entry may be in the log",
              x->kid, err_str(w->rc), x->key_path);
}

static void
api_keys_rotated(struct http_call *c, const struct seq_write *w)
{
    const struct api_keys_ctx *x = w->check_ctx;
    cJSON *j;

    if (w->rc == ERR_OK) {
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kid", x->kid);
        cJSON_AddStringToObject(j, "retired", x->retired);
        json_add_u64(j, "log_index", w->index);
        http_reply_json(c, 201, j);
        cJSON_Delete(j);
        return;
    }
    if (w->rc == ERR_CONFLICT) {
        http_reply_problem(c, 409, "conflict", "Conflict", "%s", w->why);
        return;
    }
    http_reply_write_failed(c, w);
}

/*
 * api_keys_precheck asks, outside the log's order, whether the key may rotate now, so that a
 * refusal costs no key file; the sequencer's check decides. It writes the file of the current
 * key into name. Answers and returns false if not.
 */
static bool
api_keys_precheck(struct http_call *c, const char *current, char name[static TOKENKEYS_FILE_MAX])
{
    struct tokenkeys_state st;
    struct store_txn *t = NULL;
    char why[STATE_WHY_MAX];
    enum err rc;

    rc = store_begin(http_app_of(c)->store, false, &t);
    if (rc == ERR_OK)
        rc = tokenkeys_may_rotate(t, current, (int64_t)time(NULL), why);
    if (rc == ERR_OK) {
        rc = tokenkeys_get(t, &st);
        /* Before the first rotation the current key is the one init made. */
        tokenkeys_file_name(rc == ERR_OK ? st.current : NULL, name);
        if (rc == ERR_NOTFOUND)
            rc = ERR_OK;
    }
    store_abort(t);
    if (rc == ERR_CONFLICT)
        http_reply_problem(c, 409, "conflict", "Conflict", "%s", why);
    else if (rc != ERR_OK)
        http_reply_problem(c, 500, "internal", "Internal error", "cannot read the token keys (%s)",
                           err_str(rc));
    return rc == ERR_OK;
}

void
api_keys_rotate(struct http_call *c)
{
    const struct http_app *app = http_app_of(c);
    char name[TOKENKEYS_FILE_MAX];
    uint8_t pk[KEYS_PUBLIC_BYTES];
    struct api_keys_ctx *x = NULL;
    struct token_keys tk;
    char *fields = NULL;
    cJSON *body;
    bool member;
    size_t len;
    enum err rc;

    if (!http_require_admin(c))
        return;
    (void)http_body(c, &len);
    if (len > 0) {
        body = http_json_body(c);
        if (body == NULL)
            return;
        if (body->child != NULL)
            http_reply_problem(c, 400, "invalid-field", "Invalid request",
                               "the body must be {} or empty: this endpoint takes no members, "
                               "and \"%.64s\" was sent",
                               body->child->string);
        member = body->child != NULL;
        cJSON_Delete(body);
        if (member)
            return;
    }
    token_signer_keys(app->tokens, (int64_t)time(NULL), &tk);
    if (!api_keys_precheck(c, tk.k[0].kid, name))
        return;
    x = xcalloc(1, sizeof(*x));
    snprintf(x->retired, sizeof(x->retired), "%s", tk.k[0].kid);
    rc = keys_generate(&x->key);
    if (rc != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "cannot make a key (%s)",
                           err_str(rc));
        goto out;
    }
    keys_public(x->key, pk);
    keys_kid(pk, x->kid);
    if (config_path(app->cfg, name, x->retired_path) != ERR_OK) {
        http_reply_problem(c, 500, "internal", "Internal error", "the data path is too long");
        goto out;
    }
    tokenkeys_file_name(x->kid, name);
    rc = config_path(app->cfg, name, x->key_path);
    if (rc == ERR_OK)
        rc = keys_save(x->key, x->key_path);
    if (rc != ERR_OK) {
        log_warn("api_keys: cannot write the new token key file %s", x->key_path);
        http_reply_problem(c, 500, "internal", "Internal error",
                           "cannot write the new key file in the data directory (%s); nothing "
                           "was changed",
                           err_str(rc));
        goto out;
    }
    rc = tokenkeys_fields(pk, tk.k[0].pk, &fields, &len);
    if (rc != ERR_OK) {
        if (unlink(x->key_path) != 0)
            log_warn("api_keys: cannot remove %s", x->key_path);
        http_reply_problem(c, 500, "internal", "Internal error", "could not encode the entry");
        goto out;
    }
    http_submit_settled(c, "key.rotate", fields, len, api_keys_check, x, api_keys_settle,
                        api_keys_rotated);
    x = NULL;
out:
    api_keys_ctx_free(x);
}
