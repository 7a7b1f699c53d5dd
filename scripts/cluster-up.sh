#!/usr/bin/env bash
# Starts nodemeta's local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok, all built from Go modules by test/tools/build.sh, plus N simulated nodes
# that look like AKS nodes. Nothing is mocked: the scheduler, controllers, RBAC and admission are the
# real ones; only the kubelets are simulated (kwok moves nodes to Ready and pods to Running/Ready).
#
#   scripts/cluster-up.sh [--nodes N] [--timeout SECONDS] [--control-plane-qps QPS]
#   scripts/cluster-up.sh --status     exit 0 if the cluster runs and is healthy, 1 if not; changes nothing
#
# --nodes: 1..5000 (default 6); from 200 nodes on kwok gets more workers, above 1000 the API server
# and etcd get the settings a cluster that size needs (see "sizing" below). --control-plane-qps:
# client QPS of kube-controller-manager and kube-scheduler (burst twice that), for benches that
# create tens of thousands of pods (default: theirs, 100 and 50).
#
# Idempotent: if the cluster recorded in .cache/cluster is running and healthy, it says so and exits 0;
# if only part of it runs, it stops that part and starts afresh. On failure it prints the tail of
# every component's log and stops whatever it started. Stop with scripts/cluster-down.sh.
# See docs/cluster.md.
set -euo pipefail
# shellcheck source=lib/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cluster-common.sh"

NODES="${CLUSTER_NODES:-6}"
TIMEOUT="${CLUSTER_TIMEOUT:-120}"
REGION="eastus"
POOL="pool1"
VMSS="aks-${POOL}-12345678-vmss"
SUBSCRIPTION="00000000-0000-0000-0000-000000000000"
NODE_RG="MC_nodemeta-rg_nodemeta_${REGION}"

usage() { sed -n '2,/^# See docs\/cluster.md/p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) NODES="$2"; shift 2 ;;
    --nodes=*) NODES="${1#*=}"; shift ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --timeout=*) TIMEOUT="${1#*=}"; shift ;;
    --control-plane-qps) CONTROL_PLANE_QPS="$2"; shift 2 ;;
    --control-plane-qps=*) CONTROL_PLANE_QPS="${1#*=}"; shift ;;
    --status) STATUS_ONLY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$NODES" =~ ^[0-9]+$ && "$NODES" -ge 1 && "$NODES" -le 5000 ]] || die "--nodes must be 1..5000 (got '$NODES')"
[[ -z "${CONTROL_PLANE_QPS:-}" || "$CONTROL_PLANE_QPS" =~ ^[1-9][0-9]*$ ]] || die "--control-plane-qps must be a positive integer (got '$CONTROL_PLANE_QPS')"

# ---- sizing -------------------------------------------------------------------------------------
# Small clusters (the tests' 6 to 40 nodes) run every component as they always have. Larger ones need
# more, each setting for a reason met on this 2-core machine:
# - kwok renews every node's Lease each 10 s (a quarter of its 40 s duration, as a kubelet does): 100
#   renewals/s at 1000 nodes, 500 at 5000. With 4 workers and the API server slowed by a bench, they
#   fell behind at 1000 nodes; a Lease renewed late makes the node-lifecycle controller mark the node
#   NotReady, which marks its pods not Ready (kwok does not mark them Ready again) and, after 5 min,
#   evicts them. One worker per 40 nodes keeps each worker's share at 1 renewal/s.
# - kwok's node and pod stages (node Ready at start, pods Running when a bench creates thousands):
#   the same share of workers, so a 10,000-pod Deployment is Running in minutes, not a quarter hour.
KWOK_LEASE_PARALLELISM=$(( NODES / 40 > 4 ? NODES / 40 : 4 ))
KWOK_NODE_PARALLELISM=$KWOK_LEASE_PARALLELISM
KWOK_POD_PARALLELISM=$KWOK_LEASE_PARALLELISM
APISERVER_SIZE_ARGS=()
ETCD_QUOTA_BYTES=2147483648
READY_POLL_SECONDS=0.2
KWOK_LEASE_SECONDS=40
NODE_GRACE_ARGS=()
if [[ $NODES -gt 1000 ]]; then
  # 500 Lease renewals/s (5000 nodes, every 10 s) are more than this machine's API server sustains
  # next to anything else: measured, kwok managed 150/s, 242 nodes went NotReady, and the
  # node-lifecycle controller taints NotReady nodes NoExecute (their pods are evicted after 5 min).
  # Leases of 200 s, renewed every 50 s (100/s), and a grace period to match keep every node Ready;
  # the API server's load from kubelets is then a fifth of a real 5000-node cluster's.
  KWOK_LEASE_SECONDS=200
  NODE_GRACE_ARGS=(--node-monitor-grace-period=240s --node-startup-grace-period=240s)
  # API Priority and Fairness shares --max-requests-inflight + --max-mutating-requests-inflight
  # (default 400 + 200) among its priority levels. 1600 + 800 is what clusters of thousands of nodes
  # commonly run with: a client here is queued or refused (429) as on a real cluster of that size,
  # not sooner because of a default meant for small ones.
  APISERVER_SIZE_ARGS=(--max-requests-inflight=1600 --max-mutating-requests-inflight=800)
  # 5000 nodes with 30 pods each, and the revisions kwok's status updates leave until the API server
  # compacts (every 5 min), outgrow etcd's 2 GiB quota; past it etcd refuses every write.
  ETCD_QUOTA_BYTES=8589934592
  # Listing thousands of nodes costs the API server real CPU: count the Ready ones less often.
  READY_POLL_SECONDS=2
