# Sourced by the benchmarks (scripts/bench.sh, scripts/bench/traces.sh): the release server
# started on free loopback ports, and one wrk measurement.

command -v wrk >/dev/null || { echo "wrk is needed (Debian: apt-get install wrk)" >&2; exit 1; }
[ -x target/release/server ] || { echo "build first: cargo leptos build --release --precompress" >&2; exit 1; }

SERVER_PID=
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server DATA_DIR [NAME=VALUE ...]: the release server (embedded emulator and Weather API,
# SQLite sessions in DATA_DIR, its log in DATA_DIR/server.log) with the given variables, and
# rate limits out of the way; returns once it answers. Sets SERVER_PID, SERVER_URL,
# SERVER_EMULATOR, SERVER_WEATHER (host:port) and SERVER_METRICS (port).
start_server() {
  local data=$1; shift
  local port; port=$(free_port)
  SERVER_METRICS=$(free_port)
  SERVER_EMULATOR="127.0.0.1:$(free_port)"
  SERVER_WEATHER="127.0.0.1:$(free_port)"
  SERVER_URL="http://localhost:$port"
  env "$@" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=entra-bff \
    EMULATOR_ADDR="$SERVER_EMULATOR" WEATHER_API_ADDR="$SERVER_WEATHER" \
    METRICS_ADDR="127.0.0.1:$SERVER_METRICS" DATA_DIR="$data" RUST_LOG=warn \
    AUTH_RATE_LIMIT_BURST=100000 AUTH_RATE_LIMIT_PER_MINUTE=1000000 \
    target/release/server >"$data/server.log" 2>&1 &
  SERVER_PID=$!
  until curl -sf -o /dev/null "$SERVER_URL/healthz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
    sleep 0.005
  done
}

# wrk_figures WRK_ARGS...: one run of DURATION seconds with CONNS connections after a 2 s
# warm-up; prints "req/s p50 p99 non-2xx" (latencies in ms, non-2xx 0 when every answer was).
wrk_figures() {
  wrk -t1 -c"$CONNS" -d2s "$@" >/dev/null
  wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
    / Non-2xx or 3xx responses: / { bad = $NF }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }'
}
