import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer } from "./fixtures/server";
import { ProblemCard } from "./fixtures/pages";

// On Entra ID a token an app requests for itself is refreshed only when the resource is
// named by the app's GUID (AADSTS90009 otherwise), about an hour after sign-in. The
// emulator refuses it the same way; sign-in tokens of 4 s make every page view renew.
const CLIENT_ID = "dd1d6603-7fe3-411d-b985-091f1cf1c698";

test("with an App ID URI API_SCOPE, the renewed sign-in token keeps the page working", async ({ page }) => {
  const server = await startServer({ API_SCOPE: `api://${CLIENT_ID}/access_as_user` });
  try {
    await server.admin("lifetimes", { access_token: 4 });
    await page.goto(server.url);
    await page.getByTestId("sign-in").click();
    await signInAtEmulator(page, ADELE);
    await expect(page.getByTestId("profile")).toContainText("Adele Vance");
    // Past the token's life: the next page view renews it and still shows the profile.
    await page.waitForTimeout(4_500);
    await page.reload();
    await expect(page.getByTestId("profile")).toContainText("Adele Vance");
    expect(server.output()).toContain("refreshed the sign-in token");
    expect(server.output()).toContain(`using ${CLIENT_ID}/access_as_user instead`);
  } finally {
    await server.stop();
  }
});

test("with the App ID URI forced, the first renewal explains AADSTS90009 and the fix", async ({ page }) => {
  const server = await startServer({
    API_SCOPE: `api://${CLIENT_ID}/access_as_user`,
    API_SCOPE_KEEP_APP_ID_URI: "true",
  });
  try {
    await server.admin("lifetimes", { access_token: 4 });
    await page.goto(server.url);
    await page.getByTestId("sign-in").click();
    await signInAtEmulator(page, ADELE);
    await expect(page.getByTestId("signed-in-as")).toContainText("Adele Vance");

    const problem = new ProblemCard(page);
    await expect(problem.root).toContainText("AADSTS90009");
    await expect(problem.cause).toContainText(`api://${CLIENT_ID}/access_as_user`);
    await expect(problem.fix).toContainText(`API_SCOPE=${CLIENT_ID}/access_as_user`);
  } finally {
    await server.stop();
  }
});
