#!/usr/bin/env bash
# Fails when the chart's CRDs (charts/nodemeta/crds/) differ from the top-level crds/ they copy.
# Helm installs CRDs only from the chart's own crds/ directory, so the two must stay identical;
# crds/ is the source. Fix a difference with: cp crds/*.yaml charts/nodemeta/crds/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! diff -r -u "$ROOT/crds" "$ROOT/charts/nodemeta/crds"; then
  echo "check-chart-crds: charts/nodemeta/crds/ differs from crds/; run: cp crds/*.yaml charts/nodemeta/crds/" >&2
  exit 1
fi
echo "check-chart-crds: charts/nodemeta/crds/ matches crds/"
