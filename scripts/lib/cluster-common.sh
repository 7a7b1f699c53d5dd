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
CLUSTER_LOGS_ARCHIVE="${CLUSTER_LOGS_ARCHIVE:-$(dirname "$CLUSTER_DIR")/cluster-logs}"
NODEMETA_CACHE="${NODEMETA_CACHE:-$HOME/.cache/nodemeta}"
export NODEMETA_CACHE

# Components in start order; cluster-down stops them in reverse.
CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

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

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}
