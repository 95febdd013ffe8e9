import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { ADELE, ALEX } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";
import { ProblemCard, signedInAs } from "./fixtures/pages";

// Who may use the app: the built-in world's roles and groups (emulator/README.md). Patti is in
// 250 groups, so her token carries the overage marker and her groups come from Graph.
const PATTI = "PattiF@contoso.onmicrosoft.com";
const PATTIS_READERS_GROUP = "e7138f65-8192-43a4-8e5f-60718293a4b5";

/** Signs `upn` in, accepting the consent page the first sign-in shows (the Weather API). */
async function signedInConsenting(page: Page, upn: string, origin: string) {
  await signedInAs(page, upn, "/", origin);
  await page.getByRole("button", { name: "Accept" }).click();
  await expect(page).toHaveURL(`${origin}/`);
}

test.describe("REQUIRED_ROLES=Reader", () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer({ REQUIRED_ROLES: "Reader" });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("Alex holds no role: he is told who he is, what is required and who can assign it", async ({ page }) => {
    await signedInConsenting(page, ALEX, server.url);
    await expect(page.getByTestId("signed-in-as")).toContainText("Alex Wilber");
    const problem = new ProblemCard(page);
    await expect(problem.root).toContainText("not allowed to use this app");
    await expect(problem.meaning).toContainText(ALEX);
    await expect(problem.meaning).toContainText('"Reader"');
    await expect(problem.meaning).toContainText("no app role");
    await expect(problem.fix).toContainText("Enterprise applications");
    await expect(problem.fix).toContainText("Users and groups");
  });

  test("Adele holds Reader: her page shows her roles and where her groups came from", async ({ page }) => {
    await signedInAs(page, ADELE, "/", server.url);
    await expect(page.getByTestId("profile-name")).toHaveText("Adele Vance");
    await expect(page.getByTestId("profile-roles")).toHaveText("Admin, Reader");
    await expect(page.getByTestId("profile-groups")).toHaveText("0 (from the token)");
  });
});

test.describe("ALLOWED_GROUPS with a group of a user past the token's 200", () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer({ ALLOWED_GROUPS: PATTIS_READERS_GROUP });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("Patti is admitted on the groups Microsoft Graph lists", async ({ page }) => {
    await signedInConsenting(page, PATTI, server.url);
    await expect(page.getByTestId("profile-name")).toHaveText("Patti Fernandez");
    await expect(page.getByTestId("profile-groups")).toHaveText("250 (from Microsoft Graph)");
    await expect(page.getByTestId("profile-roles")).toHaveText("Reader");
  });
});
