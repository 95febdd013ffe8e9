import { ADELE } from "./fixtures/emulator_sign_in";
import { CallApiPage, signedInAs, waitForHydration } from "./fixtures/pages";
import { expect, test } from "./fixtures/test";

// Every page works under the Content-Security-Policy (scripts by nonce, no unsafe-inline):
// it hydrates, and (checked for every test by the fixture) Chromium reports no violation and
// every response of the app carries the security headers.
test("the app hydrates under its CSP on every signed-in page", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const csp = (await page.request.get("/")).headers()["content-security-policy"];
  expect(csp).toContain("'nonce-");
  expect(csp).not.toContain("unsafe-inline");

  await signedInAs(page, ADELE, "/");
  await expect(page.getByTestId("profile")).toContainText("Adele Vance");
  await waitForHydration(page);
  for (const path of ["/tokens", "/diagnostics", "/call-api"]) {
    await page.goto(path);
    await waitForHydration(page);
  }
  const callApi = new CallApiPage(page);
  await callApi.call();
  await expect(callApi.forecasts).toHaveCount(5);
});
