import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";

// Pages carry their data in the HTML (rendered with SsrMode::Async) and every action is a
// link or a form: the whole flow works with scripts off, and nothing waits for a script.
test.use({ javaScriptEnabled: false });

test("with JavaScript off: sign in, profile, tokens, Call API and sign out all work", async ({ page, baseURL }) => {
  await page.goto("/");
  await page.getByTestId("sign-in").click();
  await signInAtEmulator(page, ADELE);

  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
  await expect(page.getByTestId("profile-read")).toContainText("Read from Microsoft Graph");
  await expect(page.getByText("Loading your session")).toHaveCount(0);

  await page.getByRole("link", { name: "Tokens" }).click();
  await expect(page.getByTestId("token-SignIn").locator('tr[data-claim="scp"]')).toContainText("access_as_user");
  // The countdown is server-rendered text until a script runs.
  await expect(page.getByTestId("token-SignIn").locator('tr[data-claim="exp"] .countdown')).toContainText("in ");

  await page.getByRole("link", { name: "Call API" }).click();
  await page.getByTestId("call-api").click();
  await expect(page.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);

  await page.getByRole("link", { name: "Diagnostics" }).click();
  await expect(page.getByTestId("checks")).toBeVisible();

  await page.getByRole("link", { name: "Home" }).click();
  await page.getByTestId("sign-out").click();
  // The identity provider's sign-out page frames the apps' front-channel logout URLs and
  // goes on by script; without one, its Continue link does.
  await page.getByRole("link", { name: "Continue" }).click();
  await expect(page.getByTestId("sign-in")).toBeVisible();
});
