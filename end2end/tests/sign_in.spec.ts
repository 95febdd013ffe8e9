import { expect, test } from "./fixtures/test";
import { ADELE, COMPACT_JWT, recordAppResponses, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { HomePage } from "./fixtures/home_page";
import { TokensPage, signedInAs } from "./fixtures/pages";

test("Adele signs in from the hydrated home page and sees her Graph profile", async ({ page, baseURL }) => {
  const home = new HomePage(page);
  await home.goto();
  await home.waitForHydration();

  await page.getByTestId("sign-in").click();
  await signInAtEmulator(page, ADELE);

  // Back home: the profile card comes from Graph /me via the OBO token.
  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
  await expect(page.getByTestId("profile-upn")).toHaveText(ADELE);
  await expect(page.getByTestId("profile-job")).not.toHaveText("");
});

test("the token view decodes the sign-in and Graph tokens and explains their claims", async ({ page }) => {
  await signedInAs(page, ADELE, "/tokens");
  const tokens = new TokensPage(page);
  const signIn = tokens.token("SignIn");
  await expect(signIn).toBeVisible();
  await expect(signIn.locator('tr[data-claim="aud"]')).toContainText("dd1d6603-7fe3-411d-b985-091f1cf1c698");
  await expect(signIn.locator('tr[data-claim="scp"]')).toContainText("access_as_user");
  await expect(signIn.locator('tr[data-claim="tid"]')).toContainText("3dac8762-d1be-44f2-861a-a7e2aafdfc78");
  const graph = tokens.token("Graph");
  await expect(graph.locator('tr[data-claim="aud"]')).toContainText("graph.microsoft.com");
  await expect(graph.getByTestId("verification")).toContainText("Cannot be verified by anyone but Microsoft Graph");
});

test("a token's expiry counts down live once the page has hydrated", async ({ page }) => {
  await signedInAs(page, ADELE, "/tokens");
  const countdown = new TokensPage(page).token("SignIn").locator('tr[data-claim="exp"] .countdown');
  const first = await countdown.textContent();
  await expect(countdown).not.toHaveText(first!, { timeout: 3_000 });
});

test("no token reaches the page, a response or a cookie, and every cookie is HttpOnly", async ({ page, context, baseURL }) => {
  const responses = recordAppResponses(page, baseURL!);
  await signedInAs(page, ADELE, "/");
  await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
  await new TokensPage(page).goto();
  await expect(page.getByTestId("token-Graph")).toBeVisible();

  expect(COMPACT_JWT.test(await page.content())).toBe(false);
  await responses.assertNoJwt();
  const cookies = await context.cookies();
  expect(cookies.length).toBeGreaterThan(0);
  for (const cookie of cookies) {
    expect(cookie.httpOnly, `cookie ${cookie.name} must be HttpOnly`).toBe(true);
    expect(COMPACT_JWT.test(cookie.value)).toBe(false);
  }
});

test("signing out goes through the emulator's end-session page and back home, signed out", async ({ page, baseURL }) => {
  await signedInAs(page, ADELE, "/");
  await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
  await page.getByTestId("sign-out").click();
  await expect(page.getByTestId("sign-in")).toBeVisible();
  await expect(page).toHaveURL(`${baseURL}/`);
});

test("a signed-out visit to the token view offers sign-in and returns there", async ({ page, baseURL }) => {
  await page.goto("/tokens");
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, ADELE);
  await expect(page).toHaveURL(`${baseURL}/tokens`);
  await expect(page.getByTestId("token-IdToken")).toBeVisible();
});
