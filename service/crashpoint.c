/*
 * crashpoint: test-only kills and bit flips at named points of the write path. Only the
 * consentd-hooks binary calls these functions (through the CRASHPOINT macros); in every other
 * build nothing references them.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd/crashpoint.h"
#include "consentd/log.h"

#define CRASHPOINT_MAX_COUNT 1000000000ull

static const char *const crashpoint_names[] = {
    "commit",    "committed",  "signed",    "ckpt-torn", "ckpt-written", "ckpt-synced",
    "published", "flip-entry", "flip-leaf", "flip-node", "flip-root"};

_Static_assert(sizeof(crashpoint_names) / sizeof(crashpoint_names[0]) == CRASHPOINT_NPOINTS,
               "crashpoint_names must name every enum crashpoint value");

static int crashpoint_armed = -1; /* the armed point, or -1 */
static unsigned long long crashpoint_at, crashpoint_bit, crashpoint_seen;

static bool
crashpoint_parse_u64(const char *s, char **end, unsigned long long *v)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno == 0;
}

void
crashpoint_init(void)
{
    const char *spec = getenv(CRASHPOINT_ENV), *colon;
    char *end;
    size_t i, n;

    if (spec == NULL || *spec == '\0')
        return;
    colon = strchr(spec, ':');
    n = colon == NULL ? 0 : (size_t)(colon - spec);
    for (i = 0; i < CRASHPOINT_NPOINTS; i++)
        if (strlen(crashpoint_names[i]) == n && strncmp(spec, crashpoint_names[i], n) == 0)
            break;
    if (i == CRASHPOINT_NPOINTS || !crashpoint_parse_u64(colon + 1, &end, &crashpoint_at) ||
        crashpoint_at == 0 || crashpoint_at > CRASHPOINT_MAX_COUNT ||
        (*end == ':' && !crashpoint_parse_u64(end + 1, &end, &crashpoint_bit)) || *end != '\0')
        fatalx("%s=\"%s\" must be POINT:N or POINT:N:BIT with N in 1..%llu and POINT one of "
               "commit, committed, signed, ckpt-torn, ckpt-written, ckpt-synced, published, "
               "flip-entry, flip-leaf, flip-node, flip-root",
               CRASHPOINT_ENV, spec, CRASHPOINT_MAX_COUNT);
    crashpoint_armed = (int)i;
    log_warnx("crashpoint: test hook armed: %s at pass %llu", crashpoint_names[i], crashpoint_at);
}

/* crashpoint_due counts a pass through p and is true at the armed pass. */
static bool
crashpoint_due(enum crashpoint p)
{
    if ((int)p != crashpoint_armed)
        return false;
    return ++crashpoint_seen == crashpoint_at;
}

void
crashpoint_reach(enum crashpoint p)
{
    if (crashpoint_due(p))
        raise(SIGKILL);
}

void
crashpoint_torn(enum crashpoint p, int fd, const void *buf, size_t len)
{
    ssize_t n;

    if (!crashpoint_due(p))
        return;
    n = write(fd, buf, len / 2);
    (void)n; /* the process dies either way */
    raise(SIGKILL);
}

bool
crashpoint_flip(enum crashpoint p, void *buf, size_t len)
{
    uint8_t *b = buf;
    unsigned long long bit;

    if (len == 0 || !crashpoint_due(p))
        return false;
    bit = crashpoint_bit % (len * 8);
    b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    log_warnx("crashpoint: test hook flipped bit %llu at %s", bit, crashpoint_names[p]);
    return true;
}
