import { expect, test, type Page } from "@playwright/test";
import { signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer } from "./fixtures/server";

const MEGAN = "MeganB@contoso.onmicrosoft.com";
const ALEX = "AlexW@contoso.onmicrosoft.com";

async function signInAndCall(page: Page, upn: string, baseURL: string, origin = "") {
  await page.goto(`${origin}/call-api`);
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, upn);
  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("call-api").click();
}

test("Megan: the MFA policy is explained, Continue asks for the code, then the call succeeds", async ({ page, baseURL }) => {
  await signInAndCall(page, MEGAN, baseURL!);
  const problem = page.getByTestId("problem");
  await expect(problem).toContainText("AADSTS50076");
  await expect(problem.getByTestId("problem-meaning")).toContainText("multi-factor authentication");

  await problem.getByRole("link", { name: "Continue" }).click();
  await page.getByLabel("Code").fill("123456");
  await page.getByRole("button", { name: "Verify" }).click();

  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
});

test("Alex: consent to the downstream API is asked at sign-in, so the first call succeeds", async ({ page, baseURL }) => {
  await page.goto("/call-api");
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, ALEX);
  const consent = page.getByRole("heading", { name: "Permissions requested" });
  await expect(consent).toBeVisible();
  await expect(page.locator("#scopes")).toContainText("Weather.Read");
  await page.getByRole("button", { name: "Accept" }).click();

  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
});

test("Alex, consent at sign-in off: missing consent is explained, Review permissions shows consent, then the call succeeds", async ({ page }) => {
  // As for an API added after users signed in: its consent is missing when OBO runs.
  const server = await startServer({ ASK_CONSENT_AT_SIGN_IN: "false" });
  try {
    await signInAndCall(page, ALEX, server.url, server.url);
    await expectConsentRoundTrip(page, server.url);
  } finally {
    await server.stop();
  }
});

async function expectConsentRoundTrip(page: Page, baseURL: string) {
  const problem = page.getByTestId("problem");
  await expect(problem).toContainText("AADSTS65001");

  await problem.getByRole("link", { name: "Review permissions" }).click();
  await expect(page.getByRole("heading", { name: "Permissions requested" })).toBeVisible();
  await page.getByRole("button", { name: "Accept" }).click();

  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
}