fi
# Client QPS of the controller-manager (ReplicaSets create pods) and the scheduler (binds them);
# unset: the settings they always had (100, and the scheduler's own default 50).
KCM_QPS_ARGS=(--kube-api-qps=100 --kube-api-burst=200)
SCHED_QPS_ARGS=()
if [[ -n "${CONTROL_PLANE_QPS:-}" ]]; then
  KCM_QPS_ARGS=(--kube-api-qps="$CONTROL_PLANE_QPS" --kube-api-burst=$((CONTROL_PLANE_QPS * 2)))
  SCHED_QPS_ARGS=(--kube-api-qps="$CONTROL_PLANE_QPS" --kube-api-burst=$((CONTROL_PLANE_QPS * 2)))
fi

START=$(date +%s.%N)
cluster_lock
# CLUSTER_BIN_DIR: use binaries from elsewhere (e.g. another build of the same layout); default: the pins'.
BIN="${CLUSTER_BIN_DIR:-$("$REPO_ROOT/test/tools/build.sh" --print-dir)}"
[[ -f "$BIN/.complete" ]] || die "control-plane binaries for the current pins are not built ($BIN): run 'make tools'"
BIN="$(realpath "$BIN")"
KUBECTL="$BIN/kubectl"
KUBECONFIG_ADMIN="$CLUSTER_DIR/kubeconfig"

# ---- already running? ---------------------------------------------------------------------------
running=0; recorded=0
for c in "${CLUSTER_COMPONENTS[@]}"; do
  f="$CLUSTER_DIR/pids/$c.pid"
  [[ -f "$f" ]] || continue
  recorded=$((recorded + 1))
  if pid_alive "$(cat "$f")" "$BIN"; then running=$((running + 1)); fi
