import { expect, test } from "./fixtures/test";
import { ADELE, recordAppResponses } from "./fixtures/emulator_sign_in";
import { CallApiPage, signedInAs, waitForHydration } from "./fixtures/pages";

test("Call API: the server calls the Weather API On-Behalf-Of Adele, then from the cache", async ({ page, baseURL }) => {
  const responses = recordAppResponses(page, baseURL!);
  const callApi = new CallApiPage(page);
  await signedInAs(page, ADELE, "/call-api");
  await expect(page).toHaveURL(`${baseURL}/call-api`);
  await waitForHydration(page);

  await callApi.call();
  await expect(callApi.forecasts).toHaveCount(5);
  await expect(callApi.cacheStatus).toContainText("obtained a new OBO token");
  await expect(callApi.token().locator('tr[data-claim="aud"]')).toContainText("8e18057c-ba24-4625-a109-d2c3dc7b2fab");
  await expect(callApi.token().locator('tr[data-claim="scp"]')).toContainText("Weather.Read");

  await callApi.call();
  await expect(callApi.cacheStatus).toContainText("came from the server's cache");
  await responses.assertNoJwt();
});
