#!/usr/bin/env bash
# Live ingest throughput: BENCH_WRITERS (10) ffmpeg-like writers PUT 2 s segments (1.25 MB) and their media
# playlists to one Strata node, and to nginx as a WebDAV PUT origin, same machine, same driver
# (bench/ingest_driver.py). Each run starts the server afresh on an empty folder; servers alternate.
# Prints a markdown table for RESULTS.md on stdout; progress on stderr; writes nothing into the repository.
#
# Usage (from the repository root): bench/ingest.sh
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_WRITERS (10), BENCH_SEGMENT_BYTES (1250000),
#              BENCH_WINDOW (60: segments each media playlist names), BENCH_KEEP=1 keeps the temporary
#              directory, STRATA_BIN=path benchmarks that binary instead of building target/release/strata,
#              BENCH_STRATA_ARGS="..." extra `strata serve` flags (e.g. "--config my.toml").
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
WRITERS=${BENCH_WRITERS:-10}
SEGMENT_BYTES=${BENCH_SEGMENT_BYTES:-1250000}
WINDOW=${BENCH_WINDOW:-60}
read -ra STRATA_ARGS <<<"${BENCH_STRATA_ARGS:-}"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib/common.sh
. "$REPO/bench/lib/common.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-ingest.XXXXXX")
chmod 755 "$WORK" # nginx workers started by root run as nobody and must reach www/
SERVER_PID=""
SERVER_URL=""

stop_server() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

cleanup() {
    stop_server
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# a / b with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

require nginx:nginx-light curl:curl python3:python3
NGINX=$(command -v nginx)
# PUT needs ngx_http_dav_module: compiled into Debian's nginx (bookworm) and nginx-full/-extras, not
# nginx-light. (libnginx-mod-http-dav-ext adds PROPFIND and friends, which PUT does not need.)
if [[ $("$NGINX" -V 2>&1) != *--with-http_dav_module* ]]; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        die "$NGINX has no http_dav_module (for PUT): install Debian's nginx-full (or nginx)"
    fi
    log "$NGINX has no http_dav_module (PUT): installing nginx-full"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-full >&2 \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-full >&2; }
    NGINX=$(command -v nginx)
    [[ $("$NGINX" -V 2>&1) == *--with-http_dav_module* ]] || die "$NGINX still has no http_dav_module"
fi

if [[ -n ${STRATA_BIN:-} ]]; then
    STRATA=$STRATA_BIN
    log "using $STRATA (not rebuilt)"
else
    log "building strata (release)"
    (cd "$REPO" && cargo build --release -p strata >&2)
    STRATA="${CARGO_TARGET_DIR:-$REPO/target}/release/strata"
fi
[[ -x $STRATA ]] || die "$STRATA was not built"

head -c "$SEGMENT_BYTES" /dev/urandom >"$WORK/segment.ts"
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"

# nginx as a WebDAV PUT origin: PUT writes the body to a temporary file, then renames it into place (no
# fsync). Workers run as nobody when started by root, so the folder it writes is world-writable.
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
    client_max_body_size 64m;
    client_body_temp_path $WORK/nginx/tmp/client;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/nginx-www;
        location / {
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }
    }
}
EOF

# Starts server $1 (nginx or strata) on an empty folder; sets SERVER_PID and SERVER_URL.
start_server() {
    case $1 in
        nginx)
            rm -rf "$WORK/nginx-www" && mkdir -m 777 "$WORK/nginx-www"
            "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" \
                2>>"$WORK/nginx/logs/stderr.log" &
            SERVER_PID=$!
            SERVER_URL="http://127.0.0.1:$NGINX_PORT"
            wait_for 10 curl -fsS -o /dev/null -X PUT --data-binary ready "$SERVER_URL/ready" \
                || die "nginx did not start: $(tail -5 "$WORK/nginx/logs/stderr.log" "$WORK/nginx/logs/error.log" 2>/dev/null)"
            ;;
        strata)
            rm -rf "$WORK/strata-data"
            "$STRATA" serve --listen 127.0.0.1:0 --data "$WORK/strata-data" "${STRATA_ARGS[@]}" \
                >"$WORK/strata.out" 2>>"$WORK/strata.err" &
            SERVER_PID=$!
            wait_for 60 grep -q '^strata listening on http://' "$WORK/strata.out" \
                || die "strata did not start: $(tail -20 "$WORK/strata.err")"
            SERVER_URL=$(sed -n 's/^strata listening on //p' "$WORK/strata.out" | head -1)
            ;;
    esac
}

# Stops the server and drops what it wrote, so runs start alike and the disk does not fill up.
stop_and_wipe() {
    stop_server
    rm -rf "$WORK/nginx-www" "$WORK/strata-data"
    sync
}

