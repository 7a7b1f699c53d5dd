# shellcheck shell=bash
# Shared by scripts/cluster-up.sh and scripts/cluster-down.sh (sourced, not run).
#
# Layout of a running local cluster (CLUSTER_DIR, default <repo>/.cache/cluster):
#   kubeconfig          admin kubeconfig (client cert in system:masters)
#   cluster.env         ports, bin dir, paths (shell-sourceable), cluster.json the same as JSON
#   pki/                CA, serving and client certs, service-account signing key (openssl)
#   etcd/               etcd data
#   kubeconfigs/        one kubeconfig per component (its own client cert)
#   kwok/               kwok configuration (stages)
#   logs/<component>.log
#   pids/<component>.pid  process-group leader of each component (started with setsid)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-$REPO_ROOT/.cache/cluster}"
CLUSTER_LOGS_ARCHIVE="${CLUSTER_LOGS_ARCHIVE:-$REPO_ROOT/.cache/cluster-logs}"
NODEMETA_CACHE="${NODEMETA_CACHE:-$HOME/.cache/nodemeta}"
export NODEMETA_CACHE

# Components in start order; cluster-down stops them in reverse.
CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# cluster_lock: one cluster-up/cluster-down at a time per CLUSTER_DIR (cluster-up's own call of
# cluster-down inherits the lock through CLUSTER_LOCK_HELD).
cluster_lock() {
  [[ "${CLUSTER_LOCK_HELD:-}" == "$CLUSTER_DIR" ]] && return 0
  mkdir -p "$(dirname "$CLUSTER_DIR")"
  exec 8>"$CLUSTER_DIR.lock"
  if ! flock -n 8; then
    log "waiting for another cluster-up/cluster-down on $CLUSTER_DIR"
    flock 8
  fi
  export CLUSTER_LOCK_HELD="$CLUSTER_DIR"
}

log() { printf '%s [cluster] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive <pid> <bin dir>: true if the process exists and runs a binary from our bin dir (so a
# recycled pid of an unrelated process is never taken for ours).
pid_alive() {
  local pid="$1" bin="$2" exe
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  [[ "$exe" == "$bin"/* ]]
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that nothing listens on right now (all sockets are
# held open until every port is picked, so the N are distinct).
free_ports() {
  local py
  py="$(command -v /usr/bin/python3 python3 2>/dev/null | head -n1 || true)"
  if [[ -n "$py" ]]; then
    "$py" -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
  else
    node -e 'const net=require("net");const n=+process.argv[1];const ss=[];let k=0;
for(let i=0;i<n;i++){const s=net.createServer();ss.push(s);s.listen(0,"127.0.0.1",()=>{if(++k===n){console.log(ss.map(x=>x.address().port).join(" "));ss.forEach(x=>x.close())}})}' "$1"
  fi
}
