#!/usr/bin/env bash
# The test command: installs what is missing, then runs every check CI runs, in order of
# cost, stopping at the first failure:
#   formatting, clippy (server-side and browser-side builds, warnings denied),
#   unit and integration tests of every crate (the scale-out ones against real Redis servers
#   they start on free ports), MSAL Node against the emulator, and the browser tests against
#   a release build (the build users ship, with wasm-opt) served on a free port, the main
#   flows a second time on the Redis session store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
. scripts/env.sh

# CI builds once from scratch: incremental artifacts would only cost disk and time.
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

started=$(date +%s)
stage() { printf '\n==> %s  (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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

stage "release build + browser tests (Playwright, chromium)"
# Free ports for the app and its embedded emulator, and a fresh data directory, so a
# developer's running `scripts/dev.sh` is never hit by the tests.
LEPTOS_SITE_ADDR="127.0.0.1:$(free_port)"
EMULATOR_ADDR="127.0.0.1:$(free_port)"
WEATHER_API_ADDR="127.0.0.1:$(free_port)"
METRICS_ADDR="127.0.0.1:0"
DATA_DIR=$(mktemp -d)
export LEPTOS_SITE_ADDR EMULATOR_ADDR WEATHER_API_ADDR METRICS_ADDR DATA_DIR
# The main flows run once more on a second instance with the Redis session store
# (end2end/playwright.config.ts starts that Redis and that instance on these ports).
E2E_REDIS_PORT=$(free_port)
E2E_REDIS_APP_PORT=$(free_port)
E2E_REDIS_DATA_DIR=$(mktemp -d)
export E2E_REDIS_PORT E2E_REDIS_APP_PORT E2E_REDIS_DATA_DIR
E2E_LOG=$(mktemp)
trap 'rm -rf "$DATA_DIR" "$E2E_REDIS_DATA_DIR" "$E2E_LOG"' EXIT
cargo leptos end-to-end --release --precompress 2>&1 | tee "$E2E_LOG"
# cargo-leptos 0.3.10 exits 0 when the release build fails, and then runs no browser test:
# the stage passes only if Playwright reported its passed tests and no failure.
if ! grep -qE '^ *[0-9]+ passed' "$E2E_LOG" || grep -qE '^ *[0-9]+ (failed|flaky)' "$E2E_LOG"; then
  echo "The release build or the browser tests failed (see above)." >&2
  exit 1
fi

stage "release bundle sizes"
scripts/bundle-size.sh

stage "all checks passed"
