#!/usr/bin/env bash
# Runs the pinned MinIO (hack/versions.sh, built by `hack/build-k8s.sh minio`)
# as a local S3 server for backup tests and demos: one address (127.0.0.1
# unless MINIO_HOST says otherwise), a free port, plain http, random root
# credentials, state under one directory.
#
# Usage: [MINIO_HOST=ADDR] hack/minio.sh start|stop|status|env|mb BUCKET
#
#   MINIO_HOST  the address to listen on (start only; later commands read it
#               from the state dir). 127.0.0.1 (default) is reachable from
#               this machine only. Pods of the local cluster (hack/cluster.sh)
#               reach the host at 198.18.254.1, the host side of the node's
#               veth: MINIO_HOST=198.18.254.1 makes MinIO usable by backup
#               Jobs, and only by this machine and that cluster.
#
#   start      build MinIO if needed, start it, wait until it is live
#              (a second start while it runs does nothing)
#   stop       stop it by the PID it was started with (SIGTERM, SIGKILL after 10 s)
#   status     exit 0 if it runs and answers /minio/health/live
#   env        print shell exports: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#              QUORUM_S3_ENDPOINT (host:port), QUORUM_S3_INSECURE=true, MINIO_ENDPOINT
#   mb BUCKET  create a bucket (signed request with curl --aws-sigv4)
#
# State dir: $MINIO_STATE_DIR, default _out/minio in the repository:
#   pid, host, port, console-port, access-key, secret-key, env (the exports), minio.log, data/
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.sh

STATE=${MINIO_STATE_DIR:-$PWD/_out/minio}
BIN="$MINIO_BIN/minio"

die() { echo "minio.sh: $*" >&2; exit 1; }

# host: the address MinIO listens on (recorded at start).
host() {
  if [[ -f $STATE/host ]]; then cat "$STATE/host"; else echo 127.0.0.1; fi
}

# free_port: a port below the ephemeral range that nothing listens on.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/$(host)/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  die "no free port found"
}

running_pid() {
  [[ -f $STATE/pid ]] || return 1
  local pid
  pid=$(<"$STATE/pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # The PID must still be our MinIO, not a reused PID.
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--address $(host):$(<"$STATE/port") " || return 1
  echo "$pid"
}

live() {
  curl -fsS -o /dev/null --max-time 2 "http://$(host):$(<"$STATE/port")/minio/health/live" 2>/dev/null
}

# ready: MinIO answers S3 requests (live comes first; until its object
# layer is up, requests get 503 XMinioServerNotInitialized).
ready() {
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$(<"$STATE/access-key"):$(<"$STATE/secret-key")" \
    "http://$(host):$(<"$STATE/port")/" 2>/dev/null) || return 1
  [[ $code == 200 ]]
}

cmd_start() {
  local want=${MINIO_HOST:-127.0.0.1}
  [[ $want =~ ^[0-9.]+$ ]] || die "MINIO_HOST must be an IPv4 address, got '$want'"
  if running_pid >/dev/null; then
    [[ $(host) == "$want" ]] || die "already running on $(host):$(<"$STATE/port"), not $want: hack/minio.sh stop first"
    echo "MinIO already running on $(host):$(<"$STATE/port") (pid $(<"$STATE/pid"))"
    return 0
  fi
  [[ -x $BIN ]] || hack/build-k8s.sh minio
  mkdir -p "$STATE/data"
  chmod 700 "$STATE"
  [[ $want == 127.0.0.1 || $(ip -o -4 addr show 2>/dev/null) == *" inet $want/"* ]] ||
    die "no interface of this machine has $want (for 198.18.254.1 the local cluster must be up: hack/cluster.sh up)"
  printf '%s' "$want" >"$STATE/host"
  local port console user pass
  port=$(free_port); console=$(free_port)
  while [[ $console == "$port" ]]; do console=$(free_port); done
  user=${MINIO_ROOT_USER:-quorum-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  pass=${MINIO_ROOT_PASSWORD:-$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  printf '%s' "$port" >"$STATE/port"
  printf '%s' "$console" >"$STATE/console-port"
  printf '%s' "$user" >"$STATE/access-key"
  printf '%s' "$pass" >"$STATE/secret-key"
  cat >"$STATE/env" <<EOF
export AWS_ACCESS_KEY_ID='$user'
export AWS_SECRET_ACCESS_KEY='$pass'
export QUORUM_S3_ENDPOINT='$want:$port'
export QUORUM_S3_INSECURE=true
export MINIO_ENDPOINT='http://$want:$port'
EOF
  chmod 600 "$STATE/access-key" "$STATE/secret-key" "$STATE/env"
  MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off MINIO_UPDATE=off \
    MINIO_CALLHOME_ENABLE=off HOME=$STATE \
    setsid "$BIN" server --quiet --address "$want:$port" --console-address "$want:$console" \
    "$STATE/data" >"$STATE/minio.log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  for _ in $(seq 300); do
    if live && ready; then
      echo "MinIO running on $want:$port (pid $(<"$STATE/pid")); credentials: hack/minio.sh env"
      return 0
    fi
    kill -0 "$(<"$STATE/pid")" 2>/dev/null || { tail -20 "$STATE/minio.log" >&2; die "MinIO exited during start-up"; }
    sleep 0.1
  done
  tail -20 "$STATE/minio.log" >&2
  cmd_stop
  die "MinIO not ready within 30 s"
}

cmd_stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$STATE/pid"
    echo "MinIO not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$STATE/pid"; echo "MinIO stopped"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE/pid"
  echo "MinIO killed"
}

cmd_status() {
  local pid
  pid=$(running_pid) || die "not running"
  live || die "pid $pid runs but $(host):$(<"$STATE/port") is not live"
  echo "MinIO running on $(host):$(<"$STATE/port") (pid $pid)"
}

cmd_env() {
  [[ -f $STATE/env ]] || die "not started (hack/minio.sh start)"
  cat "$STATE/env"
}

cmd_mb() {
  local bucket=${1:-}
  [[ -n $bucket ]] || die "usage: hack/minio.sh mb BUCKET"
  running_pid >/dev/null || die "not running"
  local code
  code=$(curl -sS -o "$STATE/mb.out" -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$(<"$STATE/access-key"):$(<"$STATE/secret-key")" \
    -X PUT "http://$(host):$(<"$STATE/port")/$bucket")
  case $code in
    200) echo "bucket $bucket created" ;;
    409) echo "bucket $bucket exists" ;;
    *) cat "$STATE/mb.out" >&2; die "creating bucket $bucket: HTTP $code" ;;
  esac
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  mb) shift; cmd_mb "$@" ;;
  *) echo "usage: hack/minio.sh start|stop|status|env|mb BUCKET" >&2; exit 2 ;;
esac
