import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "./fixtures/test";
import { ADELE } from "./fixtures/emulator_sign_in";
import { CallApiPage, signedInAs } from "./fixtures/pages";
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
    const callApi = new CallApiPage(page, app.url);
    await signedInAs(page, ADELE, "/call-api", app.url);

    await expect(callApi.apis).toContainText("weather");
    await expect(callApi.apis).toContainText(`${inventory.url}/v2`);

    const weather = await callApi.callNamed("weather");
    await expect(weather.getByTestId("api-call-status")).toContainText("HTTP 200");
    await expect(weather.locator("pre")).toContainText("temperatureC");
    await expect(callApi.token().locator('tr[data-claim="aud"]')).toContainText(
      "8e18057c-ba24-4625-a109-d2c3dc7b2fab",
    );

    const answer = await callApi.callNamed("inventory");
    await expect(answer.getByTestId("api-call-status")).toContainText("HTTP 200");
    // The API got a bearer token, and none of the browser's cookies.
    await expect(answer.locator("pre")).toContainText('"path":"/v2/items","bearer":true,"cookie":null');
  });
});
