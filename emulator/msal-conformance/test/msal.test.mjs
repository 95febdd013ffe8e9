// Microsoft's own @azure/msal-node against the Entra ID emulator, over HTTPS, unchanged but for
// the authority and `knownAuthorities` (which skips instance discovery).
// Run through ../run.sh: it starts the emulator and sets EMULATOR_URL and NODE_EXTRA_CA_CERTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { ConfidentialClientApplication, InteractionRequiredAuthError } from "@azure/msal-node";

const BASE = process.env.EMULATOR_URL;
assert.ok(BASE?.startsWith("https://"), "EMULATOR_URL must be the emulator's https base URL");
const HOST = new URL(BASE).host;
const TENANT = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
const WEB_APP = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
const SECRET = "dev-web-app-secret";
// The web app's own scope, in the GUID form and by App ID URI (Entra refuses the latter only
// for a refresh that names no scope: AADSTS90009; MSAL always names it).
const WEB_APP_SCOPE = `${WEB_APP}/access_as_user`;
const WEB_APP_SCOPE_URI = `api://${WEB_APP}/access_as_user`;
const WEATHER = "8e18057c-ba24-4625-a109-d2c3dc7b2fab";
const WEATHER_SCOPE = `api://${WEATHER}/Weather.Read`;
const PASSWORD = "Passw0rd!";
const ADELE = "AdeleV@contoso.onmicrosoft.com";
const MEGAN = "MeganB@contoso.onmicrosoft.com";
const ALEX = "AlexW@contoso.onmicrosoft.com";

const app = (clientSecret = SECRET, clientCapabilities = undefined) =>
  new ConfidentialClientApplication({
    auth: {
      clientId: WEB_APP,
      clientSecret,
      authority: `${BASE}/${TENANT}`,
      knownAuthorities: [HOST],
      clientCapabilities,
    },
  });
const acrs = (context) => JSON.stringify({ access_token: { acrs: { essential: true, value: context } } });

const part = (jwt, i) => JSON.parse(Buffer.from(jwt.split(".")[i], "base64url").toString());
const claims = (jwt) => part(jwt, 1);

/** Verifies an RS256 JWT against the emulator's published JWKS with node's own crypto. */
async function verifiesWithJwks(jwt) {
  const jwks = await (await fetch(`${BASE}/${TENANT}/discovery/v2.0/keys`)).json();
  const jwk = jwks.keys.find((k) => k.kid === part(jwt, 0).kid);
  if (!jwk) return false;
  const key = crypto.createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" });
  const [h, p, s] = jwt.split(".");
  return crypto.verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
}

async function signIn(cca, username, scopes = [WEB_APP_SCOPE]) {
  return cca.acquireTokenByUsernamePassword({ scopes, username, password: PASSWORD });
}

async function stats() {
  return (await fetch(`${BASE}/_emulator/stats`)).json();
}

test("password sign-in gives a verifiable token and an account from client_info", async () => {
  const cca = app();
  const r = await signIn(cca, ADELE);
  assert.equal(r.account.username, ADELE);
  assert.equal(r.account.homeAccountId, `87d349ed-44d7-43e1-9a83-5f2406dee5bd.${TENANT}`);
  assert.equal(r.account.tenantId, TENANT);
  assert.equal(r.idTokenClaims.preferred_username, ADELE);
  assert.equal(claims(r.accessToken).aud, WEB_APP);
  assert.ok(await verifiesWithJwks(r.accessToken));
  assert.ok(await verifiesWithJwks(r.idToken));
});

test("acquireTokenSilent with forceRefresh redeems the refresh token", async () => {
  const cca = app();
  const first = await signIn(cca, ADELE);
  const before = (await stats()).refresh_token;
  const [account] = await cca.getTokenCache().getAllAccounts();
  const again = await cca.acquireTokenSilent({ account, scopes: [WEB_APP_SCOPE], forceRefresh: true });
  assert.notEqual(again.accessToken, first.accessToken);
  assert.equal((await stats()).refresh_token, before + 1);
  assert.ok(await verifiesWithJwks(again.accessToken));
});

test("acquireTokenSilent forceRefresh for itself by App ID URI works: MSAL names the scope", async () => {
  const cca = app();
  await signIn(cca, ADELE, [WEB_APP_SCOPE_URI]);
  const [account] = await cca.getTokenCache().getAllAccounts();
  const again = await cca.acquireTokenSilent({ account, scopes: [WEB_APP_SCOPE_URI], forceRefresh: true });
  assert.equal(claims(again.accessToken).aud, `api://${WEB_APP}`);
});

test("OBO passes a claims request: an authentication context no policy protects is issued", async () => {
  const cca = app();
  const user = await signIn(cca, ADELE);
  const r = await cca.acquireTokenOnBehalfOf({
    oboAssertion: user.accessToken,
    scopes: [WEATHER_SCOPE],
    claims: acrs("c7"),
  });
  assert.deepEqual(claims(r.accessToken).acrs, ["c7"]);
});

