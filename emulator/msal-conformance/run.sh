#!/usr/bin/env bash
# MSAL Node conformance: starts the entra-emulator binary over HTTPS on a free loopback port,
# then runs `node --test` with NODE_EXTRA_CA_CERTS pointing at the emulator's certificate.
# Usage: emulator/msal-conformance/run.sh [path/to/entra-emulator]   (or ENTRA_EMULATOR_BIN)
# Builds nothing; runs `npm ci` when node_modules is missing. Exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${1:-${ENTRA_EMULATOR_BIN:-}}"
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "usage: $0 PATH_TO_entra-emulator (or set ENTRA_EMULATOR_BIN)" >&2
  exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
cd "$here"
if [[ ! -d node_modules/@azure/msal-node ]]; then
  npm ci --no-audit --no-fund
fi
work="$(mktemp -d)"
emu_pid=""
cleanup() {
  if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" --addr 127.0.0.1:0 --tls-cert-out "$work/cert.pem" --data-dir "$work/data" >"$work/out.log" 2>"$work/err.log" &
emu_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^Entra ID emulator listening on \(https:\/\/[^ ]*\)$/\1/p' "$work/out.log" | head -n1)"
  [[ -n "$url" ]] && break
  if ! kill -0 "$emu_pid" 2>/dev/null; then cat "$work/err.log" >&2; echo "emulator exited" >&2; exit 1; fi
  sleep 0.1
done
if [[ -z "$url" ]]; then cat "$work/err.log" >&2; echo "emulator did not start" >&2; exit 1; fi
echo "emulator at $url"
EMULATOR_URL="$url" NODE_EXTRA_CA_CERTS="$work/cert.pem" node --test test/
