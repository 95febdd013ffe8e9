import { expect, test } from "./fixtures/test";
import { waitForHydration } from "./fixtures/pages";

interface Asset {
  url: string;
  status: number;
  encoding?: string;
  cache?: string;
}

// The WASM, JS and CSS as a CDN would serve them: content-hashed names, precompressed,
// cached for a year; a reload fetches none of them again.
test("assets are hashed, compressed, cached for a year, and a reload fetches none again", async ({ page }) => {
  const assets: Asset[] = [];
  page.on("response", (r) => {
    if (!new URL(r.url()).pathname.startsWith("/pkg/")) return;
    const h = r.headers();
    assets.push({ url: r.url(), status: r.status(), encoding: h["content-encoding"], cache: h["cache-control"] });
  });
  await page.goto("/");
  await waitForHydration(page);

  const wasm = assets.find((a) => a.url.endsWith(".wasm"));
  expect(wasm, `no WASM among ${JSON.stringify(assets)}`).toBeTruthy();
  expect(wasm!.url).toMatch(/\/pkg\/entra-bff\.[A-Za-z0-9_-]+\.wasm$/);
  expect(["br", "gzip"]).toContain(wasm!.encoding);
  for (const kind of [".js", ".css"]) {
    expect(assets.some((a) => a.url.endsWith(kind)), `no ${kind} among ${JSON.stringify(assets)}`).toBe(true);
  }
  for (const asset of assets) {
    expect(asset.status, asset.url).toBe(200);
    expect(asset.cache, asset.url).toBe("public, max-age=31536000, immutable");
  }

  // Reload: the page again, every asset from the browser's cache (Chromium's own account).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const fromCache = new Set<string>();
  const fetched: string[] = [];
  const received: { id: string; url: string; disk: boolean }[] = [];
  cdp.on("Network.requestServedFromCache", (e) => fromCache.add(e.requestId));
  cdp.on("Network.responseReceived", (e) => {
    if (e.response.url.includes("/pkg/")) {
      received.push({ id: e.requestId, url: e.response.url, disk: e.response.fromDiskCache ?? false });
    }
  });
  await page.reload();
  await waitForHydration(page);
  for (const r of received) {
    if (!r.disk && !fromCache.has(r.id)) fetched.push(r.url);
  }
  expect(fetched, "assets fetched again on reload").toEqual([]);
});
