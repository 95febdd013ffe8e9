import { expect, test } from "./fixtures/test";
import { ADELE, recordAppResponses, signInAtEmulator } from "./fixtures/emulator_sign_in";

test("Call API: the server calls the Weather API On-Behalf-Of Adele, then from the cache", async ({ page, baseURL }) => {
  const responses = recordAppResponses(page, baseURL!);
  await page.goto("/call-api");
  await page.getByRole("link", { name: "Sign in" }).click();
  await signInAtEmulator(page, ADELE);
  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  await page.getByTestId("call-api").click();
  const result = page.getByTestId("api-result");
  await expect(result.getByTestId("forecasts").locator("tbody tr")).toHaveCount(5);
  await expect(result.getByTestId("cache-status")).toContainText("obtained a new OBO token");
  const token = page.getByTestId("token-Downstream");
  await expect(token.locator('tr[data-claim="aud"]')).toContainText("8e18057c-ba24-4625-a109-d2c3dc7b2fab");
  await expect(token.locator('tr[data-claim="scp"]')).toContainText("Weather.Read");

  await page.getByTestId("call-api").click();
  await expect(result.getByTestId("cache-status")).toContainText("came from the server's cache");
  await responses.assertNoJwt();
});
