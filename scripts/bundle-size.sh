#!/usr/bin/env bash
# Prints the size of the release WASM and JS that a browser downloads, raw and gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in target/site/pkg/entra-bff.wasm target/site/pkg/entra-bff.js target/site/pkg/entra-bff.css; do
  [ -f "$f" ] || { echo "missing $f: run a release build first" >&2; exit 1; }
  printf '%-32s %8d bytes raw %8d bytes gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
