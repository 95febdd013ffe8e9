import path from "node:path";
import { defineConfig, type PlaywrightTestConfig } from "@playwright/test";

// Playwright starts the servers under test itself, waits until each answers /readyz, and
// stops them when the run ends: the app (release build, SQLite session store) on
// LEPTOS_SITE_ADDR's port and, with E2E_REDIS_PORT and E2E_REDIS_APP_PORT (set by
// scripts/test.sh, which picks free ports), a Redis server and a second instance on the Redis
// session store, for the main flows a second time. Each instance starts on an empty data
// directory (target/e2e/<name>, so that consent given in an earlier run changes nothing) and
// writes its log next to it (target/e2e/<name>.log), which scripts/test.sh prints on a failure.
// The browser uses `localhost` (the app's public origin and registered redirect URI), not the
// bind address: cookies set during sign-in belong to that host.
// E2E_BASE_URL runs the tests against a server started some other way (none is started then).
const root = path.resolve(__dirname, "..");
const serverBin = process.env.SERVER_BIN ?? path.join(root, "target/release/server");
const port = (process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000").split(":").pop();
const redisPort = process.env.E2E_REDIS_PORT;
const redisAppPort = process.env.E2E_REDIS_APP_PORT;

type WebServer = Exclude<NonNullable<PlaywrightTestConfig["webServer"]>, unknown[]>;

/**
 * An instance of the release binary on `port`, its emulator and Weather API on free ports. It
 * sees only the variables given here (`env -i`): a shell's AZURE_AD_*, OTEL_* or RUST_LOG must
 * not point the tests at a real tenant or change what the app does.
 */
function app(name: string, port: string, env: Record<string, string> = {}): WebServer {
  const dir = path.join(root, "target/e2e", name);
  const vars = Object.entries({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: "target/site",
    LEPTOS_OUTPUT_NAME: "entra-bff",
    EMULATOR_ADDR: "127.0.0.1:0",
    WEATHER_API_ADDR: "127.0.0.1:0",
    METRICS_ADDR: "127.0.0.1:0",
    DATA_DIR: dir,
    ...env,
  }).map(([name, value]) => `${name}='${value}'`);
  return {
    command: `rm -rf '${dir}' && mkdir -p '${dir}' && exec env -i ${vars.join(" ")} '${serverBin}' > '${dir}.log' 2>&1`,
    cwd: root,
    url: `http://localhost:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
  };
}

const servers: WebServer[] = [];
const projects: PlaywrightTestConfig["projects"] = [{ name: "sqlite" }];
if (!process.env.E2E_BASE_URL) servers.push(app("sqlite", port!));
if (redisPort && redisAppPort) {
  servers.push(
    {
      command: `redis-server --port ${redisPort} --bind 127.0.0.1 --save '' --appendonly no`,
      port: Number(redisPort),
      reuseExistingServer: false,
    },
    app("redis", redisAppPort, {
      SESSION_STORE: "redis",
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    }),
  );
  projects.push({
    name: "redis",
    // The flows that use the app's own server (the others start servers of their own).
    testMatch: ["sign_in.spec.ts", "call_api.spec.ts", "hydration.spec.ts"],
    use: { baseURL: `http://localhost:${redisAppPort}` },
  });
}

export default defineConfig({
  webServer: servers,
  projects,
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  // One browser at a time: the machine has two cores and one server under test.
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.E2E_BASE_URL ?? `http://localhost:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's chromium: Playwright's own browser downloads are not reachable here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
});
