#!/usr/bin/env bash
# A Ray cluster for a class, with Ray's token authentication on. Run from the project's folder,
# on every machine (each with this checkout and `make cluster` done):
#
#   scripts/cluster.sh head [--cpus N] [--local]       # on the machine that serves the app (the head)
#   scripts/cluster.sh worker HEAD_IP:6379 [--cpus N] [--gpus N]   # on each machine that trains
#   scripts/cluster.sh app HEAD_IP:6379                # the app, training its runs on the cluster
#   scripts/cluster.sh status | stop                   # what the cluster holds; stop this machine's node
#
# The head keeps its cores for the web server (--cpus 0) unless told otherwise; --local keeps every
# address on 127.0.0.1 (one machine: a try-out, or a server that is its own worker with --cpus N).
# The token is made once, in .ray/auth_token here; copy that file to the same place on each worker.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RAY=$ROOT/.venv/bin/ray
PORT=${PORT:-6379}
TOKEN_FILE=$ROOT/.ray/auth_token

need_ray() {
  if [ ! -x "$RAY" ]; then
    echo "Ray is not installed in .venv: run 'make cluster' first" >&2
    exit 2
  fi
}

token() {
  if [ ! -s "$TOKEN_FILE" ]; then
    if [ "$1" = make ]; then
      mkdir -p "$(dirname "$TOKEN_FILE")"
      (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$TOKEN_FILE")
      echo "made a new token in $TOKEN_FILE: copy it to $TOKEN_FILE on every worker machine"
    else
      echo "no token in $TOKEN_FILE: copy it there from the head machine" >&2
      exit 2
    fi
  fi
  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$TOKEN_FILE
}

# Actors import the project: every node's workers get it on their path.
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
export RAY_USAGE_STATS_ENABLED=0

cmd=${1:-help}
shift || true
cpus="" gpus="" local=0 address=""
while [ $# -gt 0 ]; do
  case $1 in
    --cpus) cpus=$2; shift 2 ;;
    --gpus) gpus=$2; shift 2 ;;
    --local) local=1; shift ;;
    -*) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    *) address=$1; shift ;;
  esac
done

case $cmd in
  head)
    need_ray; token make
    args=(--head --port "$PORT" --num-cpus "${cpus:-0}" --include-dashboard false --disable-usage-stats)
    [ -n "$gpus" ] && args+=(--num-gpus "$gpus")
    if [ "$local" = 1 ]; then
      export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0     # keep 127.0.0.1 (Ray otherwise picks the host's address)
      args+=(--node-ip-address 127.0.0.1)
    fi
    "$RAY" start "${args[@]}"
    ip=$([ "$local" = 1 ] && echo 127.0.0.1 || hostname -I | awk '{print $1}')
    echo
    echo "head started at $ip:$PORT. Next:"
    echo "  on each worker machine: scripts/cluster.sh worker $ip:$PORT"
    echo "  here, the app:          scripts/cluster.sh app $ip:$PORT"
    ;;
  worker)
    need_ray; token use
    [ -n "$address" ] || { echo "give the head's address: scripts/cluster.sh worker HEAD_IP:$PORT" >&2; exit 2; }
    args=(--address "$address" --disable-usage-stats)
    [ -n "$cpus" ] && args+=(--num-cpus "$cpus")
    [ -n "$gpus" ] && args+=(--num-gpus "$gpus")
    [[ $address == 127.0.0.1:* ]] && export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 && args+=(--node-ip-address 127.0.0.1)
    "$RAY" start "${args[@]}"
    ;;
  app)
    token use
    [ -n "$address" ] || { echo "give the head's address: scripts/cluster.sh app HEAD_IP:$PORT" >&2; exit 2; }
    [[ $address == 127.0.0.1:* ]] && export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
    PLAYGROUND_RAY_ADDRESS=$address exec make app ADDRESS="${ADDRESS:-0.0.0.0}"
    ;;
  status)
    need_ray; token use
    [[ -z $address || $address == 127.0.0.1:* ]] && export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
    "$RAY" status ${address:+--address "$address"}
    ;;
  stop)
    need_ray
    "$RAY" stop                                      # this machine's Ray processes (by name: all of them)
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    ;;
esac
