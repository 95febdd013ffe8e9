import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { ProblemCard } from "./fixtures/pages";

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

test("with API_SCOPE set to Graph, sign-in works and the page explains AADSTS50013", async ({ page }) => {
  await page.goto(server.url);
  // The server started on purpose with this mistake, and says so on the page.
  await expect(page.getByTestId("config-warning")).toContainText("AADSTS50013");
  await page.getByTestId("sign-in").click();
  await signInAtEmulator(page, ADELE);
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByTestId("signed-in-as")).toContainText("Adele Vance");

  const problem = new ProblemCard(page);
  await expect(problem.root).toContainText("AADSTS50013");
  await expect(problem.cause).toContainText("The sign-in token's audience is Microsoft Graph");
  await expect(problem.fix).toContainText(
    "API_SCOPE to dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user",
  );
  expect(server.output()).toContain("AADSTS50013");

  // The diagnostics page names the mistake (details are for signed-in users).
  await page.goto(`${server.url}/diagnostics`);
  const row = page.locator('tr[data-check="Sign-in scope (OBO assertion)"]');
  await expect(row.locator(".outcome")).toHaveText("Problem");
  await expect(row).toContainText("AADSTS50013");
  await expect(page.locator('tr[data-check="Signing keys (JWKS)"] .outcome')).toHaveText("OK");
});