# Both must take a segment and a playlist (201 or 204) and serve back the same bytes before timing.
for server in nginx strata; do
    start_server "$server"
    printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\nseg_0.ts\n' >"$WORK/check.m3u8"
    for pair in "segment.ts live/check/seg_0.ts" "check.m3u8 live/check/index.m3u8"; do
        read -r file key <<<"$pair"
        code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Expect:' -X PUT --data-binary "@$WORK/$file" "$SERVER_URL/$key")
        [[ $code == 201 || $code == 204 ]] || die "PUT $key to $server answered $code"
        curl -fsS -o "$WORK/check" "$SERVER_URL/$key" || die "$server does not serve $key back"
        cmp -s "$WORK/check" "$WORK/$file" || die "$server serves other bytes at $key"
    done
    stop_and_wipe
done

SERVERS=(nginx strata)
declare -A SEG_S PL_S MB_S SEG_P50 SEG_P99 PL_P50 PL_P99 ERRORS
log "$WRITERS writers x ${SECONDS_PER_RUN}s, ${SEGMENT_BYTES}-byte segments, $ROUNDS rounds, servers alternating"
for ((round = 1; round <= ROUNDS; round++)); do
    shift_by=$(((round - 1) % ${#SERVERS[@]}))
    for server in "${SERVERS[@]:shift_by}" "${SERVERS[@]:0:shift_by}"; do
        start_server "$server"
        out=$(python3 "$REPO/bench/ingest_driver.py" "$SERVER_URL" "$WRITERS" "$SECONDS_PER_RUN" "$WORK/segment.ts" "$WINDOW")
        kill -0 "$SERVER_PID" 2>/dev/null || die "$server died during the run"
        stop_and_wipe
        log "round $round $server: $out"
        read -r seg_s pl_s mb_s seg_p50 seg_p99 pl_p50 pl_p99 errors < <(python3 -c '
import json, sys
o = json.loads(sys.argv[1])
print(*[o[k] if o[k] is not None else 0 for k in
        ("segments_per_s", "playlists_per_s", "mb_per_s", "seg_p50", "seg_p99", "pl_p50", "pl_p99", "errors")])
' "$out")
        SEG_S[$server]+="$seg_s " PL_S[$server]+="$pl_s " MB_S[$server]+="$mb_s "
        SEG_P50[$server]+="$seg_p50 " SEG_P99[$server]+="$seg_p99 "
        PL_P50[$server]+="$pl_p50 " PL_P99[$server]+="$pl_p99 "
        ERRORS[$server]=$((${ERRORS[$server]:-0} + errors))
    done
done

version=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unversioned)
[[ -n $(git -C "$REPO" status --porcelain -- host guest wit 2>/dev/null) ]] && version+="+changes"
echo
echo "Live ingest, $(nproc) CPUs ($(uname -m)), $WRITERS writers x ${SECONDS_PER_RUN}s (bench/ingest_driver.py: keep-alive,"
echo "a $SEGMENT_BYTES-byte segment PUT then its media playlist of up to $WINDOW segments), median of $ROUNDS rounds, loopback;"
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') WebDAV PUT (temporary file renamed into place, no fsync) vs strata $version"
echo "(one node${STRATA_ARGS[*]:+, ${STRATA_ARGS[*]}}; default placement durable: each PUT synced to disk before its 2xx)."
echo
echo "| server | segments/s | playlists/s | MB/s | segment PUT p50 | segment PUT p99 | playlist PUT p50 | playlist PUT p99 | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
declare -A MED
for server in "${SERVERS[@]}"; do
    for metric in SEG_S PL_S MB_S SEG_P50 SEG_P99 PL_P50 PL_P99; do
        declare -n samples=$metric
        # shellcheck disable=SC2086 # word splitting of the space-separated samples is intended
        MED[$metric,$server]=$(median ${samples[$server]})
        unset -n samples
    done
    printf '| %s | %.1f | %.1f | %.1f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s |\n' "$server" \
        "${MED[SEG_S,$server]}" "${MED[PL_S,$server]}" "${MED[MB_S,$server]}" "${MED[SEG_P50,$server]}" \
        "${MED[SEG_P99,$server]}" "${MED[PL_P50,$server]}" "${MED[PL_P99,$server]}" "${ERRORS[$server]}"
done
row="| strata / nginx"
for metric in SEG_S PL_S MB_S SEG_P50 SEG_P99 PL_P50 PL_P99; do
    row+=" | $(ratio "${MED[$metric,strata]}" "${MED[$metric,nginx]}")"
done
echo "$row | |"
