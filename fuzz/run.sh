#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 600) seeded with the test corpus and its dictionary (<target>.dict).
# cargo-fuzz wants a nightly toolchain; RUSTC_BOOTSTRAP=1 lets the stable one accept -Zsanitizer.
# Usage: fuzz/run.sh [seconds] [target...]   (targets: hls dash)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("${@:-hls dash}")
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in ${targets[@]}; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    case "$target" in
        hls) cp -n ../guest/core/tests/corpus/hls/* "$corpus/" ;;
        dash) cp -n ../guest/core/tests/corpus/dash/* "$corpus/" ;;
    esac
    echo "== $target for ${seconds}s"
    cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536 -dict="$target.dict"
done