done
if [[ $running -eq ${#CLUSTER_COMPONENTS[@]} ]] &&
   "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
  log "cluster already running ($(grep '^API_SERVER=' "$CLUSTER_DIR/cluster.env" | cut -d= -f2)); kubeconfig: $KUBECONFIG_ADMIN"
  exit 0
fi
if [[ -n "${STATUS_ONLY:-}" ]]; then
  log "no healthy cluster at $CLUSTER_DIR"
  exit 1
fi
if [[ $recorded -gt 0 || -d "$CLUSTER_DIR" ]]; then
  log "found a partial or stale cluster in $CLUSTER_DIR ($running of ${#CLUSTER_COMPONENTS[@]} components alive): stopping it"
  "$REPO_ROOT/scripts/cluster-down.sh"
fi

mkdir -p "$CLUSTER_DIR"/{pki,etcd,kubeconfigs,kwok,logs,pids}
chmod 700 "$CLUSTER_DIR" "$CLUSTER_DIR/pki"
echo "BIN_DIR=$BIN" >"$CLUSTER_DIR/cluster.env" # completed below; cluster-down needs it even after a failed start

ok=0
on_exit() {
  if [[ $ok -ne 1 ]]; then
    log "cluster-up failed; last lines of each component's log:"
    for c in "${CLUSTER_COMPONENTS[@]}"; do
      [[ -s "$CLUSTER_DIR/logs/$c.log" ]] || continue
      echo "----- $c ($CLUSTER_DIR/logs/$c.log) -----" >&2
      tail -n 25 "$CLUSTER_DIR/logs/$c.log" >&2
    done
    "$REPO_ROOT/scripts/cluster-down.sh" || true
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- ports --------------------------------------------------------------------------------------
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KWOK_PORT < <(free_ports 6)
[[ -n "$KWOK_PORT" ]] || die "could not pick free ports"
API_SERVER="https://127.0.0.1:$API_PORT"

# ---- PKI (openssl): one CA, serving certs, a client cert per component, SA signing key ----------
PKI="$CLUSTER_DIR/pki"
if ! command -v openssl >/dev/null; then
  # Debian's openssl package (ca-certificates depends on it, so it is nearly always there); as root
  # on a machine without it, install it rather than fail.
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    log "installing openssl (Debian package)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; } >/dev/null 2>&1 || die "openssl is required and could not be installed"
  else
    die "openssl is required (Debian: apt-get install openssl)"
  fi
fi
(
  cd "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=nodemeta-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out ca.crt 2>/dev/null
  # cert <name> <subject> <serverAuth|clientAuth> [subjectAltName]
  cert() {
    local name="$1" subj="$2" usage="$3" san="${4:-}"
    openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
    openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
    {
      echo "basicConstraints=CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=$usage"
      [[ -n "$san" ]] && echo "subjectAltName=$san"
    } >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -sha256 \
      -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
  }
  cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=nodemeta-admin" clientAuth
  cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
  # kwok plays every simulated node's kubelet at once, so it cannot be one system:node:<name>.
  cert kwok "/O=system:masters/CN=kwok" clientAuth
  # Front proxy (aggregation layer): its own CA, as kubeadm does, so request-header auth is configured.
  openssl ecparam -name prime256v1 -genkey -noout -out front-proxy-ca.key 2>/dev/null
  openssl req -x509 -new -key front-proxy-ca.key -subj "/CN=nodemeta-local-front-proxy-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out front-proxy-ca.crt 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out front-proxy-client.key 2>/dev/null
  openssl req -new -key front-proxy-client.key -subj "/CN=front-proxy-client" -out front-proxy-client.csr 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >front-proxy-client.ext
  openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key -CAcreateserial -days 365 \
    -sha256 -extfile front-proxy-client.ext -out front-proxy-client.crt 2>/dev/null
  rm -f front-proxy-client.csr front-proxy-client.ext
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  chmod 600 ./*.key
) || die "generating certificates with openssl failed"

kubeconfig() { # kubeconfig <file> <user> <cert basename>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nodemeta-local
  cluster:
    server: $API_SERVER
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$3.crt")
    client-key-data: $(base64 -w0 "$PKI/$3.key")
contexts:
- name: nodemeta-local
  context:
    cluster: nodemeta-local
    user: $2
current-context: nodemeta-local
EOF
  chmod 600 "$1"
}
kubeconfig "$KUBECONFIG_ADMIN" nodemeta-admin admin
for c in kube-controller-manager kube-scheduler kwok; do
  kubeconfig "$CLUSTER_DIR/kubeconfigs/$c.kubeconfig" "$c" "$c"
done

# ---- process helpers ----------------------------------------------------------------------------
# start <component> <binary> args...: runs it in its own session (process group), logs to
# logs/<component>.log, records its pid (= process-group id) in pids/<component>.pid.
start() {
  local c="$1"; shift
  log "starting $c"
  {
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
  } >"$CLUSTER_DIR/logs/$c.log"
  # 8>&-: the component must not inherit (and so hold) the cluster lock's file descriptor.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$CLUSTER_DIR/pids/$c.pid" "$@" \
    >>"$CLUSTER_DIR/logs/$c.log" 2>&1 </dev/null 8>&- &
  local i
  for i in $(seq 1 100); do
    # started = the pid file is written and the process has exec'd our binary
    [[ -s "$CLUSTER_DIR/pids/$c.pid" ]] && pid_alive "$(cat "$CLUSTER_DIR/pids/$c.pid")" "$BIN" && return 0
    sleep 0.1
  done
  die "$c did not start (see $CLUSTER_DIR/logs/$c.log)"
}
# wait_for <component> <description> <command...>: retries the command until it succeeds, the
# component dies, or TIMEOUT passes; every POLL_SECONDS (default 0.2).
wait_for() {
  local c="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$(cat "$CLUSTER_DIR/pids/$c.pid")" "$BIN" || die "$c exited while waiting for $what (see $CLUSTER_DIR/logs/$c.log)"
    [[ $(date +%s) -lt $deadline ]] || die "timed out after ${TIMEOUT}s waiting for $what"
    sleep "${POLL_SECONDS:-0.2}"
  done
}
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ---- etcd ---------------------------------------------------------------------------------------
start etcd "$BIN/etcd" \
  --name=nodemeta --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="nodemeta=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state=new \
  --unsafe-no-fsync --quota-backend-bytes="$ETCD_QUOTA_BYTES" --log-level=warn
wait_for etcd "etcd health" curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# ---- the audit log: the API server as the tests' witness ----------------------------------------
# The end-to-end tests read who wrote what from here (test/e2e/lib/audit.ts, docs/cluster.md): the
# writes (create, update, patch, delete) to the objects nodemeta and its tests touch, at Metadata
# level (who, verb, object, response code; no bodies). Reads and watches are not logged: they are
# most of the traffic and nobody asks about them. kwok's node Leases (kube-node-lease: one renewal
# per node every 10 s) are left out too: they would be most of the log and no test reads them.
AUDIT_POLICY="$CLUSTER_DIR/audit-policy.yaml"
# In logs/: cluster-down keeps it with the components' logs (.cache/cluster-logs/<time>/) for a look
# after a failed run.
AUDIT_LOG="$CLUSTER_DIR/logs/audit.log"
cat >"$AUDIT_POLICY" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
# One event per request, when its answer is complete (the response code is known).
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: None
  resources: [{ group: coordination.k8s.io, resources: [leases] }]
  namespaces: [kube-node-lease]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
  resources:
  - { group: "", resources: [nodes, nodes/status, pods, pods/eviction, pods/status, events] }
  - { group: events.k8s.io, resources: [events] }
  - { group: coordination.k8s.io, resources: [leases] }
  - { group: nodemeta.io, resources: [nodemetadatas, nodemetadatas/status] }
- level: None
EOF
# - blocking: the event is written to the file before the API server answers the request, so a test
#   that has seen a write's effect finds the write in the log (batch mode would buffer it for up to
#   its flush interval; the cost here is one small file write per audited request).
# - 512 MB before a rotation: a full e2e run writes a few tens of MB at this level; the reader reads
#   the rotated files too (audit-<time>.log), in case a bench writes more.
AUDIT_ARGS=(--audit-policy-file="$AUDIT_POLICY" --audit-log-path="$AUDIT_LOG" --audit-log-format=json
  --audit-log-mode=blocking --audit-log-maxsize=512 --audit-log-maxbackup=4 --audit-log-maxage=7)

# ---- kube-apiserver -----------------------------------------------------------------------------
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-cluster-ip-range=10.96.0.0/16 \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false \
  --event-ttl=1h \
  "${APISERVER_SIZE_ARGS[@]}" "${AUDIT_ARGS[@]}" \
  --v=1
wait_for kube-apiserver "kube-apiserver /readyz" kc get --raw /readyz --request-timeout=5s

# ---- kube-controller-manager, kube-scheduler ------------------------------------------------------
KCM_KC="$CLUSTER_DIR/kubeconfigs/kube-controller-manager.kubeconfig"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KCM_KC" --authentication-kubeconfig="$KCM_KC" --authorization-kubeconfig="$KCM_KC" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --controllers='*' --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --cluster-name=nodemeta-local --leader-elect=false \
  --flex-volume-plugin-dir="$CLUSTER_DIR/flexvolume" \
  "${KCM_QPS_ARGS[@]}" "${NODE_GRACE_ARGS[@]}" \
  --profiling=false --v=1
SCHED_KC="$CLUSTER_DIR/kubeconfigs/kube-scheduler.kubeconfig"
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$SCHED_KC" --authentication-kubeconfig="$SCHED_KC" --authorization-kubeconfig="$SCHED_KC" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  --leader-elect=false --profiling=false "${SCHED_QPS_ARGS[@]}" --v=1
wait_for kube-controller-manager "kube-controller-manager /healthz" curl -skf --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler "kube-scheduler /healthz" curl -skf --max-time 2 "https://127.0.0.1:$SCHED_PORT/healthz"

# ---- kwok ---------------------------------------------------------------------------------------
cat >"$CLUSTER_DIR/kwok/kwok.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  cidr: 10.244.0.0/16
  nodeLeaseDurationSeconds: $KWOK_LEASE_SECONDS
  # kwok defaults these only for its built-in configuration, not for one given with --config.
  nodeLeaseParallelism: $KWOK_LEASE_PARALLELISM
  nodePlayStageParallelism: $KWOK_NODE_PARALLELISM
  podPlayStageParallelism: $KWOK_POD_PARALLELISM
  podsOnNodeSyncParallelism: 1
  enableDebuggingHandlers: true
  enableContentionProfiling: false
  enableProfilingHandler: false
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
EOF
kwok_configs=(--config="$CLUSTER_DIR/kwok/kwok.yaml")
for f in "$BIN"/kwok-stages/*.yaml; do [[ -f "$f" ]] && kwok_configs+=(--config="$f"); done
[[ ${#kwok_configs[@]} -ge 6 ]] || die "kwok stages missing in $BIN/kwok-stages (rebuild: test/tools/build.sh --force)"
start kwok "$BIN/kwok" "${kwok_configs[@]}" \
  --kubeconfig="$CLUSTER_DIR/kubeconfigs/kwok.kubeconfig" \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_for kwok "kwok /healthz" curl -sf --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz"

# ---- simulated AKS nodes ------------------------------------------------------------------------
KUBE_VERSION="$("$BIN/kube-apiserver" --version | awk '{print $2}')"
# One Node document; awk fills in @NAME@, @ZONE@, @IP@ and @INDEX@ per node (one process for all
# nodes: a shell loop forking per node took minutes at 5000).
node_template() {
  cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: @NAME@
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    agentpool: $POOL
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/instance-type: Standard_D4s_v5
    beta.kubernetes.io/os: linux
    failure-domain.beta.kubernetes.io/region: $REGION
    failure-domain.beta.kubernetes.io/zone: @ZONE@
    kubernetes.azure.com/agentpool: $POOL
    kubernetes.azure.com/cluster: $NODE_RG
    kubernetes.azure.com/mode: system
    kubernetes.azure.com/node-image-version: AKSUbuntu-2204gen2containerd-202510.03.0
    kubernetes.azure.com/nodepool-type: VirtualMachineScaleSets
    kubernetes.azure.com/os-sku: Ubuntu
    kubernetes.azure.com/role: agent
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: @NAME@
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node.kubernetes.io/instance-type: Standard_D4s_v5
    topology.disk.csi.azure.com/zone: @ZONE@
    topology.kubernetes.io/region: $REGION
    topology.kubernetes.io/zone: @ZONE@
    type: kwok
spec:
  providerID: azure:///subscriptions/$SUBSCRIPTION/resourceGroups/$NODE_RG/providers/Microsoft.Compute/virtualMachineScaleSets/$VMSS/virtualMachines/@INDEX@
status:
  addresses:
  - type: InternalIP
    address: @IP@
  - type: Hostname
    address: @NAME@
  capacity:
    cpu: "4"
    ephemeral-storage: 129886128Ki
    memory: 16373864Ki
    pods: "110"
  allocatable:
    cpu: 3860m
    ephemeral-storage: 119703055367
    memory: 12880488Ki
    pods: "110"
  nodeInfo:
    architecture: amd64
    containerRuntimeVersion: containerd://1.7.28-1
    kernelVersion: 5.15.0-1092-azure
    kubeProxyVersion: ""
    kubeletVersion: $KUBE_VERSION
    operatingSystem: linux
    osImage: Ubuntu 22.04.5 LTS
EOF
}
# nodes.yaml holds them all; nodes.d/ the same in chunks of NODE_CHUNK, created in parallel below.
NODES_YAML="$CLUSTER_DIR/nodes.yaml"
NODE_CHUNK=250
mkdir -p "$CLUSTER_DIR/nodes.d"
awk -v nodes="$NODES" -v chunk="$NODE_CHUNK" -v all="$NODES_YAML" -v dir="$CLUSTER_DIR/nodes.d" \
    -v vmss="$VMSS" -v region="$REGION" -v template="$(node_template)" '
  # VMSS instance names: 6 base-36 digits, as Azure names them (vmss000000 .. vmss00000z, vmss000010 ...)
  function b36(n,   s, k) {
    s = ""
    for (k = 0; k < 6; k++) { s = substr("0123456789abcdefghijklmnopqrstuvwxyz", n % 36 + 1, 1) s; n = int(n / 36) }
    return s
  }
  BEGIN {
    printf "" > all
    for (i = 0; i < nodes; i++) {
      doc = template "\n"
      gsub(/@NAME@/, vmss b36(i), doc)
      gsub(/@ZONE@/, region "-" (i % 3 + 1), doc)
      gsub(/@IP@/, "10.224." int((i + 4) / 256) "." ((i + 4) % 256), doc)
      gsub(/@INDEX@/, i, doc)
      part = sprintf("%s/%04d.yaml", dir, int(i / chunk))
      printf "%s", doc >> all
      printf "%s", doc >> part
      if (i % chunk == chunk - 1) close(part)
    }
  }'
log "creating $NODES simulated nodes (${VMSS}000000 ...)"
# One kubectl per chunk, 4 at a time: one kubectl creates its objects one request after another.
find "$CLUSTER_DIR/nodes.d" -name '*.yaml' -print0 | sort -z |
  xargs -0 -r -n 1 -P 4 "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" create -f >/dev/null ||
  die "creating the nodes failed (see above)"
rm -rf "$CLUSTER_DIR/nodes.d"
log "$NODES nodes created after $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s; waiting until they are Ready"
# The server-side table's STATUS column reads "Ready" (or "Ready,SchedulingDisabled") exactly when the
# Ready condition is True; it is far cheaper for the API server than the full objects at 5000 nodes.
nodes_ready() {
  local n
  n=$(kc get nodes -l type=kwok --no-headers | awk '$2 ~ /^Ready(,|$)/' | wc -l)
  [[ "$n" -eq "$NODES" ]]
}
POLL_SECONDS=$READY_POLL_SECONDS wait_for kwok "$NODES nodes Ready" nodes_ready
# Pods need the namespace's default ServiceAccount (token controller) before they can be created.
wait_for kube-controller-manager "ServiceAccount default/default" kc get serviceaccount default -n default

# ---- record ---------------------------------------------------------------------------------------
cat >"$CLUSTER_DIR/cluster.env" <<EOF
CLUSTER_DIR=$CLUSTER_DIR
KUBECONFIG=$KUBECONFIG_ADMIN
API_SERVER=$API_SERVER
BIN_DIR=$BIN
KUBE_VERSION=$KUBE_VERSION
NODES=$NODES
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
KWOK_PORT=$KWOK_PORT
EOF
cat >"$CLUSTER_DIR/cluster.json" <<EOF
{
  "clusterDir": "$CLUSTER_DIR",
  "kubeconfig": "$KUBECONFIG_ADMIN",
  "apiServer": "$API_SERVER",
  "binDir": "$BIN",
  "kubeVersion": "$KUBE_VERSION",
  "nodes": $NODES,
  "region": "$REGION",
  "nodeNamePrefix": "$VMSS",
  "auditLog": "$AUDIT_LOG",
  "ports": { "etcd": $ETCD_PORT, "etcdPeer": $ETCD_PEER_PORT, "apiServer": $API_PORT,
             "controllerManager": $KCM_PORT, "scheduler": $SCHED_PORT, "kwok": $KWOK_PORT }
}
EOF
# Convenience for people: `source .cache/cluster/env.sh` puts the pinned kubectl/helm first on PATH
# and points KUBECONFIG at the cluster.
mkdir -p "$CLUSTER_DIR/bin"
for t in kubectl helm; do ln -sf "$BIN/$t" "$CLUSTER_DIR/bin/$t"; done
cat >"$CLUSTER_DIR/env.sh" <<EOF
export KUBECONFIG="$KUBECONFIG_ADMIN"
export PATH="$CLUSTER_DIR/bin:\$PATH"
EOF
ok=1
ELAPSED=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
log "cluster up in ${ELAPSED}s: Kubernetes $KUBE_VERSION at $API_SERVER with $NODES simulated nodes"
log "  source $CLUSTER_DIR/env.sh   # KUBECONFIG + the pinned kubectl and helm on PATH"
log "  logs: $CLUSTER_DIR/logs/   stop: make cluster-down"
