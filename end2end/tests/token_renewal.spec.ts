import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer } from "./fixtures/server";

// On Entra ID a token an app requests for itself by its App ID URI is refused at refresh
// when the refresh names no scope (AADSTS90009); this app names it on every refresh, so an
// App ID URI API_SCOPE renews like the GUID form. Sign-in tokens of 4 s make every page view
// renew.
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
    expect(server.output()).not.toContain("AADSTS90009");
  } finally {
    await server.stop();
  }
});
