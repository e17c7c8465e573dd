# shellcheck shell=bash
# Installing Debian packages from the scripts: as root, or through sudo; `apt-get update` once per run.
# Sourced by scripts/test and scripts/serve (and used by scripts/lib/engines.sh through them).

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
