#!/usr/bin/env bash
# What exporting traces costs a warm signed-in page view: the release server with traces off,
# then exporting every span (OTEL_TRACES_SAMPLER=always_on) over OTLP/HTTP to a local sink
# that reads and acknowledges each export; ROUNDS times in turn, since a 2-core machine drifts
# more between two runs than export costs. wrk on `/` as Adele; prints each run, the medians,
# their ratio, and what the sink received.
# Build first: cargo leptos build --release --precompress.
#   DURATION=10 CONNS=50 ROUNDS=3 scripts/bench/traces.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
. scripts/bench/lib.sh

WORK=$(mktemp -d)
PIDS=()
# errexit holds in traps: a sink ended by the signal must not turn a finished run into 143.
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# The sink: an OTLP/HTTP endpoint that reads each export whole and answers 200 (an empty
# ExportTraceServiceResponse), counting exports and bytes into a file.
SINK_PORT=$(free_port)
python3 - "$SINK_PORT" "$WORK/sink" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
exports = size = 0
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global exports, size
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        exports += 1; size += len(body)
        with open(out, "w") as f: f.write(f"{exports} {size}\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
PIDS+=($!)

# "req/s p50 p99" of one wrk run; a non-2xx answer spoils the comparison.
measure() {
  local figures; figures=$(wrk_figures "$@")
  [ "$(awk '{ print $4 }' <<<"$figures")" = 0 ] || { echo "non-2xx answers: $figures" >&2; exit 1; }
  awk '{ print $1, $2, $3 }' <<<"$figures"
}

# One server (embedded emulator, SQLite sessions) with $@ in its environment: the warm
# signed-in / measured, then stopped.
run() {
  local data cookie
  data=$(mktemp -d -p "$WORK")
  start_server "$data" "$@"
  # run is called as $(run ...): its own trap stops its server whatever happens.
  trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
  cookie=$(python3 scripts/bench/client.py signin "$SERVER_URL" AdeleV@contoso.onmicrosoft.com)
  curl -sf -o /dev/null -H "Cookie: $cookie" "$SERVER_URL/"
  measure -H "Cookie: $cookie" "$SERVER_URL/"
}

echo "## $(date -u +%Y-%m-%d) $(nproc) cores; warm signed-in / as Adele, wrk -t1 -c$CONNS -d${DURATION}s after a 2 s warm-up, $ROUNDS rounds"
echo
echo "| round | traces | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
offs=(); ons=()
for round in $(seq "$ROUNDS"); do
  off=$(run OTEL_SDK_DISABLED=true)
  echo "| $round | off | $(awk '{printf "%s | %s ms | %s ms", $1, $2, $3}' <<<"$off") |"
  on=$(run OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_TRACES_SAMPLER=always_on)
  echo "| $round | exported, always_on | $(awk '{printf "%s | %s ms | %s ms", $1, $2, $3}' <<<"$on") |"
  offs+=("$off"); ons+=("$on")
done
sleep 2 # the exporter's last batches
read -r exports bytes <"$WORK/sink"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column() { printf '%s\n' "${@:2}" | awk -v c="$1" '{ print $c }' | median; }
off_rps=$(column 1 "${offs[@]}"); on_rps=$(column 1 "${ons[@]}")
off_p50=$(column 2 "${offs[@]}"); on_p50=$(column 2 "${ons[@]}")
off_p99=$(column 3 "${offs[@]}"); on_p99=$(column 3 "${ons[@]}")
echo "| median | off | $off_rps | $off_p50 ms | $off_p99 ms |"
echo "| median | exported, always_on | $on_rps | $on_p50 ms | $on_p99 ms |"
echo
awk -v a="$on_rps" -v b="$off_rps" -v p="$on_p50" -v q="$off_p50" -v r="$on_p99" -v t="$off_p99" \
  'BEGIN { printf "medians, exported / off: req/s %.2f, p50 %.2f, p99 %.2f\n", a / b, p / q, r / t }'
echo "the sink received $exports exports, $((bytes / 1024)) KiB of spans"
