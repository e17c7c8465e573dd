#!/usr/bin/env bash
# Cluster benchmarks: three Strata nodes on one SeaweedFS store and one redis-server feed, and a single node
# beside them for reference, all on this machine (release build, loopback). Prints the markdown tables of
# bench/RESULTS.md: cross-node freshness and LL-HLS wake latency, a cold segment read from the store
# against one from local disk, aggregate hot GET throughput of 1, 2 and 3 nodes, and PUT latency single
# node against cluster. Medians over BENCH_ROUNDS rounds.
#
# Usage (from the repository root): bench/cluster.sh
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10) per wrk run, BENCH_KEEP=1 keeps the work folder,
#              STRATA_BIN=path benchmarks that binary instead of building target/release/strata.
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-cluster-bench.XXXXXX")
PIDS=()

log() { printf '%s\n' "$*" >&2; }
# shellcheck source=scripts/lib/apt.sh
. "$REPO/scripts/lib/apt.sh"
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# shellcheck source=scripts/lib/engines.sh
. scripts/lib/engines.sh
install_engines
command -v wrk >/dev/null 2>&1 || apt_install wrk

if [[ -n ${STRATA_BIN:-} ]]; then
    STRATA=$STRATA_BIN
else
    log "building strata (release)"
    cargo build --release -p strata >&2
    STRATA=${CARGO_TARGET_DIR:-target}/release/strata
fi

start_weed "$WORK/weed" strata-bench
PIDS+=("$WEED_PID")
start_redis "$WORK/redis"
PIDS+=("$REDIS_PID")
export AWS_ACCESS_KEY_ID=testkey AWS_SECRET_ACCESS_KEY=testsecret AWS_ENDPOINT_URL=$WEED_ENDPOINT

# start_node NAME [cluster args...]: sets URL_<NAME>.
start_node() {
    local name=$1 port
    shift
    port=$(engines_free_port)
    "$STRATA" serve --listen "127.0.0.1:$port" --data "$WORK/$name" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=("$!")
    printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
    local deadline=$((SECONDS + 60))
    until grep -q "strata listening on" "$WORK/$name.out" 2>/dev/null; do
        ((SECONDS < deadline)) || { log "node $name did not start:"; tail "$WORK/$name.log" >&2; exit 1; }
        sleep 0.1
    done
}
cluster=(--cluster-store s3://strata-bench/bench --cluster-feed "$REDIS_URL")
start_node a "${cluster[@]}" --node-id a
start_node b "${cluster[@]}" --node-id b
start_node c "${cluster[@]}" --node-id c
start_node single

probe() { python3 bench/latency_probe.py "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# row LABEL PROBE-ARGS...: runs the probe ROUNDS times, prints "| LABEL | p50 | p99 |" of the medians.
row() {
    local label=$1 p50=() p99=() out
    shift
    for ((r = 1; r <= ROUNDS; r++)); do
        out=$(probe "$@")
        p50+=("$(field "$out" p50)")
        p99+=("$(field "$out" p99)")
    done
    printf '| %s | %s | %s |\n' "$label" "$(median "${p50[@]}")" "$(median "${p99[@]}")"
}

log "warming up"
probe put "$URL_a" 2048 20 >/dev/null
probe put "$URL_single" 2048 20 >/dev/null

echo "### Latency (ms; medians of $ROUNDS rounds)"
echo
echo "| measurement | p50 | p99 |"
echo "|---|---:|---:|"
row "freshness: A answers a playlist PUT -> B serves it (300 versions)" freshness "$URL_a" "$URL_b" 300
row "LL-HLS wake: A answers the PUT -> B answers the parked reload (100)" wake "$URL_a" "$URL_b" 100
row "PUT 2 KiB playlist, single node" put "$URL_single" 2048 200
row "PUT 2 KiB playlist, cluster node" put "$URL_a" 2048 200
row "PUT 1 MiB segment, single node" put "$URL_single" 1048576 100
row "PUT 1 MiB segment, cluster node" put "$URL_a" 1048576 100

# Cold reads: 2 MiB segments read once. Cluster: written on A, first read on C (from the store). Local disk:
# written on the single node, read once after a restart emptied its memory (the page cache stays warm).
store_p50=() store_p99=() disk_p50=() disk_p99=()
for ((r = 1; r <= ROUNDS; r++)); do
    probe write "$URL_a" "cold$r" 2097152 40 >/dev/null
    out=$(probe cold "$URL_c" "cold$r" 40)
    store_p50+=("$(field "$out" p50)") store_p99+=("$(field "$out" p99)")
    probe write "$URL_single" "cold$r" 2097152 40 >/dev/null
    kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
    rm -f "$WORK/single.out"
    start_node single
    out=$(probe cold "$URL_single" "cold$r" 40)
    disk_p50+=("$(field "$out" p50)") disk_p99+=("$(field "$out" p99)")
done
printf '| cold 2 MiB segment read from the store (node C, written on A) | %s | %s |\n' \
    "$(median "${store_p50[@]}")" "$(median "${store_p99[@]}")"
printf '| cold 2 MiB segment read from local disk (single node after restart) | %s | %s |\n' \
    "$(median "${disk_p50[@]}")" "$(median "${disk_p99[@]}")"

# Aggregate hot GET: a 64 KiB segment, in memory on every node; wrk -t1 -c32 against each node at once.
probe write "$URL_a" hot 65536 1 >/dev/null
for url in "$URL_a" "$URL_b" "$URL_c"; do probe cold "$url" hot 1 >/dev/null; probe cold "$url" hot 1 >/dev/null; done
rps() { wrk -t1 -c32 -d"${SECONDS_PER_RUN}s" "$1/hot/0.ts" | awk '/Requests\/sec/ { print $2 }'; }
echo
echo "### Aggregate hot GET, 64 KiB segment (req/s; wrk -t1 -c32 per node, ${SECONDS_PER_RUN} s, medians of $ROUNDS rounds)"
echo
echo "| nodes | total req/s | per node |"
echo "|---:|---:|---:|"
nodes=("$URL_a" "$URL_b" "$URL_c")
for n in 1 2 3; do
    totals=()
    for ((r = 1; r <= ROUNDS; r++)); do
        runs=()
        for ((i = 0; i < n; i++)); do rps "${nodes[$i]}" >"$WORK/rps.$i" & runs+=("$!"); done
        wait "${runs[@]}"
        total=0
        for ((i = 0; i < n; i++)); do total=$(awk -v a="$total" -v b="$(cat "$WORK/rps.$i")" 'BEGIN { printf "%.0f", a + b }'); done
        totals+=("$total")
    done
    t=$(median "${totals[@]}")
    printf '| %d | %.0f | %.0f |\n' "$n" "$t" "$(awk -v t="$t" -v n="$n" 'BEGIN { print t / n }')"
done
