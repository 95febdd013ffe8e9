import { expect, test } from "./fixtures/test";
import { ADELE } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { ProblemCard, signedInAs } from "./fixtures/pages";

// The seed's mistake: the sign-in scope is Microsoft Graph's, so the sign-in token is a
// Graph token and On-Behalf-Of fails with AADSTS50013. The server starts (with a warning)
// and the page explains the failure.
let server: RunningServer;

test.beforeAll(async () => {
  server = await startServer({ API_SCOPE: "https://graph.microsoft.com/User.Read" });
});

test.afterAll(async () => {
  await server?.stop();
});

test("the server starts with the mistake, says so in its log, and the page warns of AADSTS50013", async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId("config-warning")).toContainText("AADSTS50013");
  expect(server.output()).toContain("AADSTS50013");
});

test("after sign-in, the page explains AADSTS50013: the assertion is a Graph token, and the fix", async ({ page }) => {
  await signedInAs(page, ADELE, "/", server.url);
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByTestId("signed-in-as")).toContainText("Adele Vance");

  const problem = new ProblemCard(page);
  await expect(problem.root).toContainText("AADSTS50013");
  await expect(problem.cause).toContainText("The sign-in token's audience is Microsoft Graph");
  await expect(problem.fix).toContainText(
    "API_SCOPE to dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user",
  );
});

test("the diagnostics page names the sign-in scope as the problem (details for signed-in users)", async ({ page }) => {
  await signedInAs(page, ADELE, "/diagnostics", server.url);
  const row = page.locator('tr[data-check="Sign-in scope (OBO assertion)"]');
  await expect(row.locator(".outcome")).toHaveText("Problem");
  await expect(row).toContainText("AADSTS50013");
  await expect(page.locator('tr[data-check="Signing keys (JWKS)"] .outcome')).toHaveText("OK");
});
