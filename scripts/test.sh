#!/usr/bin/env bash
# The test command: installs what is missing, then runs every check CI runs, in order of
# cost, stopping at the first failure:
#   formatting, clippy (server-side and browser-side builds, warnings denied),
#   unit and integration tests of every crate (the scale-out ones against real Redis servers
#   they start on free ports), MSAL Node against the emulator, a release build (the build
#   users ship, with wasm-opt), and the browser tests against it on free ports, the main
#   flows a second time on the Redis session store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
. scripts/env.sh

# CI builds once from scratch: incremental artifacts would only cost disk and time.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

started=$(date +%s)
stage() { printf '\n==> %s  (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
# N distinct free loopback ports (all held open until printed, so none is named twice).
free_ports() {
  python3 -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

stage "cargo fmt --check"
cargo fmt --all --check

stage "clippy, server side (ssr)"
cargo clippy --workspace --exclude frontend --all-targets --locked -- -D warnings

stage "clippy, browser side (hydrate, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings

stage "unit and integration tests"
cargo test --workspace --exclude frontend --locked

stage "emulator conformance: Microsoft's MSAL Node against entra-emulator over HTTPS"
# cargo test built the binary for the emulator's CLI tests.
emulator/msal-conformance/run.sh target/debug/entra-emulator

stage "release build (the build users ship: wasm-opt, hashed and precompressed assets)"
cargo leptos build --release --precompress

stage "browser tests (Playwright, chromium) against the release build"
# Playwright starts the app, a Redis server and a second instance on the Redis session store
# (end2end/playwright.config.ts) on these free ports, so a developer's running `scripts/dev.sh`
# is never hit by the tests, and stops them when the run ends.
read -r app_port E2E_REDIS_PORT E2E_REDIS_APP_PORT < <(free_ports 3)
LEPTOS_SITE_ADDR="127.0.0.1:$app_port"
export LEPTOS_SITE_ADDR E2E_REDIS_PORT E2E_REDIS_APP_PORT
E2E_LOG=$(mktemp)
trap 'rm -f "$E2E_LOG"' EXIT
if ! (cd end2end && npx playwright test) 2>&1 | tee "$E2E_LOG"; then
  # What a reader of the last lines needs: each failed test with the start of its error, and
  # the end of each server's log (the whole logs stay in target/e2e/).
  echo
  echo "==> the browser tests failed; each failure, then the end of each server's log"
  awk '/^  [0-9]+\) /{n=14} n>0{print; n--}' "$E2E_LOG" | head -n 120
  for log in target/e2e/*.log; do
    echo "--- last lines of $log"
    tail -n 15 "$log" | cut -c1-400
  done
  exit 1
fi

stage "release bundle sizes"
scripts/bundle-size.sh

stage "all checks passed"
