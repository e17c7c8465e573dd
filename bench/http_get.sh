#!/usr/bin/env bash
# Hot GET throughput and latency: Strata (objects in its memory tier, served through the guest; with and
# without its decision cache) against nginx tuned as a production origin (sendfile, open_file_cache), same
# files, same machine, same wrk settings. Cases: a 2 KiB live playlist, the same with aws.manifestfilter,
# a 1 MiB segment, an LL-HLS part among 300 named by a playlist, and the 2 KiB playlist over HTTPS.
# Then: the first GET after a playlist PUT (a decision-cache miss) and the LL-HLS wake delay.
# Prints markdown tables for RESULTS.md on stdout; progress on stderr; writes nothing into the repository.
#
# Usage (from the repository root): bench/http_get.sh
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_THREADS (2), BENCH_CONNECTIONS (64),
#              BENCH_MISS_ITERATIONS (200), BENCH_PART_BYTES (65536), BENCH_SPIN (1; 0 leaves Spin out),
#              BENCH_KEEP=1 keeps the temporary directory for inspection,
#              STRATA_BIN=path benchmarks that binary instead of building target/release/strata,
#              STRATA_SPIN=path (Spin CLI), STRATA_SPIN_WASM=path (prebuilt Spin component: no cargo build).
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
MISS_ITERATIONS=${BENCH_MISS_ITERATIONS:-200}
PART_BYTES=${BENCH_PART_BYTES:-65536}
PARTS=300
FILTER_QUERY='aws.manifestfilter=video_bitrate:0-10000000'

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib/common.sh
. "$REPO/bench/lib/common.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
chmod 755 "$WORK" # nginx workers started by root run as nobody and must read www/
declare -A PIDS=() # server name -> pid of the process to stop at exit
declare -A URL=()  # server name -> base URL

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# a / b with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# One field of a JSON object printed by latency_probe.py.
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# The benchmark's live playlists are written once and read for minutes: without this they would go stale
# (3 target durations without a write) and be answered 404, which is not what is being measured.
printf '[[guest.stale]]\nprefix = "bench/"\nafter_target_durations = 0\n' >"$WORK/strata.toml"

# Starts a strata server named $1 (its own data folder and logs) with the extra flags that follow.
start_strata() {
    local name=$1; shift
    "$STRATA" serve --listen 127.0.0.1:0 --data "$WORK/$name-data" --config "$WORK/strata.toml" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS[$name]=$!
    wait_for 60 grep -q '^strata listening on ' "$WORK/$name.out" \
        || die "$name did not start: $(tail -20 "$WORK/$name.err")"
    URL[$name]=$(sed -n 's/^strata listening on //p' "$WORK/$name.out" | head -1)
    log "$name: ${URL[$name]} $*"
}

