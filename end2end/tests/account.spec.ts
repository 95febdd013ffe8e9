import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { signedInAs } from "./fixtures/pages";

test("signing in from the header of any page comes back to that page", async ({ page, baseURL }) => {
  await page.goto("/diagnostics");
  await page.getByTestId("account-sign-in").click();
  await signInAtEmulator(page, ADELE);
  await expect(page).toHaveURL(`${baseURL}/diagnostics`);
});

test("the header says who is signed in on every page", async ({ page }) => {
  await signedInAs(page, ADELE, "/");
  for (const path of ["/", "/tokens", "/call-api", "/diagnostics"]) {
    await page.goto(path);
    await expect(page.getByTestId("account-name")).toHaveText("Adele Vance");
    await expect(page.getByTestId("account-detail")).toContainText(ADELE);
    await expect(page.getByTestId("account-detail")).toContainText("3dac8762-d1be-44f2-861a-a7e2aafdfc78");
  }
});

test("signing out from the header frames this app's front-channel logout, then shows signed out", async ({ page }) => {
  await signedInAs(page, ADELE, "/tokens");
  // A plain form POST, before or without any script. The identity provider's sign-out page
  // frames this app's front-channel logout URL (from its own origin, allowed by the answer's
  // frame-ancestors) before coming back.
  const frontChannel = page.waitForResponse((r) => r.url().includes("/auth/frontchannel-logout"));
  await page.getByTestId("sign-out").click();
  expect((await frontChannel).status()).toBe(200);
  await expect(page.getByTestId("account-sign-in")).toBeVisible();
});

test.describe("a session that ended", () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer({ SESSION_IDLE_TIMEOUT_SECS: "2" });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("shows as signed out on the next page, with one line saying why, once", async ({ page }) => {
    await signedInAs(page, ADELE, "/tokens", server.url);
    await expect(page.getByTestId("account-name")).toHaveText("Adele Vance");

    await page.waitForTimeout(3_000);
    await page.reload();
    await expect(page.getByTestId("account-sign-in")).toBeVisible();
    await expect(page.getByTestId("session-ended")).toContainText("unused for more than 2 s");
    await page.reload();
    await expect(page.getByTestId("account-sign-in")).toBeVisible();
    await expect(page.getByTestId("session-ended")).toHaveCount(0);
  });
});
