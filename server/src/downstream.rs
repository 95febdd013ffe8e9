//! Named downstream APIs ([`crate::config::DownstreamApi`]) called On-Behalf-Of the user:
//! the proxy route `/api/downstream/{name}/{*path}` (as Duende BFF's remote APIs), and the
//! Call API page's GET of each.
//!
//! The proxy is for signed-in users only, checked against CSRF as server functions are (the
//! `x-csrf: 1` header and a same-origin request, for every method), and forwards only the
//! API's allowed paths and methods. It forwards the method, query and body (streamed, at most
//! [`listener::MAX_BODY_BYTES`]) and a short list of headers (`FORWARDED`) with a bearer
//! token obtained On-Behalf-Of the user (cached per API), never the browser's cookies or
//! `Authorization`, and streams the answer back (at most [`MAX_ANSWER_BYTES`], within
//! [`CALL_TIMEOUT`]) without the API's cookies or headers that would change how the browser
//! treats this app (`NOT_RETURNED`). The API's `401` with a claims challenge becomes the same step-up sign-in as a
//! Conditional Access answer to On-Behalf-Of; failures of On-Behalf-Of itself (AADSTS65001,
//! 50076, ...) are the same problems the Call API page shows.

use std::{sync::Arc, time::Duration};

use app::{
    error::AppError,
    model::{DownstreamApiInfo, NamedApiCall, Problem, ProblemAction, TokenKind},
};
use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use http::request::Parts;
use http_body_util::{BodyExt as _, Limited};
use url::Url;

use crate::{
    bff::BffService,
    config::{DownstreamApi, is_clean_path},
    csrf::check_api_proof,
    entra::decode_unverified,
    inspect,
    session::{SignedInUser, UserSession},
    tokens::Obtained,
};

/// Where the proxy is served.
pub const PROXY_PREFIX: &str = "/api/downstream/";
/// The most of an API's answer the proxy passes on.
pub const MAX_ANSWER_BYTES: usize = 10 * 1024 * 1024;
/// The longest a call to an API (answer included) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer the Call API page shows.
const PAGE_BODY_CHARS: usize = 4 * 1024;

/// One configured API and where it is.
pub struct Api {
    pub config: DownstreamApi,
    pub base_url: Url,
}

impl Api {
    fn url(&self, path: &str, query: Option<&str>) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        match query {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        }
    }
}

/// The configured APIs, by name.
#[derive(Default)]
pub struct DownstreamApis(Vec<Api>);

impl DownstreamApis {
    pub fn new(apis: Vec<Api>) -> Self {
        Self(apis)
    }

    pub fn get(&self, name: &str) -> Option<&Api> {
        self.0.iter().find(|api| api.config.name == name)
    }

    /// What the Call API page lists.
    pub fn info(&self) -> Vec<DownstreamApiInfo> {
        self.0
            .iter()
            .map(|api| DownstreamApiInfo {
                name: api.config.name.clone(),
                base_url: api.base_url.to_string(),
                scopes: api.config.scopes.to_wire(),
                sample_path: api.config.sample_path.clone(),
            })
            .collect()
    }
}

/// The request headers forwarded to an API: content negotiation, conditional requests and
/// tracing. Nothing else: not the browser's credentials for this app (`Cookie`,
/// `Authorization`), not hop-by-hop headers, and none of the headers some frameworks let
/// override the method, the path or the client address (`X-HTTP-Method-Override`,
/// `X-Original-URL`, `X-Forwarded-For`, ...), which would slip past the allowed lists.
const FORWARDED: [&str; 14] = [
    "accept",
    "accept-language",
    "content-type",
    "content-encoding",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "prefer",
    "traceparent",
    "tracestate",
    "x-request-id",
];

/// Headers of the API's answer not passed on: hop-by-hop; cookies (the API has no business
/// setting cookies on this app's origin); what would change how the browser treats this
/// app's origin (framing, CSP, CORS, clearing site data); and `WWW-Authenticate` (a `Basic`
/// challenge would make the browser prompt for a password; a claims challenge is handled).
const NOT_RETURNED: [&str; 16] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "set-cookie",
    "set-cookie2",
    "content-security-policy",
    "content-security-policy-report-only",
    "x-frame-options",
    "clear-site-data",
    "www-authenticate",
];

pub fn router(bff: Arc<BffService>) -> Router {
    Router::new()
        .route("/api/downstream/{name}/{*path}", any(proxy))
        .with_state(bff)
}

async fn proxy(State(bff): State<Arc<BffService>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match forward(&bff, &parts, body).await {
        Ok(response) => response,
        Err(refusal) => refusal,
    }
}

