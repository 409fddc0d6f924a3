/*
 * crashpoint: test-only fault injection at named points of the write path. A build compiled
 * with -DCONSENTD_TEST_HOOKS (the Makefile's consentd-hooks binary) reads CONSENTD_CRASH_AT
 * once at startup, "POINT:N" or "POINT:N:BIT", and at the Nth time POINT is reached either
 * kills the process with SIGKILL (the kill points), writes half of a record and then kills it
 * (ckpt-torn), or flips bit BIT of a buffer (the flip points). In every other build the
 * CRASHPOINT macros expand to nothing, so production code carries one inert line per point.
 * See docs/RELIABILITY.md for the points and the tests that use them.
 *
 * THREAD SAFETY: crashpoint_init runs before any thread starts; the points are all reached on
 * the sequencer thread (or in sequencer_open before it starts), so the count needs no lock.
 */
#ifndef CRASHPOINT_H
#define CRASHPOINT_H

#include <stdbool.h>
#include <stddef.h>

#define CRASHPOINT_ENV "CONSENTD_CRASH_AT"

enum crashpoint {
    CRASHPOINT_COMMIT,       /* "commit": a batch is applied, before its durable commit */
    CRASHPOINT_COMMITTED,    /* "committed": after the commit returned, before the guard */
    CRASHPOINT_SIGNED,       /* "signed": after signing, before the record is written */
    CRASHPOINT_CKPT_TORN,    /* "ckpt-torn": half the record written, then killed */
    CRASHPOINT_CKPT_WRITTEN, /* "ckpt-written": the record written, before fdatasync */
    CRASHPOINT_CKPT_SYNCED,  /* "ckpt-synced": after fdatasync, before publishing */
    CRASHPOINT_PUBLISHED,    /* "published": published, before the writers are answered */
    CRASHPOINT_FLIP_ENTRY,   /* "flip-entry": an appended entry's stored bytes, after hashing */
    CRASHPOINT_FLIP_LEAF,    /* "flip-leaf": a leaf hash kept from ingest, before the guard */
    CRASHPOINT_FLIP_NODE,    /* "flip-node": a subtree hash of the in-memory tree */
    CRASHPOINT_FLIP_ROOT,    /* "flip-root": the root, between the guard and signing */
    CRASHPOINT_NPOINTS
};

/*
 * crashpoint_init reads CONSENTD_CRASH_AT. An unset variable arms nothing; a malformed one
 * (unknown point, N not in 1..10^9) stops the process with fatalx, so a typo in a test cannot
 * pass for a run without faults.
 */
void crashpoint_init(void);

/* crashpoint_reach counts a pass through p and kills the process at the armed count. */
void crashpoint_reach(enum crashpoint p);

/*
 * crashpoint_torn counts a pass through p; at the armed count it writes the first half of
 * buf[0..len) to fd and kills the process, as a crash in the middle of a write would.
 */
void crashpoint_torn(enum crashpoint p, int fd, const void *buf, size_t len);

/*
 * crashpoint_flip counts a pass through p; at the armed count it flips bit BIT (modulo the
 * buffer's bits) of buf[0..len) and logs that it did. Returns whether it flipped.
 */
bool crashpoint_flip(enum crashpoint p, void *buf, size_t len);

#ifdef CONSENTD_TEST_HOOKS
#define CRASHPOINT_INIT()                crashpoint_init()
#define CRASHPOINT(p)                    crashpoint_reach(CRASHPOINT_##p)
#define CRASHPOINT_TORN(p, fd, buf, len) crashpoint_torn(CRASHPOINT_##p, fd, buf, len)
#define CRASHPOINT_FLIP(p, buf, len)     (void)crashpoint_flip(CRASHPOINT_##p, buf, len)
#else
#define CRASHPOINT_INIT()                ((void)0)
#define CRASHPOINT(p)                    ((void)0)
#define CRASHPOINT_TORN(p, fd, buf, len) ((void)0)
#define CRASHPOINT_FLIP(p, buf, len)     ((void)0)
#endif

#endif
