#!/usr/bin/env bash
# Re-pins test/tools/kube to another Kubernetes release: writes go.mod (require k8s.io/kubernetes
# vX.Y.Z, every staging module replaced by its published v0.Y.Z twin, the commands as tool
# directives), runs go mod tidy, and updates KUBE_VERSION / KUBE_BUILD_DATE in build.sh.
#
#   test/tools/pin-kube.sh v1.36.3
#
# Then check kwok's Kubernetes libraries still match (test/tools/kwok/go.mod), run make tools and
# the e2e tests, and commit go.mod, go.sum and build.sh.
set -euo pipefail
VERSION="${1:?usage: $0 vX.Y.Z}"
[[ "$VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "not a Kubernetes release: $VERSION" >&2; exit 2; }
STAGING="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"

info="$(go mod download -json "k8s.io/kubernetes@$VERSION")"
gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' <<<"$info")"
[[ -f "$gomod" ]] || { echo "could not download k8s.io/kubernetes@$VERSION" >&2; exit 1; }
date="$(go list -m -json "k8s.io/kubernetes@$VERSION" | sed -n 's/.*"Time": "\(.*\)".*/\1/p')"
godirective="$(awk '$1 == "go" { print $2; exit }' "$gomod")"
godebug="$(awk '$1 == "godebug" { print; exit }' "$gomod")"

{
  echo "// Control-plane binaries for nodemeta's tests, built from k8s.io/kubernetes through the Go module proxy."
  echo "// Every staging module is replaced by its published v0.X.Y twin (k8s.io/kubernetes' own go.mod replaces"
  echo "// them with ./staging paths, which only hold inside its repository). Regenerate with ../pin-kube.sh."
  echo "module nodemeta.io/test/tools/kube"
  echo
  echo "go $godirective"
  if [[ -n "$godebug" ]]; then echo; echo "$godebug"; fi
  echo
  echo "require k8s.io/kubernetes $VERSION"
  echo
  echo "tool ("
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do echo "	k8s.io/kubernetes/cmd/$c"; done
  echo ")"
  echo
  echo "replace ("
  grep -E '=> \./staging/' "$gomod" | awk -v v="$STAGING" '{ print "\t" $1 " => " $1 " " v }'
  echo ")"
} >"$HERE/kube/go.mod"
rm -f "$HERE/kube/go.sum"
(cd "$HERE/kube" && go mod tidy)

sed -i "s/^KUBE_VERSION=v[0-9.]*/KUBE_VERSION=$VERSION/; s/^KUBE_BUILD_DATE=.*/KUBE_BUILD_DATE=$date/" "$HERE/build.sh"
echo "pinned k8s.io/kubernetes $VERSION (staging $STAGING, source date $date)"
