#!/usr/bin/env bash
# Builds nodemeta's local control plane from Go modules (no prebuilt binaries, no Docker):
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok (+ its stages), helm.
#
# Each tool has its own Go module under test/tools/<name>/ (pinned go.mod + committed go.sum), so
# versions never mix. The binaries land in $NODEMETA_CACHE/bin/<key>/, where <key> hashes the pins
# (this script, every go.mod/go.sum, the Go version): a fresh clone on the same machine reuses them,
# a changed pin builds a new directory, a fresh machine builds everything.
#
#   test/tools/build.sh              build if needed, print what was built and how long it took
#   test/tools/build.sh --print-dir  print the bin directory for the current pins (no build)
#   test/tools/build.sh --force      rebuild even if the stamp exists
set -euo pipefail

# ---- pins (a change here changes the key, so the tools are rebuilt) --------------------------------
KUBE_VERSION=v1.36.3       # k8s.io/kubernetes; staging modules replaced by v0.36.3 (kube/go.mod)
ETCD_VERSION=v3.6.16       # go.etcd.io/etcd/server/v3 (etcd/go.mod)
KWOK_VERSION=v0.8.0        # sigs.k8s.io/kwok (kwok/go.mod), built against k8s.io/* v0.36.1
HELM_VERSION=v3.22.0       # helm.sh/helm/v3 (helm/go.mod)
HELM_KUBE_MAJOR=1          # Kubernetes version helm assumes when it has no cluster (template, lint)
HELM_KUBE_MINOR=36
# Source dates of the pinned releases (from the module proxy's .info): stamped as build dates so the
# binaries are reproducible.
KUBE_BUILD_DATE=2026-07-22T18:07:38Z
BUILD_FLAGS=(-trimpath -mod=readonly)
# ----------------------------------------------------------------------------------------------------

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODEMETA_CACHE="${NODEMETA_CACHE:-$HOME/.cache/nodemeta}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=
if ! command -v go >/dev/null 2>&1; then
  [[ -x /usr/local/go/bin/go ]] || { echo "build.sh: no Go toolchain (expected go on PATH or /usr/local/go)" >&2; exit 1; }
  export PATH="/usr/local/go/bin:$PATH"
fi

key() {
  {
    go version
    cat "$HERE/build.sh"
    for m in kube etcd kwok helm; do cat "$HERE/$m/go.mod" "$HERE/$m/go.sum"; done
  } | sha256sum | cut -c1-16
}
KEY="$(key)"
BIN="$NODEMETA_CACHE/bin/$KEY"

case "${1:-}" in
  --print-dir) echo "$BIN"; exit 0 ;;
  --force) rm -rf "$BIN" ;;
  "") ;;
  *) echo "usage: $0 [--print-dir|--force]" >&2; exit 2 ;;
esac

if [[ -f "$BIN/.complete" ]]; then
  echo ">> control-plane tools up to date: $BIN"
  exit 0
fi

mkdir -p "$NODEMETA_CACHE/bin"
exec 9>"$NODEMETA_CACHE/bin/.lock"
if ! flock -n 9; then
  echo ">> another build is running; waiting for its lock ($NODEMETA_CACHE/bin/.lock)" >&2
  flock 9
fi
if [[ -f "$BIN/.complete" ]]; then echo ">> control-plane tools up to date: $BIN"; exit 0; fi

TMP="$NODEMETA_CACHE/bin/.tmp-$KEY-$$"
rm -rf "$TMP"; mkdir -p "$TMP/kwok-stages"
trap 'rm -rf "$TMP"' EXIT
LOG="$TMP/build.log"
echo ">> building control-plane tools into $BIN ($(go version | cut -d' ' -f3), $(nproc) cores)"
echo "   a cold build takes about 20 minutes on 2 cores (docs/cluster.md); later runs reuse it"
START_ALL=$(date +%s)