/// An error as the server functions answer it: its status, and the error as JSON.
fn answer(err: AppError) -> Response {
    (err.status(), Json(err)).into_response()
}

async fn forward(bff: &BffService, parts: &Parts, body: Body) -> Result<Response, Response> {
    check_api_proof(&parts.headers, &bff.config.public_url)
        .map_err(|reason| answer(AppError::Forbidden(reason)))?;
    // Signed in before anything about the configured APIs is told (once: the call below
    // reuses it).
    let signed_in = bff.signed_in(parts).await.map_err(answer)?;

    // `/api/downstream/{name}/{path}`, still percent-encoded: checked as the API will see it.
    let rest = parts
        .uri
        .path()
        .strip_prefix(PROXY_PREFIX)
        .unwrap_or_default();
    let (api_name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{path}");
    let Some(api) = bff.apis.get(api_name) else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            format!("No downstream API is named {api_name:?}"),
            "Configure it with DOWNSTREAM_API__<NAME>__BASE_URL and __SCOPES (see README.md)."
                .into(),
        ));
    };
    if !is_clean_path(&path) {
        return Err(answer(AppError::BadRequest));
    }
    if !api.config.allows_path(&path) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            format!("{path} is not an allowed path of the API {api_name:?}"),
            format!(
                "The proxy forwards only {} to this API; change ALLOWED_PATHS of {api_name:?} \
                 if this path should be reachable.",
                api.config.allowed_paths.join(", ")
            ),
        ));
    }
    if !api.config.allowed_methods.contains(&parts.method) {
        let allow = api
            .config
            .allowed_methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut response = refused(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} is not an allowed method of the API {api_name:?}",
                parts.method
            ),
            format!("Allowed: {allow}; change ALLOWED_METHODS of {api_name:?} to add one."),
        );
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return Err(response);
    }
    if parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|length| length > listener::MAX_BODY_BYTES)
    {
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    }

    let mut headers = HeaderMap::new();
    for (header_name, value) in &parts.headers {
        if FORWARDED.contains(&header_name.as_str()) {
            headers.append(header_name.clone(), value.clone());
        }
    }
    let body = (!matches!(parts.method, Method::GET | Method::HEAD)).then(|| {
        reqwest::Body::wrap_stream(Limited::new(body, listener::MAX_BODY_BYTES).into_data_stream())
    });
    let (response, _) = bff
        .call(
            parts,
            &signed_in,
            api,
            parts.method.clone(),
            &path,
            parts.uri.query(),
            headers,
            body,
        )
        .await
        .map_err(answer)?;

    let status = response.status();
    let mut returned = HeaderMap::new();
    for (header_name, value) in response.headers() {
        let name = header_name.as_str();
        if !NOT_RETURNED.contains(&name) && !name.starts_with("access-control-") {
            returned.append(header_name.clone(), value.clone());
        }
    }
    let answer_body: http::Response<reqwest::Body> = response.into();
    let limited = Limited::new(answer_body.into_body(), MAX_ANSWER_BYTES);
    let mut out = Response::new(Body::new(limited));
    *out.status_mut() = status;
    *out.headers_mut() = returned;
    Ok(out)
}

/// A refusal of the proxy itself (not the API's answer), as a problem.
fn refused(status: StatusCode, title: String, fix: String) -> Response {
    let problem = Problem {
        title,
        error: Some(format!("HTTP {}", status.as_u16())),
        meaning: "The server's proxy did not forward this request to the API.".into(),
        cause: "The request is outside what this app's configuration lets the proxy forward."
            .into(),
        fix,
        action: ProblemAction::None,
        ..Problem::default()
    };
    (status, Json(AppError::Problem(Box::new(problem)))).into_response()
}

