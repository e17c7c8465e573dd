#!/usr/bin/env bash
# Playlist A/B: release binaries of strata (and nginx, tuned as in http_get.sh) serving the 2 KiB live
# playlist, measured in turn, round after round, in one run, so that this machine's drift between runs
# does not pass for a difference. Prints req/s, p99 and the server's CPU per request (from /proc) per round
# on stderr and their medians as a markdown table on stdout.
#
# Usage (from the repository root): bench/playlist_ab.sh ROUNDS SECONDS name=path/to/strata ... [nginx]
# Each measurement: wrk -t2 -c64 for 2 s to warm up, then for SECONDS.
set -euo pipefail
(($# >= 3)) || { echo "usage: bench/playlist_ab.sh ROUNDS SECONDS name=path/to/strata ... [nginx]" >&2; exit 2; }
ROUNDS=$1 SECS=$2; shift 2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib/common.sh
. "$REPO/bench/lib/common.sh"
require wrk:wrk nginx:nginx-light curl:curl python3:python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-ab.XXXXXX"); chmod 755 $WORK
declare -A URL PID
cleanup() { for p in "${PID[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf $WORK; }
trap cleanup EXIT
mkdir -p $WORK/www/bench $WORK/nginx/logs $WORK/nginx/tmp
playlist=$'#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1000\n'
for ((i = 1000; ${#playlist} < 2048 - 64; i++)); do playlist+=$(printf '#EXTINF:2.000000,\nsegment_%06d.ts' "$i")$'\n'; done
pad=$((2048 - ${#playlist} - 2)); playlist+="#$(printf '%*s' "$pad" '' | tr ' ' 'x')"$'\n'
printf '%s' "$playlist" >$WORK/www/bench/playlist.m3u8
printf '[[guest.stale]]\nprefix = "bench/"\nafter_target_durations = 0\n' >$WORK/strata.toml
NAMES=()
for spec in "$@"; do
  if [[ $spec == nginx ]]; then
    port=$(free_port)
    cat >$WORK/nginx/nginx.conf <<C
daemon off; worker_processes auto; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
 open_file_cache max=10000 inactive=60s; open_file_cache_valid 60s; open_file_cache_min_uses 1; open_file_cache_errors on;
 keepalive_requests 1000000; keepalive_timeout 65;
 client_body_temp_path $WORK/nginx/tmp/client; proxy_temp_path $WORK/nginx/tmp/proxy; fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
 uwsgi_temp_path $WORK/nginx/tmp/uwsgi; scgi_temp_path $WORK/nginx/tmp/scgi;
 types { application/vnd.apple.mpegurl m3u8; } default_type application/octet-stream;
 server { listen 127.0.0.1:$port; root $WORK/www; } }
C
    nginx -p $WORK/nginx -e $WORK/nginx/logs/error.log -c $WORK/nginx/nginx.conf & PID[nginx]=$!
    URL[nginx]=http://127.0.0.1:$port; NAMES+=(nginx)
  else
    name=${spec%%=*} bin=${spec#*=}
    $bin serve --listen 127.0.0.1:0 --data $WORK/$name-data --config $WORK/strata.toml >$WORK/$name.out 2>$WORK/$name.err & PID[$name]=$!
    wait_for 60 grep -q '^strata listening on ' $WORK/$name.out || die "$name did not start"
    URL[$name]=$(sed -n 's/^strata listening on //p' $WORK/$name.out | head -1)
    curl -sS -T $WORK/www/bench/playlist.m3u8 -H 'Expect:' -o /dev/null ${URL[$name]}/bench/playlist.m3u8
    NAMES+=($name)
  fi
done
sleep 1
for n in "${NAMES[@]}"; do curl -fsS -o /dev/null ${URL[$n]}/bench/playlist.m3u8 || die "$n does not serve"; done
cpu_ticks() { # sum utime+stime of pid and its children processes
  local t=0 p
  for p in $1 $(pgrep -P $1 || true); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
declare -A RPS P99 CPU
for ((r = 1; r <= ROUNDS; r++)); do
  for n in "${NAMES[@]}"; do
    wrk -t2 -c64 -d2s ${URL[$n]}/bench/playlist.m3u8 >/dev/null
    c0=$(cpu_ticks ${PID[$n]})
    out=$(wrk -t2 -c64 -d${SECS}s --latency ${URL[$n]}/bench/playlist.m3u8)
    c1=$(cpu_ticks ${PID[$n]})
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(to_ms $(awk '$1=="99%" {print $2}' <<<"$out"))
    us=$(awk -v c=$((c1-c0)) -v n=$reqs 'BEGIN{printf "%.2f", c*10000/n}')
    RPS[$n]+="$rps "; P99[$n]+="$p99 "; CPU[$n]+="$us "
    printf 'round %d %-12s %10s req/s  p99 %7s ms  cpu %6s us/req\n' $r $n $rps $p99 $us >&2
  done
done
echo "| server | req/s (median) | p99 ms | cpu us/req |"
echo "| --- | ---: | ---: | ---: |"
for n in "${NAMES[@]}"; do
  echo "| $n | $(median ${RPS[$n]}) | $(median ${P99[$n]}) | $(median ${CPU[$n]}) |"
done
