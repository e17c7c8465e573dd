#!/usr/bin/env bash
# LL-HLS parking at scale: builds the release strata, raises the open-file limit (each parked HTTP/1.1
# request holds a connection in the client and one in strata) and runs host/benches/llhls_park.rs.
# Usage: bench/llhls_park.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 12000 ]; then
    echo "open-file limit is $(ulimit -n); 10,000 parked requests need about 12,000 per process (raise the hard limit)" >&2
    exit 1
fi
cargo build --release -p strata --bin strata
cargo bench -p strata --bench llhls_park -- "$@"
