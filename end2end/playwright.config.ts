import path from "node:path";
import { defineConfig, type PlaywrightTestConfig } from "@playwright/test";

// The server is started by `cargo leptos end-to-end`, which sets LEPTOS_SITE_ADDR.
// The browser uses `localhost` (the app's public origin and registered redirect URI), not
// the bind address: cookies set during sign-in belong to that host.
// E2E_BASE_URL lets the tests run against a server started some other way.
const port = (process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000").split(":").pop();
const baseURL = process.env.E2E_BASE_URL ?? `http://localhost:${port}`;

// With E2E_REDIS_PORT and E2E_REDIS_APP_PORT (set by scripts/test.sh), the main flows run a
// second time against the Redis session store: a Redis server and a second instance of the
// release binary are started for them, and stopped when the run ends.
const redisPort = process.env.E2E_REDIS_PORT;
const redisAppPort = process.env.E2E_REDIS_APP_PORT;
const root = path.resolve(__dirname, "..");
const redis: Pick<PlaywrightTestConfig, "webServer" | "projects"> =
  redisPort && redisAppPort
    ? {
        webServer: [
          {
            command: `redis-server --port ${redisPort} --bind 127.0.0.1 --save '' --appendonly no`,
            port: Number(redisPort),
            reuseExistingServer: false,
          },
          {
            command: process.env.SERVER_BIN ?? path.join(root, "target/release/server"),
            cwd: root,
            url: `http://localhost:${redisAppPort}/readyz`,
            reuseExistingServer: false,
            env: {
              LEPTOS_SITE_ADDR: `127.0.0.1:${redisAppPort}`,
              LEPTOS_SITE_ROOT: "target/site",
              LEPTOS_OUTPUT_NAME: "entra-bff",
              EMULATOR_ADDR: "127.0.0.1:0",
              WEATHER_API_ADDR: "127.0.0.1:0",
              METRICS_ADDR: "127.0.0.1:0",
              DATA_DIR: process.env.E2E_REDIS_DATA_DIR ?? path.join(root, "target/e2e-redis"),
              SESSION_STORE: "redis",
              REDIS_URL: `redis://127.0.0.1:${redisPort}`,
            },
          },
        ],
        projects: [
          { name: "sqlite" },
          {
            name: "redis",
            // The flows that use the app's own server (the others start servers of their own).
            testMatch: ["sign_in.spec.ts", "call_api.spec.ts", "hydration.spec.ts"],
            use: { baseURL: `http://localhost:${redisAppPort}` },
          },
        ],
      }
    : {};

export default defineConfig({
  ...redis,
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
    baseURL,
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
