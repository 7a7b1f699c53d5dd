#!/usr/bin/env bash
# Installs Prometheus's `promtool` (rule checks and rule unit tests for the chart's PrometheusRule,
# docs/metrics.md) from Debian's `prometheus` package, unpacked into the cache, never installed as a
# service: `apt-get download` + `dpkg -x`. Debian's archive is one of the registries the machines
# reach; the binary needs only libc. A first install takes about 10 seconds, against about 20
# minutes for the control plane of test/tools/build.sh: promtool has its own directory and pin, so
# a change here never rebuilds that.
#
#   test/tools/promtool.sh              install if needed, print where
#   test/tools/promtool.sh --print-path print the promtool path for the current pin (no install)
set -euo pipefail

# ---- pin (its own cache directory: $NODEMETA_CACHE/promtool/<version>/) -----------------------------
# Prometheus 2.42.0 as Debian 12 (bookworm) ships it. The pin is the upstream version: Debian's
# revision moves with its point and security releases (2.42.0+ds-5+b6, then 2.42.0+ds-5+deb12u1) and
# its mirror keeps only the newest, so the newest revision of 2.42.0+ds is taken and the one
# installed is written to VERSIONS.
PROMTOOL_VERSION=2.42.0
# ----------------------------------------------------------------------------------------------------

NODEMETA_CACHE="${NODEMETA_CACHE:-$HOME/.cache/nodemeta}"
DIR="$NODEMETA_CACHE/promtool/$PROMTOOL_VERSION"
PROMTOOL="$DIR/promtool"

case "${1:-}" in
  --print-path) echo "$PROMTOOL"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac

if [[ -x "$PROMTOOL" && -f "$DIR/.complete" ]]; then
  echo ">> promtool up to date: $PROMTOOL"
  exit 0
fi

mkdir -p "$NODEMETA_CACHE/promtool"
exec 9>"$NODEMETA_CACHE/promtool/.lock"
flock 9
if [[ -x "$PROMTOOL" && -f "$DIR/.complete" ]]; then echo ">> promtool up to date: $PROMTOOL"; exit 0; fi

START=$(date +%s)
TMP="$NODEMETA_CACHE/promtool/.tmp-$$"
rm -rf "$TMP"; mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
echo ">> installing promtool $PROMTOOL_VERSION from Debian's prometheus package into $DIR"

# The newest revision of the pinned version in the package lists, or nothing.
candidate() {
  apt-cache madison prometheus 2>/dev/null | awk -F'|' -v v="$PROMTOOL_VERSION+ds-" '{ gsub(/ /, "", $2); if (index($2, v) == 1) { print $2; exit } }'
}
DEB_VERSION="$(candidate)"
if [[ -z "$DEB_VERSION" ]]; then
  # A fresh machine has no package lists yet (apt-get update is the documented first step).
  echo "   no prometheus $PROMTOOL_VERSION in the package lists: apt-get update" >&2
  apt-get update >"$TMP/update.log" 2>&1 || { cat "$TMP/update.log" >&2; echo "promtool.sh: apt-get update failed" >&2; exit 1; }
  DEB_VERSION="$(candidate)"
  [[ -n "$DEB_VERSION" ]] || { apt-cache madison prometheus >&2 || true; echo "promtool.sh: Debian has no prometheus $PROMTOOL_VERSION (see above)" >&2; exit 1; }
fi
download() { (cd "$TMP" && apt-get download -o APT::Sandbox::User=root "prometheus=$DEB_VERSION") >"$TMP/apt.log" 2>&1; }
if ! download; then
  # Lists older than the mirror name a revision it no longer has: refresh them once.
  echo "   prometheus=$DEB_VERSION is gone from the mirror: apt-get update" >&2
  apt-get update >"$TMP/update.log" 2>&1 || { cat "$TMP/update.log" >&2; echo "promtool.sh: apt-get update failed" >&2; exit 1; }
  DEB_VERSION="$(candidate)"
  download || { cat "$TMP/apt.log" >&2; echo "promtool.sh: apt-get download prometheus=$DEB_VERSION failed" >&2; exit 1; }
fi
dpkg -x "$TMP"/prometheus_*.deb "$TMP/root"
install -m 0755 "$TMP/root/usr/bin/promtool" "$TMP/promtool"
"$TMP/promtool" --version 2>&1 | grep -q "^promtool, version $PROMTOOL_VERSION" \
  || { echo "promtool.sh: unexpected version: $("$TMP/promtool" --version 2>&1 | head -1)" >&2; exit 1; }

rm -rf "$DIR"; mkdir -p "$DIR"
mv "$TMP/promtool" "$PROMTOOL"
SECONDS_TAKEN=$(( $(date +%s) - START ))
echo "promtool=$PROMTOOL_VERSION deb=prometheus_$DEB_VERSION installed=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$SECONDS_TAKEN" >"$DIR/VERSIONS"
touch "$DIR/.complete"
echo ">> installed in ${SECONDS_TAKEN}s: $PROMTOOL"
cat "$DIR/VERSIONS"
