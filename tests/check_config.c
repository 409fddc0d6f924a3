/*
 * check_config: defaults < file < environment < flags, with precise errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "consentd/config.h"
#include "suites.h"
#include "testutil.h"

static char dir[TU_DIR_MAX];
static struct config cfg;
static char why[256];

static void
setup(void)
{
    tu_tmpdir(dir);
    config_defaults(&cfg, dir);
    why[0] = '\0';
}

static void
teardown(void)
{
    tu_rmrf(dir);
}

static void
write_conf(const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    tu_path(dir, CONFIG_FILE_NAME, path);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_defaults)
{
    ck_assert_str_eq(cfg.listen, CONFIG_DEFAULT_LISTEN);
    ck_assert_str_eq(cfg.origin, CONFIG_DEFAULT_ORIGIN);
    ck_assert_uint_eq(cfg.max_body, 65536);
    ck_assert_uint_eq(cfg.max_connections, CONFIG_DEFAULT_MAX_CONNECTIONS);
}
END_TEST

START_TEST(test_file_then_env_then_flags)
{
    write_conf("[service]\nlisten = 127.0.0.1:9000\nthreads = 3\n[log]\norigin = a.example/log\n");
    ck_assert_int_eq(config_load_file(&cfg, why, sizeof(why)), ERR_OK);
    ck_assert_str_eq(cfg.listen, "127.0.0.1:9000");
    ck_assert_uint_eq(cfg.threads, 3);
    setenv("CONSENTD_THREADS", "5", 1);
    ck_assert_int_eq(config_load_env(&cfg, why, sizeof(why)), ERR_OK);
    unsetenv("CONSENTD_THREADS");
    ck_assert_uint_eq(cfg.threads, 5);
    ck_assert_int_eq(config_set(&cfg, "threads", "7", why, sizeof(why)), ERR_OK);
    ck_assert_uint_eq(cfg.threads, 7);
    ck_assert_str_eq(cfg.origin, "a.example/log");
}
END_TEST

START_TEST(test_unknown_key_is_an_error)
{
    write_conf("[service]\nlisten = 127.0.0.1:9000\ncolour = blue\n");
    ck_assert_int_eq(config_load_file(&cfg, why, sizeof(why)), ERR_INVAL);
    ck_assert_msg(strstr(why, "unknown setting [service] colour") != NULL, "%s", why);
}
END_TEST

START_TEST(test_out_of_range_is_an_error)
{
    write_conf("[service]\nmax_body = 12\n");
    ck_assert_int_eq(config_load_file(&cfg, why, sizeof(why)), ERR_INVAL);
    ck_assert_msg(strstr(why, "max_body must be a whole number from 1024") != NULL, "%s", why);
    ck_assert_int_eq(config_set(&cfg, "threads", "-1", why, sizeof(why)), ERR_INVAL);
    ck_assert_int_eq(config_set(&cfg, "threads", "2x", why, sizeof(why)), ERR_INVAL);
    ck_assert_int_eq(config_set(&cfg, "nope", "1", why, sizeof(why)), ERR_INVAL);
}
END_TEST

START_TEST(test_bad_hash_is_an_error)
{
    ck_assert_int_eq(config_set(&cfg, "token_hash", "plaintext-token", why, sizeof(why)),
                     ERR_INVAL);
    ck_assert_msg(strstr(why, "Argon2id") != NULL, "%s", why);
}
END_TEST

START_TEST(test_missing_file_is_io)
{
    ck_assert_int_eq(config_load_file(&cfg, why, sizeof(why)), ERR_IO);
}
END_TEST

START_TEST(test_write_then_read_back)
{
    struct config back;

    snprintf(cfg.admin_token_hash, sizeof(cfg.admin_token_hash), "%s",
             "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA");
    ck_assert_int_eq(config_write(&cfg), ERR_OK);
    ck_assert_int_eq(config_write(&cfg), ERR_EXISTS);
    config_defaults(&back, dir);
    ck_assert_int_eq(config_load_file(&back, why, sizeof(why)), ERR_OK);
    ck_assert_str_eq(back.admin_token_hash, cfg.admin_token_hash);
    ck_assert_str_eq(back.origin, cfg.origin);
}
END_TEST

START_TEST(test_split_listen)
{
    char host[64];
    uint16_t port;

    ck_assert_int_eq(config_split_listen("127.0.0.1:8080", host, sizeof(host), &port), ERR_OK);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 8080);
    ck_assert_int_eq(config_split_listen("[::1]:443", host, sizeof(host), &port), ERR_OK);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(config_split_listen("localhost", host, sizeof(host), &port), ERR_INVAL);
    ck_assert_int_eq(config_split_listen("h:99999", host, sizeof(host), &port), ERR_INVAL);
    ck_assert_int_eq(config_split_listen(":80", host, sizeof(host), &port), ERR_INVAL);
}
END_TEST

Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_then_env_then_flags);
    tcase_add_test(tc, test_unknown_key_is_an_error);
    tcase_add_test(tc, test_out_of_range_is_an_error);
    tcase_add_test(tc, test_bad_hash_is_an_error);
    tcase_add_test(tc, test_missing_file_is_io);
    tcase_add_test(tc, test_write_then_read_back);
    tcase_add_test(tc, test_split_listen);
    suite_add_tcase(s, tc);
    return s;
}
