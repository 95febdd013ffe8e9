import { expect, test } from "./fixtures/test";
import { HomePage } from "./fixtures/home_page";

test("the server renders the home page before any script runs", async ({ request }) => {
  const response = await request.get("/");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain("Sign in with Microsoft Entra ID");
  // The panel is closed on the server: it only opens through the hydrated button.
  expect(html).not.toContain('data-testid="how-it-works-panel"');
  // The content-hashed WASM (preloaded, then loaded for the islands).
  expect(html).toMatch(/\/pkg\/entra-bff\.[A-Za-z0-9_-]+\.wasm/);
});

test("the button works once the WASM has hydrated the page", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });

  const home = new HomePage(page);
  await home.goto();
  await home.waitForHydration();
  await expect(home.heading).toHaveText("Sign in with Microsoft Entra ID");

  await home.howItWorks.click();
  await expect(home.howItWorksPanel).toBeVisible();
  await expect(home.howItWorks).toHaveAttribute("aria-expanded", "true");

  await home.howItWorks.click();
  await expect(home.howItWorksPanel).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("an unknown path answers 404 with a way home", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("link", { name: "Go to the home page" })).toBeVisible();
});