build() { # build <module dir> <output name> <package> [ldflags]
  local dir="$1" out="$2" pkg="$3" ld="${4:-}" s e
  s=$(date +%s)
  printf '   %-26s ' "$out"
  if ! (cd "$HERE/$dir" && go build "${BUILD_FLAGS[@]}" -ldflags "-s -w $ld" -o "$TMP/$out" "$pkg") >"$TMP/$out.err" 2>&1; then
    echo "FAILED"; cat "$TMP/$out.err" >&2
    echo "build.sh: building $pkg in test/tools/$dir failed" >&2
    exit 1
  fi
  e=$(( $(date +%s) - s ))
  echo "${e}s"
  echo "$out ${e}s" >>"$LOG"
}

# Downloads first (network), so build time measures compilation.
for m in kube etcd kwok helm; do
  (cd "$HERE/$m" && go mod download) || { echo "build.sh: go mod download failed in test/tools/$m" >&2; exit 1; }
done

KMAJ=${KUBE_VERSION#v}; KMAJ=${KMAJ%%.*}
KMIN=${KUBE_VERSION#v*.}; KMIN=${KMIN%%.*}
KLD=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KLD+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$KMAJ -X $p.gitMinor=$KMIN"
  # gitCommit: the module proxy does not say which commit a tag is; empty beats the "$Format:%H$" default.
  KLD+=" -X $p.gitTreeState=clean -X $p.buildDate=$KUBE_BUILD_DATE -X $p.gitCommit="
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build kube "$c" "k8s.io/kubernetes/cmd/$c" "$KLD"
done
build etcd etcd go.etcd.io/etcd/server/v3 "-X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
HLD="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
HLD+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  HLD+=" -X $p.k8sVersionMajor=$HELM_KUBE_MAJOR -X $p.k8sVersionMinor=$HELM_KUBE_MINOR"
done
build helm helm helm.sh/helm/v3/cmd/helm "$HLD"

# kwok's stages (Apache-2.0) from the pinned module: node initialize + heartbeat with lease, pod fast.
KWOK_DIR="$(cd "$HERE/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cp "$KWOK_DIR/kustomize/stage/$f" "$TMP/kwok-stages/"
done
chmod 0644 "$TMP/kwok-stages/"*.yaml

# Check what came out: every binary runs and reports the pinned version. Each output is read whole
# before it is searched: `tool --version | grep -q` under pipefail fails at random, since grep exits at
# its first match and the tool, still writing, dies of SIGPIPE (seen with etcd on a busy machine).
check_version() { # check_version <name> <pattern> <command...>
  local name="$1" pattern="$2" out; shift 2
  out="$("$@" 2>&1)" || { echo "build.sh: $name --version failed: $out" >&2; exit 1; }
  grep -q -- "$pattern" <<<"$out" || { echo "build.sh: $name version mismatch: $out" >&2; exit 1; }
}
check_version kube-apiserver "^Kubernetes $KUBE_VERSION\$" "$TMP/kube-apiserver" --version
check_version etcd "etcd Version: ${ETCD_VERSION#v}" "$TMP/etcd" --version
check_version kubectl "\"gitVersion\": \"$KUBE_VERSION\"" "$TMP/kubectl" version --client -o json
check_version helm "^$HELM_VERSION" "$TMP/helm" version --short

TOTAL=$(( $(date +%s) - START_ALL ))
{
  echo "key=$KEY"
  echo "go=$(go version | cut -d' ' -f3)"
  echo "kubernetes=$KUBE_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION helm-assumes=v$HELM_KUBE_MAJOR.$HELM_KUBE_MINOR"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$TOTAL"
} >"$TMP/VERSIONS"
rm -f "$TMP"/*.err
touch "$TMP/.complete"
rm -rf "$BIN"
mv "$TMP" "$BIN"
trap - EXIT
echo ">> built in ${TOTAL}s: $BIN"
cat "$BIN/VERSIONS"
