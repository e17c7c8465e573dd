#!/usr/bin/env bash
# Hot GET throughput and latency: Strata (objects in its memory tier, served through the guest)
# against nginx (sendfile from disk), same files, same machine, same wrk settings.
# Prints a markdown table for RESULTS.md; writes nothing into the repository.
#
# Usage (from the repository root): bench/http_get.sh
# Environment: BENCH_ROUNDS (5), BENCH_SECONDS (10), BENCH_THREADS (2), BENCH_CONNECTIONS (64),
#              BENCH_KEEP=1 keeps the temporary directory for inspection,
#              STRATA_BIN=path benchmarks that binary instead of building target/release/strata.
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-5}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
chmod 755 "$WORK" # nginx workers started by root run as nobody and must read www/
NGINX_PID=""
STRATA_PID=""
SPIN_PID=""

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
    for pid in "$STRATA_PID" "$NGINX_PID" "$SPIN_PID"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Installs the Debian packages providing missing commands (only when root, only if needed).
require() {
    local missing=() pkgs=() cmd pkg
    for spec in "$@"; do
        cmd=${spec%%:*} pkg=${spec#*:}
        command -v "$cmd" >/dev/null 2>&1 || { missing+=("$cmd"); pkgs+=("$pkg"); }
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${pkgs[*]} for ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >&2; }
    else
        die "missing ${missing[*]}: install the Debian packages ${pkgs[*]}"
    fi
}

# A free TCP port on 127.0.0.1 (asks the kernel, then releases it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls `cmd` every 0.1 s for up to $1 seconds.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Converts a wrk latency such as 812.00us, 1.20ms or 1.05s to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

require wrk:wrk nginx:nginx-light curl:curl python3:python3
NGINX=$(command -v nginx)

if [[ -n ${STRATA_BIN:-} ]]; then
    STRATA=$STRATA_BIN
    log "using $STRATA (not rebuilt)"
else
    log "building strata (release)"
    (cd "$REPO" && cargo build --release -p strata >&2)
    STRATA="$REPO/target/release/strata"
fi
[[ -x $STRATA ]] || die "$STRATA was not built"

