import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { expect, test } from "./fixtures/test";

// Every page works under the Content-Security-Policy (scripts by nonce, no unsafe-inline):
// it hydrates, and (checked for every test by the fixture) Chromium reports no violation and
// every response of the app carries the security headers.
test("the app hydrates under its CSP on every signed-in page", async ({ page }) => {
  const hydrated = () => expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.goto("/");
  await hydrated();
  const csp = (await page.request.get("/")).headers()["content-security-policy"];
  expect(csp).toContain("'nonce-");
  expect(csp).not.toContain("unsafe-inline");

  await page.getByTestId("sign-in").click();
  await signInAtEmulator(page, ADELE);
  await expect(page.getByTestId("profile")).toContainText("Adele Vance");
  await hydrated();
  for (const path of ["/tokens", "/diagnostics", "/call-api"]) {
    await page.goto(path);
    await hydrated();
  }
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
});
