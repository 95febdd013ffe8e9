import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "./fixtures/test";
import { ADELE, signInAtEmulator } from "./fixtures/emulator_sign_in";
import { startServer, type RunningServer } from "./fixtures/server";

/**
 * A second downstream API: answers with the path it was called on and whether a bearer
 * token came with it (never the token itself).
 */
async function startInventoryApi(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const bearer = /^Bearer eyJ/.test(req.headers.authorization ?? "");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ path: req.url, bearer, cookie: req.headers.cookie ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test.describe("named downstream APIs", () => {
  let inventory: { url: string; server: Server };
  let app: RunningServer;
  test.beforeAll(async () => {
    inventory = await startInventoryApi();
    app = await startServer({
      DOWNSTREAM_API__INVENTORY__BASE_URL: `${inventory.url}/v2`,
      DOWNSTREAM_API__INVENTORY__SCOPES: "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Weather.Read",
      DOWNSTREAM_API__INVENTORY__SAMPLE_PATH: "/items",
    });
  });
  test.afterAll(async () => {
    await app?.stop();
    inventory?.server.close();
  });

  test("the Call API page lists every API and GETs each On-Behalf-Of the user", async ({ page }) => {
    await page.goto(`${app.url}/call-api`);
    await page.getByTestId("account-sign-in").click();
    await signInAtEmulator(page, ADELE);

    const list = page.getByTestId("downstream-apis");
    await expect(list).toContainText("weather");
    await expect(list).toContainText(`${inventory.url}/v2`);

    await page.getByTestId("call-weather").click();
    const weather = page.getByTestId("api-call-weather");
    await expect(weather.getByTestId("api-call-status")).toContainText("HTTP 200");
    await expect(weather.locator("pre")).toContainText("temperatureC");
    await expect(page.getByTestId("token-Downstream").locator('tr[data-claim="aud"]')).toContainText(
      "8e18057c-ba24-4625-a109-d2c3dc7b2fab",
    );

    await page.getByTestId("call-inventory").click();
    const answer = page.getByTestId("api-call-inventory");
    await expect(answer.getByTestId("api-call-status")).toContainText("HTTP 200");
    // The API got a bearer token, and none of the browser's cookies.
    await expect(answer.locator("pre")).toContainText('"path":"/v2/items","bearer":true,"cookie":null');
  });
});
