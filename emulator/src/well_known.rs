//! The built-in world's fixed values, like Azurite's well-known account: docs, tests and users
//! can rely on them. See the emulator README for the full table.

/// Directory (tenant) id of the built-in tenant.
pub const TENANT_ID: &str = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
/// Verified domain of the built-in tenant.
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Client id of the web app (the BFF: confidential client and OBO middle tier).
pub const WEB_APP_CLIENT_ID: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
/// Client secret (the value, not the key id) of the web app.
pub const WEB_APP_SECRET: &str = "dev-web-app-secret";
/// Key id of the web app's secret (sending it instead of the value gives AADSTS7000215).
pub const WEB_APP_SECRET_ID: &str = "5c1c2b38-51b4-4d7a-9a55-2f38c9f1a6e4";
/// App ID URI of the web app.
pub const WEB_APP_ID_URI: &str = "api://dd1d6603-7fe3-411d-b985-091f1cf1c698";
/// The web app's delegated scope in the GUID form (`<client-id>/access_as_user`): the right
/// audience for an OBO assertion, and the form Entra accepts for every grant when an app asks
/// for a token for itself (sign-in, refresh, ROPC, OBO).
pub const WEB_APP_SCOPE: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user";
/// The web app's delegated scope named by its App ID URI. Entra accepts it at sign-in (code
/// redemption) only: a refresh, ROPC or OBO request for the app itself in this form answers
/// AADSTS90009.
pub const WEB_APP_SCOPE_URI: &str = "api://dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user";
/// Client id of the downstream Weather API.
pub const WEATHER_API_CLIENT_ID: &str = "8e18057c-ba24-4625-a109-d2c3dc7b2fab";
/// App ID URI of the Weather API.
pub const WEATHER_API_ID_URI: &str = "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab";
/// The Weather API's delegated scope.
pub const WEATHER_API_SCOPE: &str = "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Weather.Read";
/// Microsoft Graph's well-known application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Microsoft Graph's resource (App ID URI).
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Password of every built-in user.
pub const USER_PASSWORD: &str = "Passw0rd!";
/// The one-time code the emulator's MFA page accepts.
pub const MFA_CODE: &str = "123456";
/// Adele Vance: everything consented.
pub const ADELE: &str = "AdeleV@contoso.onmicrosoft.com";
/// Megan Bowen: a Conditional Access policy requires MFA for the Weather API.
pub const MEGAN: &str = "MeganB@contoso.onmicrosoft.com";
/// Alex Wilber: has not consented to the Weather API.
pub const ALEX: &str = "AlexW@contoso.onmicrosoft.com";
/// Object id of Adele Vance.
pub const ADELE_OID: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
/// Object id of Megan Bowen.
pub const MEGAN_OID: &str = "48d31887-5fad-4d73-a9f5-3c356e68a038";
/// Object id of Alex Wilber.
pub const ALEX_OID: &str = "c2a1e5b0-2f43-4e7c-9b8a-7f0f6a1f3e21";
/// Id of the Conditional Access policy requiring MFA for the Weather API (Megan).
pub const MFA_POLICY_ID: &str = "a1b2c3d4-0000-4000-8000-00000000cafe";
/// Microsoft Graph `User.Read` delegated permission id.
pub const GRAPH_USER_READ_ID: &str = "e1fe6dd8-ba31-4d61-89e7-88639da4683d";
/// The authentication context the Weather API's step-up challenge asks for
/// (`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`); tokens from a sign-in that
/// satisfied it carry `"acrs": ["c1"]`.
pub const WEATHER_AUTH_CONTEXT: &str = "c1";

/// Directory id of the second tenant, where the web app is also registered (multi-tenant) and
/// Adele is a guest. The Weather API is not there.
pub const FABRIKAM_TENANT_ID: &str = "ee1dc528-9019-48c6-80e6-2b8e64f60f4a";
/// Verified domain of the second tenant.
pub const FABRIKAM_TENANT_DOMAIN: &str = "fabrikam.onmicrosoft.com";
/// Diego Siciliani, a member of Fabrikam.
pub const DIEGO: &str = "DiegoS@fabrikam.onmicrosoft.com";
/// Object id of Diego Siciliani (in Fabrikam).
pub const DIEGO_OID: &str = "09f946f4-08cb-4037-8cfa-6daf88131304";
/// Adele Vance as a guest (B2B) in Fabrikam: her user record there, with its own object id and
/// profile. She signs in with this UPN or with her home address ([`ADELE`]).
pub const ADELE_GUEST: &str = "AdeleV_contoso.onmicrosoft.com#EXT#@fabrikam.onmicrosoft.com";
/// Object id of Adele's guest record in Fabrikam (her home object id is [`ADELE_OID`]).
pub const ADELE_GUEST_OID: &str = "de54c9d7-94c1-489d-b915-956d3a204ad7";
/// Job title of Adele's guest record in Fabrikam (her home profile says "Retail Manager"), so
/// a profile read from the wrong tenant shows.
pub const ADELE_GUEST_JOB_TITLE: &str = "Partner Liaison (guest)";

/// Directory id of a third tenant, where the web app is also registered: for "a tenant this
/// app does not allow" cases.
pub const NORTHWIND_TENANT_ID: &str = "1b0ed955-fb19-43a9-a826-926e8f442871";
/// Verified domain of the third tenant.
pub const NORTHWIND_TENANT_DOMAIN: &str = "northwind.onmicrosoft.com";
/// Nestor Wilke, the one user of Northwind.
pub const NESTOR: &str = "NestorW@northwind.onmicrosoft.com";
/// Object id of Nestor Wilke.
pub const NESTOR_OID: &str = "5e791f00-e121-4efe-b7b0-f540089dd0f4";
