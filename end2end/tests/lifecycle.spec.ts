import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { ProblemCard, waitForHydration } from "./fixtures/pages";

// Each test has its own server and emulator: they change the emulator's lifetimes,
// revoke sessions and inject faults.
let server: RunningServer;

test.beforeEach(async () => {
  server = await startServer({});
});

test.afterEach(async () => {
  await server?.stop();
});

test("a revoked session says so and signs in again back to the same page", async ({ page }) => {
  await server.admin("lifetimes", { access_token: 4 });
  await page.goto(`${server.url}/tokens`);
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, ADELE);
  await expect(page.getByTestId("token-IdToken")).toBeVisible();

  await server.admin(`users/${ADELE}/revoke`);
  await page.reload();
  const problem = new ProblemCard(page);
  await expect(problem.cause).toContainText("Your session has expired");
  await problem.action("Sign in again").click();
  if (await page.getByLabel("Email, phone, or Skype").isVisible()) {
    await signInAtEmulator(page, ADELE);
  }
  await expect(page).toHaveURL(`${server.url}/tokens`);
  await expect(page.getByTestId("token-Graph")).toBeVisible();
});

test("an identity-provider outage shows Try again, and the retry works", async ({ page }) => {
  await page.goto(`${server.url}/call-api`);
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, ADELE);
  await waitForHydration(page);

  await server.admin("faults", {
    endpoint: "token",
    kind: { type: "status", code: 503, retry_after: 1 },
    count: 1,
  });
  await page.getByTestId("call-api").click();
  const problem = new ProblemCard(page);
  await expect(problem.root).toContainText("The identity provider is unavailable");
  await expect(problem.fix).toContainText("still signed in");

  await problem.root.getByRole("button", { name: "Try again" }).click();
  await waitForHydration(page);
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
});