impl BffService {
    /// Sends one request to `api` with a token obtained On-Behalf-Of the user; the answer,
    /// the token and whether it came from the cache. An API's claims challenge (401
    /// `insufficient_claims`) is kept for the next sign-in and answered with the step-up
    /// problem.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        parts: &Parts,
        (session, user): &(UserSession, SignedInUser),
        api: &Api,
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        body: Option<reqwest::Body>,
    ) -> Result<(reqwest::Response, Obtained), AppError> {
        let obtained = self
            .obo_for(parts, session, user, &api.config.scopes)
            .await?;
        let token = &obtained.token;
        let mut request = self
            .tokens
            .entra()
            .http()
            .request(method, api.url(path, query))
            .headers(headers)
            .bearer_auth(token.expose())
            .timeout(CALL_TIMEOUT);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|err| {
            crate::bff::api_problem(
                "The downstream API is unreachable",
                None,
                err.without_url().to_string(),
                format!(
                    "Check the base URL of the API {:?} and that it is running.",
                    api.config.name
                ),
                crate::bff::Transient::Yes,
            )
        })?;
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(claims) = claims_challenge(response.headers())
        {
            session
                .set_claims_challenge(&claims)
                .await
                .map_err(crate::bff::internal)?;
            return Err(AppError::Problem(Box::new(step_up_problem(
                &api.config.name,
                Self::sign_in_url(parts),
            ))));
        }
        Ok((response, obtained))
    }

    /// The Call API page's GET of an API's sample path: the start of the answer as text.
    pub(crate) async fn call_named(
        &self,
        parts: &Parts,
        name: &str,
    ) -> Result<NamedApiCall, AppError> {
        let api = self.apis.get(name).ok_or_else(|| {
            crate::bff::api_problem(
                "No such downstream API",
                None,
                format!("No downstream API is named {name:?}."),
                "Pick one of the APIs listed on this page.".into(),
                crate::bff::Transient::No,
            )
        })?;
        let path = api.config.sample_path.clone();
        let (response, obtained) = self
            .call(
                parts,
                &self.signed_in(parts).await?,
                api,
                Method::GET,
                &path,
                None,
                HeaderMap::new(),
                None,
            )
            .await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no Content-Type")
            .to_owned();
        let url = api.url(&path, None);
        let (body, truncated) = start_of(response, PAGE_BODY_CHARS).await;
        let (header, claims) = decode_unverified(obtained.token.expose())
            .ok_or_else(|| crate::bff::incident("the OBO token is not a JWT"))?;
        let token_from_cache = obtained.source.is_cache();
        Ok(NamedApiCall {
            name: name.to_owned(),
            url,
            status,
            content_type,
            body,
            truncated,
            token: inspect::decoded(TokenKind::Downstream, &header, &claims),
            token_from_cache,
        })
    }
}

/// The first `chars` characters of an answer's body, and whether there was more (or the
/// rest could not be read). Reads no more than it shows.
async fn start_of(response: reqwest::Response, chars: usize) -> (String, bool) {
    let answer: http::Response<reqwest::Body> = response.into();
    let mut body = answer.into_body();
    let mut bytes = Vec::new();
    let mut more = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(|f| f.into_data()) else {
            more = true; // cut off: what was read is shown, and said to be incomplete
            break;
        };
        if let Ok(data) = data {
            bytes.extend_from_slice(&data);
        }
        // UTF-8 takes at most 4 bytes a character.
        if bytes.len() > chars * 4 {
            more = true;
            break;
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let shown: String = text.chars().take(chars).collect();
    let truncated = more || shown.len() < text.len();
    (shown, truncated)
}

/// The claims of an RFC 6750 challenge with `error="insufficient_claims"` (Microsoft's
/// claims challenge: base64 JSON in `claims`), as JSON text.
fn claims_challenge(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let challenge = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("insufficient_claims"))?;
    let start = challenge.find("claims=\"")? + "claims=\"".len();
    let encoded = &challenge[start..start + challenge[start..].find('"')?];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&decoded).ok()?;
    claims.is_object().then(|| claims.to_string())
}

fn step_up_problem(api: &str, sign_in: String) -> Problem {
    Problem {
        title: format!("The API {api:?} asks for a stronger sign-in"),
        error: Some("insufficient_claims".into()),
        meaning: "The API requires more than your current sign-in proves, e.g. multi-factor \
                  authentication (Conditional Access)."
            .into(),
        cause: "It answered 401 with a claims challenge: the token it got does not carry the \
                claims it needs."
            .into(),
        fix: "Sign in again: the identity provider asks for the extra step, and the call then \
              works."
            .into(),
        action: ProblemAction::SignIn {
            url: sign_in,
            label: "Sign in again".into(),
        },
        ..Problem::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &'static str) -> axum::http::HeaderName {
        axum::http::HeaderName::from_static(s)
    }

    #[test]
    fn a_claims_challenge_is_read_from_the_apis_401() {
        use base64::Engine as _;
        let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            name("www-authenticate"),
            HeaderValue::from_str(&format!(
                r#"Bearer realm="api", error="insufficient_claims", claims="{}""#,
                base64::engine::general_purpose::STANDARD.encode(claims)
            ))
            .unwrap(),
        );
        let read: serde_json::Value =
            serde_json::from_str(&claims_challenge(&headers).unwrap()).unwrap();
        assert_eq!(read["access_token"]["acrs"]["value"], "c1");

        let mut plain = HeaderMap::new();
        plain.insert(
            name("www-authenticate"),
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        assert_eq!(claims_challenge(&plain), None);
    }
}
