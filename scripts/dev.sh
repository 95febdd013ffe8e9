#!/usr/bin/env bash
# The run command: installs what is missing, then serves the app at http://localhost:3000
# with `cargo leptos watch`, which rebuilds and reloads the browser on every saved change.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
exec cargo leptos watch "$@"
