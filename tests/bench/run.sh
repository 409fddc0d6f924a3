#!/usr/bin/env bash
# make bench: durable appends/s from 64 concurrent clients (POST /v1/orgs, each answered only
# after its entry is fsynced and in a signed checkpoint), and inclusion proofs/s, with p50/p99
# latency, against a consentd on 127.0.0.1. Then access tokens (issue 5): tokens/s from POST
# /oauth2/token with private_key_jwt and a consent decision (an explicit grant), each answered
# after its access entry is durable; introspections/s; the same token job done by node's
# oidc-provider (tests/bench/oidc-provider.mjs, installed by make bench into
# tests/bench/node_modules) with the same load; and each server's peak memory (VmHWM). Load and
# server share this machine; each server runs alone.
# BENCH_SECONDS (default 10) sets each run's length; BENCH_TOKEN_RATE_MAX (default 30000) the
# rate a token run's pool of pre-signed assertions is sized for (a run that sends more says so).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
RATE_MAX=${BENCH_TOKEN_RATE_MAX:-30000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/consentd-bench.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$((10000 + RANDOM % 20000)) # below the ephemeral range, where clients take their ports
ISS="http://127.0.0.1:$port"
out=$("./$BUILD/consentd" init --data "$tmp/data" --issuer "$ISS")
token=$(sed -n 's/^admin-token: //p' <<<"$out")
serve() { # serve [FLAGS…]: start consentd on port, pid in $pid
    "./$BUILD/consentd" serve --data "$tmp/data" --listen "127.0.0.1:$port" "$@" 2>>"$tmp/server.log" &
    pid=$!
    for _ in $(seq 1 200); do curl -sf "$ISS/healthz" >/dev/null && return 0; sleep 0.05; done
    echo "bench: consentd did not start" >&2
    return 1
}
stop() { # stop: SIGTERM the server started last and wait for it
    kill -TERM "$pid" && wait "$pid" || true
    pid=
}
peak() { awk '/^VmHWM:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; } # peak PID
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # cpu PID: user + system time, in ticks
threads() { # threads PID: "name ticks" a line for each thread (consentd names its threads)
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s\n' "$(cat "$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"
    done 2>/dev/null
}
serve

report() { # report NAME WRK_OUTPUT: a table row; errors are non-2xx answers and socket errors
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$2")
    p50=$(awk '$1 == "50%" {print $2}' "$2")
    p99=$(awk '$1 == "99%" {print $2}' "$2")
    errors=$(awk '/Non-2xx/ {n += $NF} /^  Socket errors:/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
        END {print n + 0}' "$2")
    printf '| %-44s | %10s | %8s | %8s | %s |\n' "$1" "$rps" "$p50" "$p99" "$errors"
}

echo "consentd bench: $(nproc) cores, $CONNS connections, ${SECS}s per run, $(date -u +%FT%TZ)"
echo "| what | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
CONSENTD_TOKEN=$token wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s tests/bench/append.lua \
    "http://127.0.0.1:$port" >"$tmp/append.txt"
report "durable appends (POST /v1/orgs)" "$tmp/append.txt"
size=$(curl -sf "http://127.0.0.1:$port/log/checkpoint" | sed -n 2p)
SIZE=$size wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s tests/bench/proof.lua \
    "http://127.0.0.1:$port" >"$tmp/proof.txt"
report "inclusion proofs (log of $size)" "$tmp/proof.txt"
wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/log/checkpoint" >"$tmp/ckpt.txt"
report "GET /log/checkpoint" "$tmp/ckpt.txt"
curl -sf "http://127.0.0.1:$port/metrics" | awk '
    /^consentd_log_appends_total/ {a=$2} /^consentd_log_batches_total/ {b=$2}
    /^consentd_log_commit_seconds_total/ {c=$2}
    END { if (b > 0) printf "group commit: %d entries in %d durable commits (%.1f per fsync batch), %.3f ms per commit\n", a, b, a/b, 1000*c/b }'

# --- access tokens ---------------------------------------------------------------------------
# A hospital's requester client asks for a person's GP record for TREAT under the person's
# explicit grant (the realistic decision path; the implied GP rule skips the grant lookup).
# Every request carries a new client assertion (a jti is single use), pre-signed into a pool
# by tests/bench/assertions.mjs; each token is answered after its access entry is durable.
CTL=./$BUILD/consentctl
export CONSENTD_URL=$ISS
NHS=9434765919
"$CTL" admin org add --token "$token" --ods A81001 --name 'Riverside Practice' --type gp-practice \
    --endpoint http://127.0.0.1:9/gp/fhir >/dev/null
"$CTL" admin org add --token "$token" --ods RX1 --name 'City Hospital' --type hospital >/dev/null
for k in gp rx rx1 rxc pa; do "$CTL" keygen --out "$tmp/$k.key" >/dev/null; done
client() { # client ID ORG KEY ROLE
    "$CTL" admin client add --token "$token" --id "$1" --org "$2" --key "$tmp/$3.key" \
        --roles "$4" >/dev/null
}
client gp-en A81001 gp enroller
client rx-req RX1 rx requester
client rx-req-1 RX1 rx1 requester
client rx-cust RX1 rxc custodian
gp=$("$CTL" client token --id gp-en --key "$tmp/gp.key" --scope enrol)
code=$("$CTL" patient code --nhs $NHS --token "$gp" | sed -n 's/^code: //p')
"$CTL" patient enrol --nhs $NHS --code "$code" --key "$tmp/pa.key" >/dev/null
"$CTL" consent grant --nhs $NHS --key "$tmp/pa.key" --org RX1 --purpose TREAT \
    --datatypes gp-record --until "$(date -u -d '+1 year' +%F)" >/dev/null
AD='[{"type":"care-record-access","identifier":"'$NHS'","purpose":"TREAT","datatypes":["gp-record"]}]'
FORM="grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
export FORM="$FORM&authorization_details=$(jq -rn --arg s "$AD" '$s | @uri')"
export TOKEN_PATH=/oauth2/token
pool=$((SECS * RATE_MAX))
# The fixtures are made by the first server, so the admin token's Argon2id check (64 MiB) is
# not in the peak memory of the servers measured below.
mem_log=$(peak "$pid")
stop

# sign_pool CLIENT_ID KEY N: pre-sign N assertions for the server on port into $tmp/pool (two
# signing processes, one a core).
sign_pool() {
    node tests/bench/assertions.mjs "$tmp/$2.key" "$1" "$ISS" $(($3 / 2)) "$tmp/pool.1" &
    local half=$!
    node tests/bench/assertions.mjs "$tmp/$2.key" "$1" "$ISS" $(($3 - $3 / 2)) "$tmp/pool.2"
    wait "$half"
    cat "$tmp/pool.1" "$tmp/pool.2" >"$tmp/pool"
    rm -f "$tmp/pool.1" "$tmp/pool.2"
}

# ok WRK_OUTPUT: the 2xx answers of a run (wrk's requests, less its non-2xx answers).
ok() { awk '/ requests in / {n = $1} /Non-2xx/ {n -= $NF} END {print n + 0}' "$1"; }

# token_run NAME CLIENT_ID KEY OUT: pre-sign a pool for the server on port, run wrk with it,
# print the row and the run's own account.
token_run() {
    sign_pool "$2" "$3" "$pool"
    # A 10 s timeout (wrk's default is 2 s), so that slow answers count in the latencies
    # instead of being dropped as socket errors.
    # token.lua prints wrk's own CPU after formatting the pool ("load cpu: S (after init)").
    local cpu0
    cpu0=$(cpu "$pid")
    threads "$pid" >"$tmp/threads.0"
    ASSERTIONS=$tmp/pool wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s \
        --latency -s tests/bench/token.lua "$ISS" >"$4"
    echo "server cpu ticks: $(($(cpu "$pid") - cpu0)) of $(getconf CLK_TCK)/s" >>"$4"
    threads "$pid" | awk 'NR == FNR {t0[$1] = $2; next} $1 in t0 && $2 > t0[$1] {
        printf "thread cpu ticks: %s %d\n", $1, $2 - t0[$1]}' "$tmp/threads.0" - >>"$4"
    rm -f "$tmp/pool"
    report "$1" "$4"
    echo "  2xx answers: $(ok "$4")"
    sed -n 's/^assertions: /  assertions: /p; s/^  Socket errors: /  socket errors: /p' "$4"
    if grep -q 'RAN OUT' "$4"; then
        echo "  WARNING: the pool ran out; raise BENCH_TOKEN_RATE_MAX (this rate is of refusals in part)"
    fi
}

serve
token_run "tokens (consentd)" rx-req rx "$tmp/token.txt"
# 2,000 tokens for the introspection run, from a run of their own that keeps each answer's
# token (the measured run does not read its answers) and stops once it has them.
sign_pool rx-req rx 2200
ASSERTIONS=$tmp/pool TOKENS_OUT=$tmp/tokens wrk -t1 -c8 -d60s -s tests/bench/token.lua "$ISS" \
    >"$tmp/collect.txt"
rm -f "$tmp/pool"
[ "$(wc -l <"$tmp/tokens" 2>/dev/null)" = 2000 ] || {
    echo "bench: the token run for introspection did not issue 2,000 tokens:" >&2
    cat "$tmp/collect.txt" >&2
    exit 1
}
bearer=$("$CTL" client token --id rx-cust --key "$tmp/rxc.key" --scope introspect)
cpu0=$(cpu "$pid")
TIMEFORMAT='load cpu: %U %S'
{ time TOKENS=$tmp/tokens BEARER=$bearer wrk -t1 -c"$CONNS" -d"${SECS}s" --latency \
    -s tests/bench/introspect.lua "$ISS" >"$tmp/introspect.txt"; } 2>"$tmp/load.cpu"
cpu1=$(cpu "$pid")
report "introspections (bearer, $(wc -l <"$tmp/tokens") tokens in turn)" "$tmp/introspect.txt"
sed -n 's/^statuses: /  statuses: /p; s/^answers: /  answers: /p' "$tmp/introspect.txt"
awk -v ticks=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" '/^load cpu:/ {load = $3 + $4}
    / requests in / {n = $1} END {if (n > 0) printf "  CPU µs/introspection: consentd %.0f, wrk (the load) %.0f\n",
    1e6 * ticks / hz / n, 1e6 * load / n}' "$tmp/load.cpu" "$tmp/introspect.txt"
mem_tokens=$(peak "$pid")
stop

# The same token run with one HTTP worker thread, as oidc-provider runs its JavaScript on one
# thread (its own client, so the run starts with no assertion jtis of its own remembered).
serve --threads 1
token_run "tokens (consentd --threads 1)" rx-req-1 rx1 "$tmp/token1.txt"
mem_tokens1=$(peak "$pid")
stop

# --- node's oidc-provider doing the same token job, alone on the same port -----------------
[ -d tests/bench/node_modules/oidc-provider ] || {
    echo "bench: tests/bench/node_modules is missing (make bench runs npm ci there)" >&2
    exit 1
}
op_version=$(node -p 'require("./tests/bench/node_modules/oidc-provider/package.json").version')
NODE_ENV=production node tests/bench/oidc-provider.mjs "$port" rx-req "$tmp/rx.key" \
    >"$tmp/op.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q '^listening' "$tmp/op.log" && break; sleep 0.05; done
token_run "tokens (oidc-provider $op_version)" rx-req rx "$tmp/op.txt"
mem_op=$(peak "$pid")
stop

# --- the comparison -------------------------------------------------------------------------
row() { # row NAME WRK_OUTPUT PEAK
    awk -v name="$1" -v mem="$3" '
        /^Requests\/sec:/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
        / requests in / {ok += $1} /Non-2xx/ {ok -= $NF; bad += $NF}
        /^  Socket errors:/ {gsub(",", ""); bad += $4 + $6 + $8 + $10}
        /^server cpu ticks:/ {cpu = $4 / $6}
        END {printf "| %-36s | %10s | %8s | %8s | %7d | %6d | %6.0f | %8s |\n", name, rps, p50, p99,
            ok, bad, (ok > 0 ? 1e6 * cpu / ok : 0), mem}' "$2"
}
rate() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
echo
echo "token endpoint, same load (wrk -t1 -c$CONNS -d${SECS}s --timeout 10s), one server at a time:"
echo "| server | tokens/s | p50 | p99 | 2xx | others | CPU µs/token | VmHWM |"
echo "|---|---|---|---|---|---|---|---|"
row "consentd (default threads: $(nproc))" "$tmp/token.txt" "$mem_tokens"
row "consentd --threads 1" "$tmp/token1.txt" "$mem_tokens1"
row "oidc-provider $op_version (node $(node --version))" "$tmp/op.txt" "$mem_op"
awk -v c="$(rate "$tmp/token.txt")" -v c1="$(rate "$tmp/token1.txt")" -v o="$(rate "$tmp/op.txt")" \
    'BEGIN { if (o > 0) printf "tokens/s, consentd / oidc-provider: %.2f (consentd --threads 1: %.2f)\n", c / o, c1 / o }'
# Where consentd's CPU went, by thread, and what the load generator itself used.
for f in token token1; do
    awk -v hz="$(getconf CLK_TCK)" -v run="$([ $f = token ] && echo consentd || echo 'consentd --threads 1')" '
        / requests in / {ok += $1} /Non-2xx/ {ok -= $NF}
        /^thread cpu ticks:/ {name[++n] = $4; ticks[n] = $5}
        /^load cpu:/ {load = $3} /^Requests\/sec:/ {rps = $2} / requests in / {req = $1}
        END {if (ok == 0) exit; line = "";
            for (i = 1; i <= n; i++) line = line sprintf("%s %.0f, ", name[i], 1e6 * ticks[i] / hz / ok);
            printf "%s, CPU µs/token by thread: %swrk (the load) %.0f µs/request\n", run, line, 1e6 * load / req}' \
        "$tmp/$f.txt"
done
echo "CPU µs/token: the server's user + system time over the run, per 2xx answer (less disturbed"
echo "  by other load than the rates). VmHWM: peak resident memory, with the LMDB pages mapped and"
echo "  touched; consentd's covers the token and introspection runs; the first server's (log runs,"
echo "  fixtures, with the admin token's Argon2id check): $mem_log"
