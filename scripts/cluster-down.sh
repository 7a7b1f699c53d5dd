#!/usr/bin/env bash
# Stops the local control plane that scripts/cluster-up.sh started, and only that: the process groups
# recorded in .cache/cluster/pids/, each checked to still run one of the built binaries (a recycled
# pid is never signalled). Then it moves the components' logs to .cache/cluster-logs/<time>/ (the
# last 5 are kept) and removes .cache/cluster. Safe to run when nothing is running.
set -euo pipefail
# shellcheck source=lib/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster-common.sh"

cluster_lock
if [[ ! -d "$CLUSTER_DIR" ]]; then
  log "no local cluster at $CLUSTER_DIR"
  exit 0
fi

BIN="$(grep -s '^BIN_DIR=' "$CLUSTER_DIR/cluster.env" | cut -d= -f2- || true)"
[[ -n "$BIN" ]] || BIN="$("$REPO_ROOT/test/tools/build.sh" --print-dir)"
BIN="$(realpath -m "$BIN")"

# One at a time, in reverse start order (kwok, scheduler, controller-manager, API server, etcd), each
# waited for, so no component outlives the one it talks to.
stopped=0
for ((i = ${#CLUSTER_COMPONENTS[@]} - 1; i >= 0; i--)); do
  c="${CLUSTER_COMPONENTS[$i]}"
  f="$CLUSTER_DIR/pids/$c.pid"
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  pid_alive "$pid" "$BIN" || continue
  log "stopping $c (process group $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(date +%s) + 20 ))
  while pid_alive "$pid" "$BIN" && [[ $(date +%s) -lt $deadline ]]; do sleep 0.1; done
  if pid_alive "$pid" "$BIN"; then
    log "$c (process group $pid) did not stop in 20s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$pid" "$BIN" || break; sleep 0.1; done
    pid_alive "$pid" "$BIN" && die "$c (pid $pid) is still running"
  fi
  stopped=$((stopped + 1))
done

if [[ -d "$CLUSTER_DIR/logs" ]] && compgen -G "$CLUSTER_DIR/logs/*.log" >/dev/null; then
  dest="$CLUSTER_LOGS_ARCHIVE/$(date -u +%Y%m%dT%H%M%SZ)-$$"
  mkdir -p "$CLUSTER_LOGS_ARCHIVE"
  mv "$CLUSTER_DIR/logs" "$dest"
  # keep the newest 5
  find "$CLUSTER_LOGS_ARCHIVE" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -r | tail -n +6 |
    while read -r old; do rm -rf "${CLUSTER_LOGS_ARCHIVE:?}/$old"; done
  log "logs kept in $dest"
fi
rm -rf "$CLUSTER_DIR"
log "local cluster stopped ($stopped processes)"
