#!/usr/bin/env bash
# Installs what the run and test commands need, skipping whatever is already there.
# Safe to run again and again; reaches only crates.io, npm and Debian's package archive.
#
#   scripts/setup.sh          tools for building and running (`scripts/dev.sh`)
#   scripts/setup.sh --test   the same, plus chromium and what the tests use
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

CARGO_LEPTOS_VERSION=0.3.10
# The CLI must be exactly the wasm-bindgen crate version the lockfile resolved.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  step "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 14 minutes on 2 cores, once)"
  # no_downloads: cargo-leptos must not fetch wasm-bindgen/wasm-opt/sass from GitHub
  # (unreachable here); it uses the ones on PATH instead.
  cargo install --locked "cargo-leptos@$CARGO_LEPTOS_VERSION" --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
  # Not --locked: its lockfile pins a crate version this registry lacks.
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# The npm packages: Playwright, and binaryen 132's wasm-opt for release builds
# (Debian's binaryen 108 produces a WASM that fails at hydration).
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "Installing the end2end npm packages"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# `cargo leptos build --release` runs wasm-opt from PATH: binaryen 132's, installed once
# outside any checkout (a link into a checkout dangles when that checkout is deleted) and
# linked into cargo's bin directory (on PATH in every shell rustup set up).
BINARYEN_VERSION=$(node -p 'require("./end2end/package.json").devDependencies.binaryen')
BINARYEN_HOME="${XDG_DATA_HOME:-$HOME/.local/share}/entra-bff/binaryen-$BINARYEN_VERSION"
if [ ! -x "$BINARYEN_HOME/node_modules/.bin/wasm-opt" ]; then
  step "Installing binaryen $BINARYEN_VERSION (wasm-opt) into $BINARYEN_HOME"
  npm install --prefix "$BINARYEN_HOME" --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION"
fi
if [ "$(readlink -f "$HOME/.cargo/bin/wasm-opt" 2>/dev/null)" != "$(readlink -f "$BINARYEN_HOME/node_modules/.bin/wasm-opt")" ]; then
  step "Linking wasm-opt (binaryen $BINARYEN_VERSION) into ~/.cargo/bin"
  ln -sf "$BINARYEN_HOME/node_modules/.bin/wasm-opt" "$HOME/.cargo/bin/wasm-opt"
fi
found=$(command -v wasm-opt || true)
if [ -n "$found" ] && [ "$(readlink -f "$found")" != "$(readlink -f "$BINARYEN_HOME/node_modules/.bin/wasm-opt")" ]; then
  echo "warning: $found comes before ~/.cargo/bin on PATH; put ~/.cargo/bin first, or a plain" >&2
  echo "         cargo leptos build --release uses that wasm-opt (Debian's 108 breaks hydration)." >&2
fi

if $want_test; then
  # Debian's packages: chromium for the browser tests, redis-server for the scale-out tests
  # (the tests start their own servers on free ports; no system service is used).
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  have redis-server || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing Debian's ${missing[*]} for the tests"
    apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
    apt_get update -qq
    DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}"
    # The package starts a system Redis on 6379; the tests never use it.
    if have systemctl && systemctl is-active --quiet redis-server 2>/dev/null; then
      if [ "$(id -u)" = 0 ]; then systemctl disable --now redis-server || true; else sudo systemctl disable --now redis-server || true; fi
    fi
  fi
fi