# PUTs files to server $1: each further pair of arguments is a local file and the key to store it at,
# in one curl (keep-alive); every answer must be 201 or 204.
put_files() {
    local base=${URL[$1]} args=() code; shift
    while (($# >= 2)); do
        args+=(-T "$1" -o /dev/null "$base/$2"); shift 2
    done
    while read -r code; do
        [[ $code == 201 || $code == 204 ]] || die "PUT to $base answered $code"
    done < <(curl -ksS -H 'Expect:' -w '%{http_code}\n' "${args[@]}")
}

# GETs $2 (a path with its query) from server $1 into $WORK/check; prints the status.
get_check() {
    curl -ksS -o "$WORK/check" -D "$WORK/check.headers" -w '%{http_code}' "${URL[$1]}$2"
}

# The protocol and cipher a TLS server at host:port negotiates with OpenSSL's defaults.
tls_summary() {
    timeout 5 openssl s_client -connect "$1" -servername localhost </dev/null 2>/dev/null \
        | sed -n 's/^New, \(.*\), Cipher is \(.*\)/\1 \2/p' | head -1
}

require wrk:wrk nginx:nginx-light curl:curl python3:python3 openssl:openssl
NGINX=$(command -v nginx)

if [[ -n ${STRATA_BIN:-} ]]; then
    STRATA=$STRATA_BIN
    log "using $STRATA (not rebuilt)"
else
    log "building strata (release)"
    (cd "$REPO" && cargo build --release -p strata >&2)
    STRATA="${CARGO_TARGET_DIR:-$REPO/target}/release/strata"
fi
[[ -x $STRATA ]] || die "$STRATA was not built"
# (The help is read whole: `| grep -q` could close the pipe early and fail the pipeline.)
if [[ $("$STRATA" serve --help 2>&1) == *decision-cache* ]]; then
    DECISION_CACHE=1
else
    DECISION_CACHE=0
    log "note: $STRATA has no --decision-cache-bytes: the strata-nocache column and cache-off rows are left out"
fi

# The files: a 2 KiB live media playlist (padded by a comment to exactly 2048 bytes), a 2 KiB multivariant
# playlist (for aws.manifestfilter if the guest refuses it on media playlists), a 1 MiB segment, and an
# LL-HLS folder: 300 parts of BENCH_PART_BYTES and the playlist naming them all.
mkdir -p "$WORK/www/bench/ll" "$WORK/nginx/logs" "$WORK/nginx/tmp" "$WORK/tls"
playlist=$'#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1000\n'
for ((i = 1000; ${#playlist} < 2048 - 64; i++)); do
    playlist+=$(printf '#EXTINF:2.000000,\nsegment_%06d.ts' "$i")$'\n'
done
pad=$((2048 - ${#playlist} - 2))
playlist+="#$(printf '%*s' "$pad" '' | tr ' ' 'x')"$'\n'
printf '%s' "$playlist" >"$WORK/www/bench/playlist.m3u8"

master=$'#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n'
master+=$'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio_en.m3u8"\n'
master+=$'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",LANGUAGE="fr",NAME="Francais",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio_fr.m3u8"\n'
for v in 400000:416x234:4d401e 800000:640x360:4d401e 1500000:960x540:4d401f 3000000:1280x720:4d401f \
    5000000:1920x1080:640028 8000000:1920x1080:640028 12000000:3840x2160:640033 16000000:3840x2160:640033; do
    IFS=: read -r bw res profile <<<"$v"
    master+="#EXT-X-STREAM-INF:BANDWIDTH=$bw,AVERAGE-BANDWIDTH=$((bw * 9 / 10)),CODECS=\"avc1.$profile,mp4a.40.2\",RESOLUTION=$res,FRAME-RATE=25.000,AUDIO=\"aac\""$'\n'
    master+="video_${res#*x}p_${bw}.m3u8"$'\n'
done
pad=$((2048 - ${#master} - 2))
((pad >= 0)) || die "the multivariant playlist is over 2048 bytes"
master+="#$(printf '%*s' "$pad" '' | tr ' ' 'x')"$'\n'
printf '%s' "$master" >"$WORK/www/bench/master.m3u8"

head -c 1048576 /dev/urandom >"$WORK/www/bench/segment.ts"

head -c $((PARTS * PART_BYTES)) /dev/urandom | split -b "$PART_BYTES" -d -a 3 --additional-suffix=.mp4 - "$WORK/www/bench/ll/part"
{
    printf '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.2\n'
    printf '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n#EXT-X-MEDIA-SEQUENCE:0\n'
    for ((p = 0; p < PARTS; p++)); do
        independent=""
        ((p % 10 == 0)) && independent=",INDEPENDENT=YES"
        printf '#EXT-X-PART:DURATION=0.2,URI="part%03d.mp4"%s\n' "$p" "$independent"
        # 10 parts make a 2 s segment; the last segment is still open (parts only).
        ((p % 10 == 9 && p < PARTS - 10)) && printf '#EXTINF:2.000,\nseg%03d.mp4\n' $((p / 10))
    done
    printf '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part%03d.mp4"\n' "$PARTS"
} >"$WORK/www/bench/ll/index.m3u8"
PART_KEY=bench/ll/part$(printf '%03d' $((PARTS / 2))).mp4

# One certificate for both HTTPS servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -days 2 \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>"$WORK/tls/openssl.log" \
    || die "openssl could not make a certificate: $(tail -3 "$WORK/tls/openssl.log")"
chmod 644 "$WORK/tls/key.pem"

# nginx: foreground, own config, tuned as a production origin: sendfile, open_file_cache (no open/stat per
# request for hot files), keep-alive, a worker per CPU, no access log; HTTP and HTTPS listeners.
NGINX_PORT=$(free_port)
NGINX_TLS_PORT=$(free_port)
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
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
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
        video/mp4 mp4;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        ssl_certificate $WORK/tls/cert.pem;
        ssl_certificate_key $WORK/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1h;
        root $WORK/www;
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/logs/stderr.log" &
PIDS[nginx]=$!
URL[nginx]="http://127.0.0.1:$NGINX_PORT"
URL[nginx-tls]="https://127.0.0.1:$NGINX_TLS_PORT"
wait_for 10 curl -fsS -o /dev/null "${URL[nginx]}/bench/segment.ts" \
    || die "nginx did not serve the segment: $(cat "$WORK/nginx/logs/stderr.log" "$WORK/nginx/logs/error.log" 2>/dev/null | tail -5)"
wait_for 10 curl -kfsS -o /dev/null "${URL[nginx-tls]}/bench/playlist.m3u8" \
    || die "nginx did not serve HTTPS: $(tail -5 "$WORK/nginx/logs/error.log" 2>/dev/null)"

# Strata: release build, objects PUT in so they sit in its memory tier; one with the decision cache off
# (when the binary has the flag), one listening for HTTPS.
start_strata strata
((DECISION_CACHE)) && start_strata strata-nocache --decision-cache-bytes 0
start_strata strata-tls --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem"
[[ ${URL[strata-tls]} == https://* ]] || die "strata-tls does not listen for HTTPS: ${URL[strata-tls]}"
ll_pairs=()
for ((p = 0; p < PARTS; p++)); do
    f=$(printf 'part%03d.mp4' "$p")
    ll_pairs+=("$WORK/www/bench/ll/$f" "bench/ll/$f")
done
ll_pairs+=("$WORK/www/bench/ll/index.m3u8" bench/ll/index.m3u8)
for server in strata strata-nocache; do
    [[ -n ${URL[$server]:-} ]] || continue
    put_files "$server" "$WORK/www/bench/playlist.m3u8" bench/playlist.m3u8 \
        "$WORK/www/bench/master.m3u8" bench/master.m3u8 "$WORK/www/bench/segment.ts" bench/segment.ts "${ll_pairs[@]}"
done
put_files strata-tls "$WORK/www/bench/playlist.m3u8" bench/playlist.m3u8

# Spin, when a Spin CLI is at hand (STRATA_SPIN, `spin` on PATH, or ../shared/tools) and BENCH_SPIN is not
# 0: the same guest logic as a Spin component, objects in Spin's key-value store (sqlite), every byte through
# the component. Slow, so only in cases (a) and (c).
SPIN_CLI=""
if [[ ${BENCH_SPIN:-1} != 0 ]]; then
    SPIN_CLI=${STRATA_SPIN:-$(command -v spin || true)}
    if [[ -z $SPIN_CLI && -f $REPO/../shared/tools/spin-4.0.2-linux-x86_64.xz ]]; then
        xz -dc "$REPO/../shared/tools/spin-4.0.2-linux-x86_64.xz" >"$WORK/spin" && chmod +x "$WORK/spin"
        SPIN_CLI=$WORK/spin
    fi
    [[ -z $SPIN_CLI || -x $SPIN_CLI ]] || die "STRATA_SPIN=$SPIN_CLI is not an executable"
fi
if [[ -n $SPIN_CLI ]]; then
    if [[ -n ${STRATA_SPIN_WASM:-} ]]; then
        SPIN_WASM=$STRATA_SPIN_WASM
        log "using the Spin component $SPIN_WASM (not rebuilt)"
    else
        log "building the Spin component (release)"
        (cd "$REPO" && cargo build --release -p strata-guest-spin --target wasm32-wasip2 >&2)
        SPIN_WASM="${CARGO_TARGET_DIR:-$REPO/target}/wasm32-wasip2/release/strata_guest_spin.wasm"
    fi
    [[ -f $SPIN_WASM ]] || die "no Spin component at $SPIN_WASM"
    mkdir -p "$WORK/spin-app"
    printf '%s\n' 'spin_manifest_version = 2' '[application]' 'name = "strata"' 'version = "0.1.0"' \
        '[[trigger.http]]' 'route = "/..."' 'component = "strata"' '[component.strata]' \
        "source = \"$SPIN_WASM\"" 'key_value_stores = ["default"]' \
        '[component.strata.variables]' 'settings = "stale:bench/=0"' >"$WORK/spin-app/spin.toml"
    SPIN_PORT=$(free_port)
    (cd "$WORK/spin-app" && exec "$SPIN_CLI" up --listen "127.0.0.1:$SPIN_PORT" -f spin.toml >"$WORK/spin.out" 2>&1) &
    PIDS[spin]=$!
    wait_for 60 grep -q '^Serving http://' "$WORK/spin.out" || die "spin up did not start: $(tail -5 "$WORK/spin.out")"
    URL[spin]="http://127.0.0.1:$SPIN_PORT"
    put_files spin "$WORK/www/bench/playlist.m3u8" bench/playlist.m3u8 "$WORK/www/bench/segment.ts" bench/segment.ts
elif [[ ${BENCH_SPIN:-1} == 0 ]]; then
    log "BENCH_SPIN=0: Spin is left out of the tables"
else
    log "no Spin CLI found: Spin is left out of the tables"
fi

# Case (b): strata must answer 200 to the filter. The guest applies aws.manifestfilter to multivariant
# playlists (and MPDs) only and refuses it (400) on a media playlist; then the case uses the 2 KiB
# multivariant playlist instead of the live one. nginx ignores the query and serves the stored file.
FILTER_FILE=playlist.m3u8
code=$(get_check strata "/bench/playlist.m3u8?$FILTER_QUERY")
if [[ $code != 200 ]]; then
    log "note: strata answers $code to /bench/playlist.m3u8?$FILTER_QUERY ($(head -c 200 "$WORK/check")):"
    log "      case (b) filters the 2 KiB multivariant playlist bench/master.m3u8 instead"
    FILTER_FILE=master.m3u8
    code=$(get_check strata "/bench/$FILTER_FILE?$FILTER_QUERY")
    [[ $code == 200 ]] || die "strata answers $code to /bench/$FILTER_FILE?$FILTER_QUERY: $(head -c 300 "$WORK/check")"
fi
log "strata's filtered $FILTER_FILE ($(wc -c <"$WORK/check") of $(wc -c <"$WORK/www/bench/$FILTER_FILE") bytes):"
sed 's/^/    /' "$WORK/check" >&2

# The cases: label, path (with query), file on disk, servers (the first is the reference), and whether every
# server must answer the file's exact bytes.
CASES=(playlist filtered segment part https)
declare -A LABEL PATH_OF FILE_OF SERVERS_OF SAME_BYTES
LABEL[playlist]="(a) live playlist"
LABEL[filtered]="(b) $FILTER_FILE ?aws.manifestfilter"
LABEL[segment]="(c) segment"
LABEL[part]="(d) LL-HLS part, 1 of $PARTS"
LABEL[https]="(e) HTTPS live playlist"
PATH_OF[playlist]=/bench/playlist.m3u8 FILE_OF[playlist]=bench/playlist.m3u8
PATH_OF[filtered]="/bench/$FILTER_FILE?$FILTER_QUERY" FILE_OF[filtered]=bench/$FILTER_FILE
PATH_OF[segment]=/bench/segment.ts FILE_OF[segment]=bench/segment.ts
PATH_OF[part]=/$PART_KEY FILE_OF[part]=$PART_KEY
PATH_OF[https]=/bench/playlist.m3u8 FILE_OF[https]=bench/playlist.m3u8
nocache=""
((DECISION_CACHE)) && nocache=strata-nocache
spin=""
[[ -n ${URL[spin]:-} ]] && spin=spin
SERVERS_OF[playlist]="nginx strata $nocache $spin"
SERVERS_OF[filtered]="nginx strata $nocache"
SERVERS_OF[segment]="nginx strata $spin"
SERVERS_OF[part]="nginx strata $nocache"
SERVERS_OF[https]="nginx-tls strata-tls"
SAME_BYTES=([playlist]=1 [filtered]=0 [segment]=1 [part]=1 [https]=1)

# Every server must answer 200 (and, where the bodies must be identical, the exact bytes) before timing.
declare -A BODY_BYTES
for c in "${CASES[@]}"; do
    read -ra servers <<<"${SERVERS_OF[$c]}"
    for server in "${servers[@]}"; do
        code=$(get_check "$server" "${PATH_OF[$c]}")
        [[ $code == 200 ]] || die "$server answers $code to ${PATH_OF[$c]}: $(head -c 300 "$WORK/check")"
        if [[ ${SAME_BYTES[$c]} == 1 || $server == nginx* ]]; then
            cmp -s "$WORK/check" "$WORK/www/${FILE_OF[$c]}" || die "$server${PATH_OF[$c]} differs from the file on disk"
        fi
        BODY_BYTES[$c,$server]=$(wc -c <"$WORK/check")
        if [[ $c == part && $server == strata* ]]; then
            cmsd=$(tr -d '\r' <"$WORK/check.headers" | sed -n 's/^cmsd-static: //Ip')
            log "$server ${PATH_OF[$c]}: CMSD-Static: ${cmsd:-(none)}"
            [[ $cmsd == *d=* ]] || log "warning: $server gave the part no CMSD duration: was its naming playlist read?"
        fi
    done
done
TLS_NGINX=$(tls_summary "127.0.0.1:$NGINX_TLS_PORT")
TLS_STRATA=$(tls_summary "${URL[strata-tls]#https://}")
log "TLS: nginx $TLS_NGINX; strata $TLS_STRATA"

declare -A RPS P50 P99 ERRORS
log "wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency, $ROUNDS rounds, servers alternating"
for ((round = 1; round <= ROUNDS; round++)); do
    for c in "${CASES[@]}"; do
        read -ra servers <<<"${SERVERS_OF[$c]}"
        # The order rotates every round, so no server always runs first (or right after another).
        shift_by=$(((round - 1) % ${#servers[@]}))
        for server in "${servers[@]:shift_by}" "${servers[@]:0:shift_by}"; do
            out="$WORK/wrk-$round-$c-$server.txt"
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "${URL[$server]}${PATH_OF[$c]}" >"$out"
            rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
            p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
            p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
            bad=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
            [[ -n $rps ]] || die "could not read wrk output $out"
            RPS[$c,$server]+="$rps "
            P50[$c,$server]+="$p50 "
            P99[$c,$server]+="$p99 "
            ERRORS[$c,$server]=$((${ERRORS[$c,$server]:-0} + bad))
            log "round $round $c $server: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, errors $bad"
            # Errors answer faster than the object: a rate with errors in it measures something else.
            ((bad == 0)) || die "$server answered $bad errors on $c; see $out (BENCH_KEEP=1 keeps it)"
        done
    done
done

for server in "${!PIDS[@]}"; do
    kill -0 "${PIDS[$server]}" 2>/dev/null || die "$server died during the benchmark"
done

version=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unversioned)
[[ -n $(git -C "$REPO" status --porcelain -- host guest wit 2>/dev/null) ]] && version+="+changes"
cache_note="strata-nocache = --decision-cache-bytes 0"
((DECISION_CACHE)) || cache_note="this strata has no decision cache flag: no strata-nocache rows"
echo
echo "Hot GET, $(nproc) CPUs ($(uname -m)), wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, median of $ROUNDS rounds, loopback;"
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (files on disk; sendfile, tcp_nopush, tcp_nodelay, open_file_cache, keep-alive,"
echo "worker_processes auto) vs strata $version (memory tier, through the guest; $cache_note)."
echo "(b) is nginx serving the stored file (query ignored) vs strata filtering it; (d) is part $((PARTS / 2)) of $PARTS"
echo "($PART_BYTES B) named by a $(wc -c <"$WORK/www/bench/ll/index.m3u8") B LL-HLS playlist that strata reads for CMSD;"
echo "(e) is HTTP/1.1 over TLS, the same self-signed P-256 certificate (nginx: $TLS_NGINX; strata: $TLS_STRATA)."
echo
echo "| case | server | body | req/s | p50 latency | p99 latency | errors | / nginx req/s | / nginx p99 |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${CASES[@]}"; do
    read -ra servers <<<"${SERVERS_OF[$c]}"
    ref=${servers[0]}
    # shellcheck disable=SC2086 # word splitting of the space-separated samples is intended
    ref_rps=$(median ${RPS[$c,$ref]}) ref_p99=$(median ${P99[$c,$ref]})
    for server in "${servers[@]}"; do
        # shellcheck disable=SC2086
        rps=$(median ${RPS[$c,$server]}) p50=$(median ${P50[$c,$server]}) p99=$(median ${P99[$c,$server]})
        r_rps="" r_p99=""
        if [[ $server != "$ref" ]]; then r_rps=$(ratio "$rps" "$ref_rps") r_p99=$(ratio "$p99" "$ref_p99"); fi
        printf '| %s | %s | %s B | %.0f | %.3f ms | %.3f ms | %s | %s | %s |\n' "${LABEL[$c]}" "$server" \
            "${BODY_BYTES[$c,$server]}" "$rps" "$p50" "$p99" "${ERRORS[$c,$server]}" "$r_rps" "$r_p99"
    done
done

# A decision-cache miss: the first GET of the 2 KiB playlist after a PUT changed it (the host must run the
# guest), with the cache on and off. The cache must not make it dearer than the plain decision.
echo
echo "First GET after a PUT of the 2 KiB live playlist (a decision-cache miss; ms, request sent -> last byte,"
echo "$MISS_ITERATIONS PUT+GET pairs a round, median of $ROUNDS rounds; bench/latency_probe.py miss):"
echo
miss_servers=(strata)
((DECISION_CACHE)) && miss_servers+=(strata-nocache)
declare -A MISS_P50 MISS_P99
for ((round = 1; round <= ROUNDS; round++)); do
    shift_by=$(((round - 1) % ${#miss_servers[@]}))
    for server in "${miss_servers[@]:shift_by}" "${miss_servers[@]:0:shift_by}"; do
        out=$(python3 "$REPO/bench/latency_probe.py" miss "${URL[$server]}" "$MISS_ITERATIONS")
        MISS_P50[$server]+="$(json_field "$out" p50) "
        MISS_P99[$server]+="$(json_field "$out" p99) "
        log "round $round miss $server: $out"
    done
done
echo "| server | p50 | p99 | p50 / strata-nocache | p99 / strata-nocache |"
echo "| --- | ---: | ---: | ---: | ---: |"
for server in "${miss_servers[@]}"; do
    # shellcheck disable=SC2086
    p50=$(median ${MISS_P50[$server]}) p99=$(median ${MISS_P99[$server]})
    r50="" r99=""
    if [[ $server == strata && $DECISION_CACHE == 1 ]]; then
        # shellcheck disable=SC2086
        r50=$(ratio "$p50" "$(median ${MISS_P50[strata-nocache]})") r99=$(ratio "$p99" "$(median ${MISS_P99[strata-nocache]})")
    fi
    printf '| %s | %s | %s | %s | %s |\n' "$server" "$p50" "$p99" "$r50" "$r99"
done
if ((!DECISION_CACHE)); then
    echo
    echo "(no strata-nocache: this strata has no --decision-cache-bytes; its row is the decision without a cache.)"
fi

# LL-HLS on each origin that runs the guest: a blocking reload parked before the playlist PUT that satisfies
# it; the delay from the writer's answer to the reload's (Spin polls its store every 20 ms, the host wakes
# parked requests on the key's change signal).
echo
echo "LL-HLS blocking reload, writer's PUT answered -> parked reload answered (ms; 100 reloads a round,"
echo "median of $ROUNDS rounds; bench/latency_probe.py wake):"
echo
echo "| server | p50 | p99 |"
echo "| --- | ---: | ---: |"
for server in strata $nocache $spin; do
    p50s=() p99s=()
    for ((round = 1; round <= ROUNDS; round++)); do
        out=$(python3 "$REPO/bench/latency_probe.py" wake "${URL[$server]}" "${URL[$server]}" 100)
        p50s+=("$(json_field "$out" p50)")
        p99s+=("$(json_field "$out" p99)")
    done
    printf '| %s | %s | %s |\n' "$server" "$(median "${p50s[@]}")" "$(median "${p99s[@]}")"
done
