# shellcheck shell=bash
# Shell helpers the bench scripts share: logging, installing Debian packages, free ports, polling, medians.
# Sourced by bench/*.sh; defines functions only.

log() { printf '%s\n' "$*" >&2; }

die() { log "error: $*"; exit 1; }

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

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
        if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Converts a wrk latency such as 812.00us, 1.20ms or 1.05s to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}
