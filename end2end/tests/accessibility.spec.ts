import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { ADELE, ALEX, MEGAN, PASSWORD } from "./fixtures/emulator_sign_in";
import { waitForHydration } from "./fixtures/pages";

// Every page, the emulator's too, at phone width: WCAG 2.1 A/AA by axe-core with no
// violation, no sideways scrolling, and no console error or warning.
test.use({ viewport: { width: 375, height: 800 } });

function watchConsole(page: Page): string[] {
  const messages: string[] = [];
  page.on("console", (m) => {
    // Chromium reports the 404 page's own status as a failed load: that one is the point.
    const expected404 = m.text().includes("status of 404") && m.location().url.endsWith("/no-such-page");
    if ((m.type() === "error" || m.type() === "warning") && !expected404) {
      messages.push(`${m.type()}: ${m.text()} (${page.url()})`);
    }
  });
  page.on("pageerror", (e) => messages.push(`pageerror: ${e.message} (${page.url()})`));
  return messages;
}

async function check(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const violations = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  expect(violations, `axe on ${label}`).toEqual([]);
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
  }));
  expect(scroll, `${label} scrolls sideways at ${width} px`).toBeLessThanOrEqual(width);
}

test("every page of the app and the emulator passes axe at 375 px", async ({ page, browser, baseURL }) => {
  test.setTimeout(90_000); // axe on eleven pages
  const consoleMessages = watchConsole(page);
  await page.goto("/no-such-page");
  await check(page, "404");
  await page.goto("/");
  await check(page, "home, signed out");

  await page.getByTestId("account-sign-in").click();
  await check(page, "emulator: username");
  await page.getByLabel("Email, phone, or Skype").fill(ADELE);
  await page.getByRole("button", { name: "Next" }).click();
  await check(page, "emulator: password");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
  await check(page, "home, signed in");

  for (const path of ["/tokens", "/call-api?call=1", "/diagnostics"]) {
    await page.goto(path);
    await waitForHydration(page);
    await check(page, path);
  }

  // The emulator's MFA and consent pages, in browsers of their own.
  for (const [upn, heading] of [
    [MEGAN, "Enter code"],
    [ALEX, "Permissions requested"],
  ]) {
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
    const other = await context.newPage();
    consoleMessages.push(...watchConsole(other));
    await other.goto(`${baseURL}/auth/login?return_to=/`);
    await other.getByLabel("Email, phone, or Skype").fill(upn);
    await other.getByRole("button", { name: "Next" }).click();
    await other.getByLabel("Password").fill(PASSWORD);
    await other.getByRole("button", { name: "Sign in" }).click();
    await expect(other.getByRole("heading", { name: heading })).toBeVisible();
    await check(other, `emulator: ${heading}`);
    await context.close();
  }

  await page.goto("/");
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("account-sign-in")).toBeVisible();
  expect(consoleMessages, "console errors and warnings").toEqual([]);
});
