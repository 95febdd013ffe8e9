#!/usr/bin/env bash
# Page-view costs of the release server, measured from outside its process with wrk: in one
# run, on one server (embedded emulator, SQLite sessions, free loopback ports):
#   - start time of the binary to its first 200, and its RSS when idle;
#   - signed-out /, warm signed-in / (Adele), a static asset and /healthz: req/s, p50, p99;
#   - the Weather API through the downstream proxy, and called directly with a token;
#   - the warm signed-in / again with 1,000 and 100,000 sessions stored, then with 1 again
#     (the machine's drift over the run);
#   - RSS (peak) under that load, and after USERS more users signed in and viewed / once,
#     with the bytes each active session costs.
# Build first: cargo leptos build --release --precompress.
#   DURATION=10 CONNS=50 USERS=10000 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
USERS=${USERS:-10000}
. scripts/bench/lib.sh

DATA=$(mktemp -d)
trap 'kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
started=$(date +%s%N)
start_server "$DATA"
first_200=$(( ($(date +%s%N) - started) / 1000000 ))
PID=$SERVER_PID BASE=$SERVER_URL EMULATOR=$SERVER_EMULATOR WEATHER=$SERVER_WEATHER METRICS=$SERVER_METRICS
sleep 1
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$PID/status"; }
mib() { awk -v k="$1" '{printf "%.1f", k / 1024}' <<<"$1"; }
idle=$(kib VmRSS)

# One table row: req/s, p50 and p99 of one wrk run.
measure() {
  local label=$1; shift
  wrk_figures "$@" | awk -v label="$label" \
    '{ printf "| %s | %s | %s ms | %s ms |%s\n", label, $1, $2, $3, ($4 ? " " $4 " non-2xx!" : "") }'
}

cookie=$(python3 scripts/bench/client.py signin "$BASE" AdeleV@contoso.onmicrosoft.com)
curl -sf -o /dev/null -H "Cookie: $cookie" "$BASE/"
css=$(basename "$(ls target/site/pkg/entra-bff*.css | head -1)")

echo "## $(date -u +%Y-%m-%d) $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk -t1 -c$CONNS -d${DURATION}s after a 2 s warm-up"
echo
echo "start to first 200: $first_200 ms; RSS idle: $(mib "$idle") MiB"
echo
echo "| what | req/s | p50 | p99 |"
echo "|---|---|---|---|"
measure "signed-out /" "$BASE/"
measure "warm signed-in / (1 stored session)" -H "Cookie: $cookie" "$BASE/"
measure "static asset (/pkg/$css, brotli)" -H "Accept-Encoding: br" "$BASE/pkg/$css"
measure "/healthz" "$BASE/healthz"
# The downstream proxy (OBO token from the cache) against the same API called directly.
proxy=(-H "Cookie: $cookie" -H "x-csrf: 1" -H "Sec-Fetch-Site: same-origin")
measure "GET /api/downstream/weather/weatherforecast (proxy)" "${proxy[@]}" "$BASE/api/downstream/weather/weatherforecast"
token=$(python3 scripts/bench/client.py token "http://$EMULATOR" api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Weather.Read AdeleV@contoso.onmicrosoft.com)
measure "GET /weatherforecast at the Weather API (direct)" -H "Authorization: Bearer $token" "http://$WEATHER/weatherforecast"
python3 scripts/bench/client.py fill "$DATA/sessions.sqlite3" 999
measure "warm signed-in / (1,000 stored sessions)" -H "Cookie: $cookie" "$BASE/"
python3 scripts/bench/client.py fill "$DATA/sessions.sqlite3" 99000
measure "warm signed-in / (100,000 stored sessions)" -H "Cookie: $cookie" "$BASE/"
# The same view with the rows gone again: what the machine drifted meanwhile.
python3 scripts/bench/client.py unfill "$DATA/sessions.sqlite3"
measure "warm signed-in / (1 stored session, again)" -H "Cookie: $cookie" "$BASE/"
peak=$(kib VmHWM)
before=$(kib VmRSS)
took=$(python3 scripts/bench/client.py signins "$BASE" "$USERS" 4)
after=$(kib VmRSS)
metrics=$(curl -sf "http://127.0.0.1:$METRICS/metrics")
obo_bytes=$(awk '$1 == "bff_obo_cache_bytes" {print $2}' <<<"$metrics")
obo_entries=$(awk '$1 == "bff_obo_cache_entries" {print $2}' <<<"$metrics")
profile_bytes=$(awk '$1 == "bff_profile_cache_bytes" {print $2}' <<<"$metrics")
profile_entries=$(awk '$1 == "bff_profile_cache_entries" {print $2}' <<<"$metrics")
echo
echo "RSS peak under load: $(mib "$peak") MiB"
echo "$USERS users signed in and viewed / once (${took} s): RSS $(mib "$before") -> $(mib "$after") MiB," \
  "$(( (after - before) * 1024 / USERS )) bytes per active session;" \
  "OBO cache $obo_entries entries, $obo_bytes bytes (one per user and resource: 3 users here);" \
  "profile cache $profile_entries entries, $profile_bytes bytes ($(( profile_bytes / USERS )) bytes per session)"
