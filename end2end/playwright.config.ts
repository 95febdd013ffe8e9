import { defineConfig } from "@playwright/test";

// The server is started by `cargo leptos end-to-end`, which sets LEPTOS_SITE_ADDR.
// The browser uses `localhost` (the app's public origin and registered redirect URI), not
// the bind address: cookies set during sign-in belong to that host.
// E2E_BASE_URL lets the tests run against a server started some other way.
const port = (process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000").split(":").pop();
const baseURL = process.env.E2E_BASE_URL ?? `http://localhost:${port}`;

export default defineConfig({
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
