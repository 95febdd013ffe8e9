import { expect, test } from "@playwright/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";

// Every page works under the Content-Security-Policy (scripts by nonce, no unsafe-inline):
// it hydrates, and Chromium reports no violation; every response of the app carries the
// security headers.
test("the app hydrates under its CSP, no violation is reported, every response has the headers", async ({ page, baseURL }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  const missing: string[] = [];
  page.on("response", (response) => {
    if (!response.url().startsWith(baseURL!)) return;
    const headers = response.headers();
    for (const name of ["x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"]) {
      if (!headers[name]) missing.push(`${name} on ${response.url()}`);
    }
  });

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

  expect(violations).toEqual([]);
  expect(missing).toEqual([]);
});
