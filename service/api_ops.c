/*
 * api_ops: liveness, readiness and Prometheus metrics for operators.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/api.h"

void
api_ops_healthz(struct http_call *c)
{
    http_reply(c, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

void
api_ops_readyz(struct http_call *c)
{
    char why[STATE_WHY_MAX];
    cJSON *j;

    if (sequencer_writable(http_app_of(c)->seq, why, sizeof(why))) {
        http_reply(c, 200, "application/json", "{\"status\":\"ready\"}", 18);
        return;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "read-only");
    cJSON_AddStringToObject(j, "reason", why);
    http_reply_json(c, 503, j);
    cJSON_Delete(j);
}

void
api_ops_metrics(struct http_call *c)
{
    struct sequencer_stats st;
    struct http_metrics m;
    char buf[4096];
    int n, i;
    size_t len = 0;

    sequencer_stats(http_app_of(c)->seq, &st);
    http_metrics_get(&m);
    n = snprintf(
        buf, sizeof(buf),
        "# HELP consentd_log_size Entries in the latest signed checkpoint.\n"
        "# TYPE consentd_log_size gauge\nconsentd_log_size %llu\n"
        "# HELP consentd_log_appends_total Entries appended since start.\n"
        "# TYPE consentd_log_appends_total counter\nconsentd_log_appends_total %llu\n"
        "# HELP consentd_log_batches_total Durable group commits since start.\n"
        "# TYPE consentd_log_batches_total counter\nconsentd_log_batches_total %llu\n"
        "# HELP consentd_log_refused_total Writes refused by the state checks.\n"
        "# TYPE consentd_log_refused_total counter\nconsentd_log_refused_total %llu\n"
        "# HELP consentd_log_commit_seconds_total Time in durable commits.\n"
        "# TYPE consentd_log_commit_seconds_total counter\n"
        "consentd_log_commit_seconds_total %.6f\n"
        "# HELP consentd_log_checkpoint_seconds_total Time persisting checkpoints.\n"
        "# TYPE consentd_log_checkpoint_seconds_total counter\n"
        "consentd_log_checkpoint_seconds_total %.6f\n"
        "# HELP consentd_log_queue_full_total Writes refused for a full queue.\n"
        "# TYPE consentd_log_queue_full_total counter\n"
        "consentd_log_queue_full_total %llu\n"
        "# HELP consentd_log_queued Writes waiting for the sequencer.\n"
        "# TYPE consentd_log_queued gauge\nconsentd_log_queued %llu\n"
        "# HELP consentd_log_writable 1 unless the log turned read-only.\n"
        "# TYPE consentd_log_writable gauge\nconsentd_log_writable %d\n"
        "# HELP consentd_http_connections Open client connections.\n"
        "# TYPE consentd_http_connections gauge\nconsentd_http_connections %llu\n"
        "# HELP consentd_http_connections_accepted_total Connections accepted.\n"
        "# TYPE consentd_http_connections_accepted_total counter\n"
        "consentd_http_connections_accepted_total %llu\n"
        "# HELP consentd_http_connections_refused_total Connections closed at the cap.\n"
        "# TYPE consentd_http_connections_refused_total counter\n"
        "consentd_http_connections_refused_total %llu\n"
        "# HELP consentd_http_responses_total Responses by status class.\n"
        "# TYPE consentd_http_responses_total counter\n",
        (unsigned long long)st.size, (unsigned long long)st.entries, (unsigned long long)st.batches,
        (unsigned long long)st.refused, (double)st.commit_ns / 1e9, (double)st.checkpoint_ns / 1e9,
        (unsigned long long)st.queue_full, (unsigned long long)st.queued,
        sequencer_writable(http_app_of(c)->seq, NULL, 0) ? 1 : 0, (unsigned long long)m.connections,
        (unsigned long long)m.accepted, (unsigned long long)m.refused);
    if (n > 0)
        len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    for (i = 1; i <= 5 && len < sizeof(buf); i++) {
        n = snprintf(buf + len, sizeof(buf) - len,
                     "consentd_http_responses_total{class=\"%dxx\"} %llu\n", i,
                     (unsigned long long)m.responses[i]);
        if (n > 0)
            len += (size_t)n;
    }
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    http_reply(c, 200, "text/plain; version=0.0.4", buf, len);
}
