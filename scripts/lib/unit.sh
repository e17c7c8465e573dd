# shellcheck shell=bash
# Checks packaging/strata.service with `systemd-analyze verify`. Sourced by scripts/test; runs from the
# repository root.
#
# `verify` fails a unit whose ExecStart binary does not exist, and /usr/local/bin/strata is not installed
# here, so it verifies a temporary copy whose ExecStart is the strata binary the tests just built (every
# other line as shipped). It only warns, exiting 0, about unknown keys and values it cannot parse, so any
# line it prints fails the check too.

# verify_unit BINARY: 0 when the unit is valid; 1, showing systemd's words, when not.
verify_unit() {
  local binary dir out
  binary=$(realpath -m "$1")
  if [ ! -x "$binary" ]; then
    echo "verify_unit: no strata binary at $1" >&2
    return 1
  fi
  dir=$(mktemp -d)
  sed "s#^ExecStart=/usr/local/bin/strata #ExecStart=$binary #" packaging/strata.service >"$dir/strata.service"
  if ! grep -q "^ExecStart=$binary " "$dir/strata.service"; then
    echo "verify_unit: packaging/strata.service has no ExecStart=/usr/local/bin/strata line" >&2
    rm -rf "$dir"
    return 1
  fi
  if ! out=$(systemd-analyze verify "$dir/strata.service" 2>&1) || [ -n "$out" ]; then
    echo "packaging/strata.service does not verify (ExecStart pointed at $binary):" >&2
    echo "$out" >&2
    rm -rf "$dir"
    return 1
  fi
  rm -rf "$dir"
  echo "packaging/strata.service: systemd-analyze verify passed"
}