test("OBO for a context the sign-in did not meet is interaction required, with the claims", async () => {
  const cca = app();
  const user = await signIn(cca, ADELE);
  await assert.rejects(
    cca.acquireTokenOnBehalfOf({ oboAssertion: user.accessToken, scopes: [WEATHER_SCOPE], claims: acrs("c1") }),
    (e) => {
      assert.ok(e instanceof InteractionRequiredAuthError, `${e.name}: ${e.message}`);
      assert.match(e.errorMessage, /AADSTS50076/);
      assert.equal(JSON.parse(e.claims).access_token.acrs.value, "c1");
      return true;
    },
  );
});

test("clientCapabilities cp1 reaches the Weather API's token as xms_cc", async () => {
  const cca = app(SECRET, ["cp1"]);
  const user = await signIn(cca, ADELE);
  const r = await cca.acquireTokenOnBehalfOf({ oboAssertion: user.accessToken, scopes: [WEATHER_SCOPE] });
  assert.deepEqual(claims(r.accessToken).xms_cc, ["cp1"]);
  const plain = await app().acquireTokenOnBehalfOf({ oboAssertion: user.accessToken, scopes: [WEATHER_SCOPE] });
  assert.equal(claims(plain.accessToken).xms_cc, undefined);
});

test("OBO to the Weather API", async () => {
  const cca = app();
  const user = await signIn(cca, ADELE);
  const r = await cca.acquireTokenOnBehalfOf({ oboAssertion: user.accessToken, scopes: [WEATHER_SCOPE] });
  const c = claims(r.accessToken);
  assert.equal(c.aud, WEATHER);
  assert.equal(c.azp, WEB_APP);
  assert.equal(c.scp, "Weather.Read");
  assert.equal(c.ver, "2.0");
  assert.ok(await verifiesWithJwks(r.accessToken));
});

test("OBO to Microsoft Graph: a nonce token nobody but Graph verifies, and Graph accepts it", async () => {
  const cca = app();
  const user = await signIn(cca, ADELE);
  const r = await cca.acquireTokenOnBehalfOf({
    oboAssertion: user.accessToken,
    scopes: ["https://graph.microsoft.com/User.Read"],
  });
  assert.ok(part(r.accessToken, 0).nonce, "Graph tokens carry a header nonce");
  assert.equal(claims(r.accessToken).aud, "https://graph.microsoft.com");
  assert.equal(await verifiesWithJwks(r.accessToken), false, "Graph tokens don't verify");
  const me = await fetch(`${BASE}/graph/v1.0/me`, { headers: { authorization: `Bearer ${r.accessToken}` } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).userPrincipalName, ADELE);
});

test("client credentials", async () => {
  const r = await app().acquireTokenByClientCredential({ scopes: [`api://${WEATHER}/.default`] });
  const c = claims(r.accessToken);
  assert.deepEqual(c.roles, ["Weather.Read.All"]);
  assert.equal(c.idtyp, "app");
  assert.ok(await verifiesWithJwks(r.accessToken));
});

test("a Graph token as the OBO assertion fails with AADSTS50013", async () => {
  const cca = app();
  const graph = await signIn(cca, ADELE, ["User.Read"]);
  await assert.rejects(
    cca.acquireTokenOnBehalfOf({ oboAssertion: graph.accessToken, scopes: [WEATHER_SCOPE] }),
    (e) => {
      assert.equal(e.errorCode, "invalid_grant");
      assert.match(e.errorMessage, /AADSTS50013: Assertion failed signature validation\./);
      assert.equal(String(e.errorNo), "50013");
      return true;
    },
  );
});

test("another app's token as the OBO assertion fails with AADSTS500131", async () => {
  const cca = app();
  const weather = await signIn(cca, ADELE, [WEATHER_SCOPE]);
  await assert.rejects(
    cca.acquireTokenOnBehalfOf({ oboAssertion: weather.accessToken, scopes: ["User.Read"] }),
    (e) => {
      assert.equal(e.errorCode, "invalid_grant");
      assert.match(e.errorMessage, /AADSTS500131/);
      return true;
    },
  );
});

test("no consent (Alex) fails with AADSTS65001", async () => {
  const cca = app();
  const alex = await signIn(cca, ALEX);
  await assert.rejects(
    cca.acquireTokenOnBehalfOf({ oboAssertion: alex.accessToken, scopes: [WEATHER_SCOPE] }),
    (e) => {
      assert.match(e.errorMessage, /AADSTS65001/);
      assert.ok(e instanceof InteractionRequiredAuthError, "suberror consent_required => interaction required");
      return true;
    },
  );
});

test("an MFA policy (Megan) gives an interaction-required error with a claims challenge", async () => {
  const cca = app();
  const megan = await signIn(cca, MEGAN);
  await assert.rejects(
    cca.acquireTokenOnBehalfOf({ oboAssertion: megan.accessToken, scopes: [WEATHER_SCOPE] }),
    (e) => {
      assert.ok(e instanceof InteractionRequiredAuthError, `${e.name}: ${e.message}`);
      assert.match(e.errorMessage, /AADSTS50076/);
      assert.ok(JSON.parse(e.claims).access_token.capolids.values.length > 0);
      return true;
    },
  );
});

test("a wrong client secret fails with AADSTS7000215", async () => {
  await assert.rejects(
    app("wrong").acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] }),
    (e) => {
      assert.equal(e.errorCode, "invalid_client");
      assert.match(e.errorMessage, /AADSTS7000215/);
      return true;
    },
  );
});
