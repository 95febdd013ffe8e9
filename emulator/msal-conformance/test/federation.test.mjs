// Workload identity federation with Microsoft's own @azure/msal-node: a Kubernetes
// service-account token from the emulator's workload-identity issuer as the web app's
// `clientAssertion`, and MSAL's ManagedIdentityApplication reading the emulator's instance
// metadata service (through AZURE_POD_IDENTITY_AUTHORITY_HOST, as on AKS) and presenting the
// identity's exchange token as the web app's assertion. Each file runs in its own process
// (MSAL detects the managed identity source from the environment once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfidentialClientApplication, ManagedIdentityApplication } from "@azure/msal-node";

const BASE = process.env.EMULATOR_URL;
assert.ok(BASE?.startsWith("https://"), "EMULATOR_URL must be the emulator's https base URL");
const HOST = new URL(BASE).host;
const TENANT = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
const WEB_APP = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
const IDENTITY_CLIENT_ID = "6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19";
const IDENTITY_PRINCIPAL_ID = "b4c2e8d0-5f1a-4a3b-8e6d-2c9f7a0e1b53";
const EXCHANGE = "api://AzureADTokenExchange";
const GRAPH_DEFAULT = "https://graph.microsoft.com/.default";

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

async function admin(path, body) {
  const r = await fetch(`${BASE}/_emulator/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) assert.fail(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** The web app authenticated by `assertion` (a function MSAL calls per request). */
const appWithAssertion = (assertion) =>
  new ConfidentialClientApplication({
    auth: {
      clientId: WEB_APP,
      clientAssertion: assertion,
      authority: `${BASE}/${TENANT}`,
      knownAuthorities: [HOST],
    },
  });

test("a service-account token read as MSAL's clientAssertion authenticates the web app", async () => {
  const issuer = `${BASE}/_workload/msal-aks`;
  const subject = "system:serviceaccount:bff:entra-bff";
  await admin(`applications/${WEB_APP}/federatedIdentityCredentials`, {
    name: "msal-aks", issuer, subject, audiences: [EXCHANGE],
  });
  const { token } = await admin("workload/msal-aks/token", { namespace: "bff", serviceAccount: "entra-bff" });
  const result = await appWithAssertion(async () => token).acquireTokenByClientCredential({ scopes: [GRAPH_DEFAULT] });
  assert.equal(claims(result.accessToken).appid, WEB_APP);
  assert.equal(claims(result.accessToken).appidacr, "2");
  const seen = await (await fetch(`${BASE}/_emulator/federated`)).json();
  assert.ok(seen.some((a) => a.subject === subject && a.jti === claims(token).jti), JSON.stringify(seen));
});

test("ManagedIdentityApplication reads IMDS; its exchange token is the web app's assertion", async () => {
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = BASE;
  const identity = new ManagedIdentityApplication({
    managedIdentityIdParams: { userAssignedClientId: IDENTITY_CLIENT_ID },
  });
  const exchange = await identity.acquireToken({ resource: EXCHANGE });
  const c = claims(exchange.accessToken);
  assert.equal(c.sub, IDENTITY_PRINCIPAL_ID);
  assert.equal(c.azp, IDENTITY_CLIENT_ID);
  assert.ok(exchange.expiresOn > new Date(), "MSAL read expires_on");

  await admin(`applications/${WEB_APP}/federatedIdentityCredentials`, {
    name: "msal-managed-identity",
    issuer: `${BASE}/${TENANT}/v2.0`,
    subject: IDENTITY_PRINCIPAL_ID,
    audiences: [EXCHANGE],
  });
  const result = await appWithAssertion(async () => exchange.accessToken).acquireTokenByClientCredential({
    scopes: [GRAPH_DEFAULT],
  });
  assert.equal(claims(result.accessToken).appid, WEB_APP);
});

test("an identity the host does not have is MSAL's error, with IMDS's reason", async () => {
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = BASE;
  const identity = new ManagedIdentityApplication({
    managedIdentityIdParams: { userAssignedClientId: "00000000-0000-0000-0000-0000000000aa" },
  });
  await assert.rejects(identity.acquireToken({ resource: EXCHANGE }), (err) => {
    assert.match(`${err.message} ${err.errorMessage ?? ""}`, /Identity not found/);
    return true;
  });
});
