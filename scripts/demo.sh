#!/usr/bin/env bash
# make demo: see scripts/demo.mjs. The Makefile puts Node 24 first on PATH and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/demo.mjs "$@"
