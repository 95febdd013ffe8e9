// MSAL's ManagedIdentityApplication on App Service / Container Apps: IDENTITY_ENDPOINT and
// IDENTITY_HEADER name the emulator's App Service-shaped endpoint (its own process: MSAL
// detects the source from the environment).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityApplication } from "@azure/msal-node";

const BASE = process.env.EMULATOR_URL;
assert.ok(BASE?.startsWith("https://"), "EMULATOR_URL must be the emulator's https base URL");
const IDENTITY_CLIENT_ID = "6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19";
const IDENTITY_PRINCIPAL_ID = "b4c2e8d0-5f1a-4a3b-8e6d-2c9f7a0e1b53";

test("ManagedIdentityApplication reads the App Service endpoint (expires_on only)", async () => {
  process.env.IDENTITY_ENDPOINT = `${BASE}/msi/token`;
  process.env.IDENTITY_HEADER = "emulator-identity-header";
  const identity = new ManagedIdentityApplication({
    managedIdentityIdParams: { userAssignedClientId: IDENTITY_CLIENT_ID },
  });
  assert.equal(identity.getManagedIdentitySource(), "AppService");
  const result = await identity.acquireToken({ resource: "https://graph.microsoft.com" });
  const c = JSON.parse(Buffer.from(result.accessToken.split(".")[1], "base64url").toString());
  assert.equal(c.oid, IDENTITY_PRINCIPAL_ID);
  assert.equal(c.aud, "https://graph.microsoft.com");
  assert.ok(result.expiresOn > new Date(), "MSAL read expires_on");
});
