#!/usr/bin/env bash
# Prints the size of the release WASM, JS and CSS a browser downloads: raw, gzip -9, and the
# precompressed .gz and .br files the server sends (from `--precompress`).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
size() { [ -f "$1" ] && stat -c %s "$1" || echo "-"; }
for ext in wasm js css; do
  files=(target/site/pkg/entra-bff*."$ext")
  [ ${#files[@]} -gt 0 ] || { echo "missing target/site/pkg/entra-bff*.$ext: run a release build first" >&2; exit 1; }
  for f in "${files[@]}"; do
    printf '%-44s %8s raw %8s gzip -9 %8s .gz %8s .br\n' "$f" "$(size "$f")" \
      "$(gzip -9c "$f" | wc -c)" "$(size "$f.gz")" "$(size "$f.br")"
  done
done
