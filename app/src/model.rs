//! What the server sends the browser: display data only. No type here can hold a token,
//! a secret or a compact JWT; claims travel decoded, as rows of text.

use serde::{Deserialize, Serialize};

/// Who is signed in, and configuration warnings the page should show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<UserSummary>,
    /// Mistakes the server was allowed to start with (e.g. a Graph `API_SCOPE`).
    pub warnings: Vec<String>,
    /// Why the session this browser had has just ended (shown once, on the next page).
    pub ended: Option<String>,
    /// Whether this app serves several organizations: the signed-out page then offers to
    /// sign in to a partner organization (a guest reaches the tenant that invited them only
    /// through that tenant's own authority).
    #[serde(default)]
    pub partner_sign_in: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub name: String,
    pub username: String,
    /// The directory (tenant) the user signed in to.
    pub tenant_id: String,
}

/// The user's profile from Microsoft Graph `/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
    pub job_title: Option<String>,
    pub office_location: Option<String>,
    /// Whether the token came from the server's cache (no call to the identity provider).
    pub token_from_cache: bool,
    /// How long ago Graph was read (0: for this view); the server caches the profile.
    pub read_secs_ago: u64,
    /// The user's app roles in this app (the `roles` claim).
    #[serde(default)]
    pub roles: Vec<String>,
    /// How many groups the user is in, and where that was read: `token`, `Microsoft Graph`
    /// (past the token's 200), or `None` when the token lists no groups.
    #[serde(default)]
    pub groups: Option<(usize, String)>,
}

/// The result of calling the downstream API On-Behalf-Of the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    /// Where the call went (`GET {url}`).
    pub url: String,
    pub forecasts: Vec<ForecastRow>,
    /// The OBO token the server sent, decoded.
    pub token: DecodedToken,
    /// Whether that token came from the server's cache (no call to the identity provider).
    pub token_from_cache: bool,
}

/// A downstream API the server calls On-Behalf-Of the user, as the Call API page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownstreamApiInfo {
    /// Its name in `/api/downstream/{name}/...`.
    pub name: String,
    pub base_url: String,
    /// The scopes of its On-Behalf-Of token, space-separated.
    pub scopes: String,
    /// What the page's button GETs.
    pub sample_path: String,
    /// Why this user may not call it (a role or group it requires), if so.
    #[serde(default)]
    pub unavailable: Option<String>,
    /// Called with an app-only token (client credentials), not On-Behalf-Of the user.
    #[serde(default)]
    pub as_app: bool,
}

/// The answer of one named downstream API to a GET, as the Call API page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedApiCall {
    pub name: String,
    /// Where the call went (`GET {url}`).
    pub url: String,
    pub status: u16,
    pub content_type: String,
    /// The start of the body, as text (at most a few kilobytes).
    pub body: String,
    pub truncated: bool,
    /// The OBO token the server sent, decoded.
    pub token: DecodedToken,
    pub token_from_cache: bool,
    /// The token was the app's own (client credentials), not the user's.
    #[serde(default)]
    pub as_app: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastRow {
    pub date: String,
    pub temperature_c: i32,
    pub summary: String,
}

/// The live configuration checks of the diagnostics page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it is not right.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

/// The decoded tokens of this session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    pub tokens: Vec<DecodedToken>,
    /// Why a token is missing (e.g. the On-Behalf-Of exchange failed).
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    IdToken,
    SignIn,
    Graph,
    Downstream,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedToken {
    pub kind: TokenKind,
    pub title: String,
    /// What this token is for, in a sentence.
    pub purpose: String,
    pub header: Vec<ClaimRow>,
    pub claims: Vec<ClaimRow>,
    /// Why this token can or cannot be verified by this app.
    pub verification: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRow {
    pub name: String,
    pub value: String,
    pub explanation: String,
    /// For `iat`/`nbf`/`exp`/`auth_time`: the Unix time, shown as a date and a countdown.
    pub unix_time: Option<i64>,
}

/// A failure explained: what happened, why in this configuration, and how to fix it. The
/// default is empty: a problem this app finds itself sets the texts and its action, and
/// leaves the identity provider's fields (`code`, trace ids, lookup) unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub title: String,
    /// The AADSTS code, when the identity provider gave one.
    pub code: Option<u32>,
    /// The OAuth error (`invalid_grant`, ...).
    pub error: Option<String>,
    /// The provider's own message, first line.
    pub message: Option<String>,
    pub meaning: String,
    pub cause: String,
    pub fix: String,
    /// Entra's `trace_id` and `correlation_id` of its answer.
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub timestamp: Option<String>,
    /// This app's trace of the request (OpenTelemetry), when traces are exported: what an
    /// operator looks up.
    #[serde(default)]
    pub request_trace_id: Option<String>,
    /// A link to Microsoft's error lookup, for codes this app does not know.
    pub lookup_url: Option<String>,
    pub action: ProblemAction,
}

/// What the user can do about a problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum ProblemAction {
    /// Sign in (again), landing back on `url`'s `return_to`.
    SignIn { url: String, label: String },
    /// Try the same thing again later.
    Retry,
    /// Nothing the user can do; an administrator must change the configuration.
    #[default]
    None,
}
