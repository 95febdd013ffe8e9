import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { ADELE, ALEX, MEGAN } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { CallApiPage, ProblemCard, signedInAs, waitForHydration } from "./fixtures/pages";

/** Signs in from the Call API page of `origin` ("" for the default server). */
async function signInFromCallApi(page: Page, upn: string, origin = "") {
  await signedInAs(page, upn, "/call-api", origin);
}

async function callSucceeds(page: Page, baseURL: string) {
  // Back on the page the step started from (`?call=1` when it started at a call).
  await expect(page).toHaveURL(new RegExp(`^${baseURL}/call-api(\\?call=1)?$`));
  await waitForHydration(page);
  const callApi = new CallApiPage(page);
  await callApi.call();
  await expect(callApi.forecasts).toHaveCount(5);
}

// By default the sign-in names the downstream API too: its consent and its Conditional
// Access step happen at sign-in, and the first call succeeds.
test.describe("asked at sign-in", () => {
  test("Alex consents to the Weather API at sign-in, and the first call succeeds", async ({ page, baseURL }) => {
    await signInFromCallApi(page, ALEX);
    await expect(page.getByRole("heading", { name: "Permissions requested" })).toBeVisible();
    await expect(page.locator("#scopes")).toContainText("Weather.Read");
    await page.getByRole("button", { name: "Accept" }).click();
    await callSucceeds(page, baseURL!);
  });

  test("Megan does MFA at sign-in, and the first call succeeds", async ({ page, baseURL }) => {
    await signInFromCallApi(page, MEGAN);
    await page.getByLabel("Code").fill("123456");
    await page.getByRole("button", { name: "Verify" }).click();
    await callSucceeds(page, baseURL!);
  });
});

// With consent at sign-in off (or an API added after users signed in), On-Behalf-Of meets
// the missing consent or MFA, the page explains it, and its action fixes it.
test.describe("asked when On-Behalf-Of needs it", () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer({ ASK_CONSENT_AT_SIGN_IN: "false" });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("Megan: the MFA policy is explained, Continue asks for the code, then the call succeeds", async ({ page }) => {
    await signInFromCallApi(page, MEGAN, server.url);
    await waitForHydration(page);
    await page.getByTestId("call-api").click();
    const problem = new ProblemCard(page);
    await expect(problem.root).toContainText("AADSTS50076");
    await expect(problem.meaning).toContainText("multi-factor authentication");

    await problem.action("Continue").click();
    await page.getByLabel("Code").fill("123456");
    await page.getByRole("button", { name: "Verify" }).click();
    await callSucceeds(page, server.url);
  });

  test("Alex: missing consent is explained, Review permissions shows consent, then the call succeeds", async ({ page }) => {
    await signInFromCallApi(page, ALEX, server.url);
    await waitForHydration(page);
    await page.getByTestId("call-api").click();
    const problem = new ProblemCard(page);
    await expect(problem.root).toContainText("AADSTS65001");

    await problem.action("Review permissions").click();
    await expect(page.getByRole("heading", { name: "Permissions requested" })).toBeVisible();
    await page.getByRole("button", { name: "Accept" }).click();
    await callSucceeds(page, server.url);
  });
});

// The Weather API asks for the authentication context c1 (a Contoso policy: MFA). The first
// call gets its claims challenge; the exchange with the claims needs MFA the sign-in lacks;
// one MFA step later the call succeeds and its token carries acrs c1: no loop.
test.describe("an API that asks for an authentication context", () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer({ WEATHER_API_AUTH_CONTEXT: "c1" });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("Adele: one MFA step, then the call succeeds with acrs c1 in its token", async ({ page }) => {
    await signInFromCallApi(page, ADELE, server.url);
    await waitForHydration(page);
    await page.getByTestId("call-api").click();
    const problem = new ProblemCard(page);
    await expect(problem.root).toContainText("AADSTS50076");

    await problem.action("Continue").click();
    await page.getByLabel("Code").fill("123456");
    await page.getByRole("button", { name: "Verify" }).click();
    await callSucceeds(page, server.url);
    const callApi = new CallApiPage(page);
    await expect(callApi.token().locator('tr[data-claim="acrs"]')).toContainText("c1");
  });
});