# The files: a 2 KiB live media playlist (padded by a comment to exactly 2048 bytes) and a 1 MiB segment.
mkdir -p "$WORK/www/bench" "$WORK/nginx/logs" "$WORK/nginx/tmp"
playlist=$'#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1000\n'
for ((i = 1000; ${#playlist} < 2048 - 64; i++)); do
    playlist+=$(printf '#EXTINF:2.000000,\nsegment_%06d.ts' "$i")$'\n'
done
pad=$((2048 - ${#playlist} - 2))
playlist+="#$(printf '%*s' "$pad" '' | tr ' ' 'x')"$'\n'
printf '%s' "$playlist" >"$WORK/www/bench/playlist.m3u8"
head -c 1048576 /dev/urandom >"$WORK/www/bench/segment.ts"
FILES=(playlist.m3u8 segment.ts)

# nginx: foreground, own config, sendfile from disk, no access log.
NGINX_PORT=$(free_port)
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $WORK/nginx/tmp/client;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/logs/stderr.log" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
wait_for 10 curl -fsS -o /dev/null "$NGINX_URL/bench/segment.ts" \
    || die "nginx did not serve the segment: $(cat "$WORK/nginx/logs/stderr.log" "$WORK/nginx/logs/error.log" 2>/dev/null | tail -5)"

# Strata: release build, objects PUT in so they sit in its memory tier.
"$STRATA" serve --listen 127.0.0.1:0 --data "$WORK/strata-data" >"$WORK/strata.out" 2>"$WORK/strata.err" &
STRATA_PID=$!
wait_for 60 grep -q '^strata listening on http://' "$WORK/strata.out" \
    || die "strata did not start: $(tail -20 "$WORK/strata.err")"
STRATA_URL=$(sed -n 's/^strata listening on //p' "$WORK/strata.out" | head -1)
for f in "${FILES[@]}"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$WORK/www/bench/$f" "$STRATA_URL/bench/$f")
    [[ $code == 201 || $code == 204 ]] || die "PUT $f to strata answered $code"
done

declare -A URL=([nginx]=$NGINX_URL [strata]=$STRATA_URL)
SERVERS=(nginx strata)

# Spin, when a Spin CLI is at hand (STRATA_SPIN, `spin` on PATH, or ../shared/tools): the same guest logic
# as a Spin component, objects in Spin's key-value store (sqlite), every byte through the component.
SPIN_CLI=${STRATA_SPIN:-$(command -v spin || true)}
if [[ -z $SPIN_CLI && -f $REPO/../shared/tools/spin-4.0.2-linux-x86_64.xz ]]; then
    xz -dc "$REPO/../shared/tools/spin-4.0.2-linux-x86_64.xz" >"$WORK/spin" && chmod +x "$WORK/spin"
    SPIN_CLI=$WORK/spin
fi
if [[ -n $SPIN_CLI ]]; then
    log "building the Spin component (release)"
    (cd "$REPO" && cargo build --release -p strata-guest-spin --target wasm32-wasip2 >&2)
    SPIN_WASM="${CARGO_TARGET_DIR:-$REPO/target}/wasm32-wasip2/release/strata_guest_spin.wasm"
    mkdir -p "$WORK/spin-app"
    printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "strata"' 'version = "0.1.0"' \
        '[[trigger.http]]' 'route = "/..."' 'component = "strata"' '[component.strata]' \
        "source = \"$SPIN_WASM\"" 'key_value_stores = ["default"]' >"$WORK/spin-app/spin.toml"
    SPIN_PORT=$(free_port)
    (cd "$WORK/spin-app" && exec "$SPIN_CLI" up --listen "127.0.0.1:$SPIN_PORT" -f spin.toml >"$WORK/spin.out" 2>&1) &
    SPIN_PID=$!
    wait_for 60 grep -q '^Serving http://' "$WORK/spin.out" || die "spin up did not start: $(tail -5 "$WORK/spin.out")"
    URL[spin]="http://127.0.0.1:$SPIN_PORT"
    SERVERS+=(spin)
    for f in "${FILES[@]}"; do
        code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$WORK/www/bench/$f" "${URL[spin]}/bench/$f")
        [[ $code == 201 || $code == 204 ]] || die "PUT $f to spin answered $code"
    done
else
    log "no Spin CLI found: Spin is left out of the table"
fi

# Every server must serve identical bytes before we time them.
for f in "${FILES[@]}"; do
    for url in "${URL[@]}"; do
        curl -fsS "$url/bench/$f" -o "$WORK/check"
        cmp -s "$WORK/check" "$WORK/www/bench/$f" || die "$url/bench/$f differs from the file on disk"
    done
done

declare -A RPS P50 P99 ERRORS
log "wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency, $ROUNDS rounds, servers alternating"
for ((round = 1; round <= ROUNDS; round++)); do
    # The order rotates every round, so no server always runs first (or right after another).
    shift_by=$(( (round - 1) % ${#SERVERS[@]} ))
    order=("${SERVERS[@]:shift_by}" "${SERVERS[@]:0:shift_by}")
    for f in "${FILES[@]}"; do
        for server in "${order[@]}"; do
            base=${URL[$server]}
            out="$WORK/wrk-$round-$server-$f.txt"
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$base/bench/$f" >"$out"
            rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
            p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
            p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
            bad=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
            [[ -n $rps ]] || die "could not read wrk output $out"
            RPS[$f,$server]+="$rps "
            P50[$f,$server]+="$p50 "
            P99[$f,$server]+="$p99 "
            ERRORS[$f,$server]=$(( ${ERRORS[$f,$server]:-0} + bad ))
            log "round $round $f $server: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, errors $bad"
        done
    done
done

kill -0 "$STRATA_PID" 2>/dev/null || die "strata died during the benchmark: $(tail -20 "$WORK/strata.err")"

echo
echo "Hot GET, $(nproc) CPUs ($(uname -m)), wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, median of $ROUNDS rounds;"
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (sendfile, disk) vs strata $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unversioned) (memory tier, through the guest), loopback."
echo
echo "| file | server | req/s | p50 latency | p99 latency | errors | / nginx req/s |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for f in "${FILES[@]}"; do
    # shellcheck disable=SC2086 # word splitting of the space-separated samples is intended
    nginx_rps=$(median ${RPS[$f,nginx]})
    for server in "${SERVERS[@]}"; do
        # shellcheck disable=SC2086
        rps=$(median ${RPS[$f,$server]}) p50=$(median ${P50[$f,$server]}) p99=$(median ${P99[$f,$server]})
        ratio=""
        [[ $server != nginx ]] && ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
        size=$(wc -c <"$WORK/www/bench/$f")
        printf '| %s (%s B) | %s | %.0f | %.3f ms | %.3f ms | %s | %s |\n' \
            "$f" "$size" "$server" "$rps" "$p50" "$p99" "${ERRORS[$f,$server]}" "$ratio"
    done
done

# LL-HLS on each origin that runs the guest: a blocking reload parked before the playlist PUT that satisfies
# it; the delay from the writer's answer to the reload's (Spin polls its store every 20 ms, the host wakes
# parked requests on the key's change signal).
echo
echo "LL-HLS blocking reload, writer's PUT answered -> parked reload answered (ms; 100 reloads a round,"
echo "median of $ROUNDS rounds; bench/latency_probe.py wake):"
echo
echo "| server | p50 | p99 |"
echo "| --- | ---: | ---: |"
for server in "${SERVERS[@]}"; do
    [[ $server == nginx ]] && continue
    p50s=() p99s=()
    for ((round = 1; round <= ROUNDS; round++)); do
        out=$(python3 "$REPO/bench/latency_probe.py" wake "${URL[$server]}" "${URL[$server]}" 100)
        p50s+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p50"])' "$out")")
        p99s+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99"])' "$out")")
    done
    printf '| %s | %s | %s |\n' "$server" "$(median "${p50s[@]}")" "$(median "${p99s[@]}")"
done

