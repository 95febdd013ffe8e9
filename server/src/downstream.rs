//! Named downstream APIs ([`crate::config::DownstreamApi`]) called On-Behalf-Of the user:
//! the proxy route `/api/downstream/{name}/{*path}` (as Duende BFF's remote APIs), and the
//! Call API page's GET of each.
//!
//! The proxy is for signed-in users only, checked against CSRF as server functions are (the
//! `x-csrf: 1` header and a same-origin request, for every method), and forwards only the
//! API's allowed paths and methods. It forwards the method, query and body (read whole, at
//! most [`listener::MAX_BODY_BYTES`], so that it can be sent again with a new token when the
//! API's claims challenge is answered) and a short list of headers (`FORWARDED`) with a
//! bearer token obtained On-Behalf-Of the user (cached per API), never the browser's cookies
//! or `Authorization`, and streams the answer back (at most [`MAX_ANSWER_BYTES`], within
//! [`crate::bff::api_call::CALL_TIMEOUT`]) without the API's cookies or headers that would change how
//! the browser treats this app (`NOT_RETURNED`). The API's `401` with a claims challenge goes
//! through the step-up path ([`crate::bff`]); failures of On-Behalf-Of itself (AADSTS65001,
//! 50076, ...) are the same problems the Call API page shows.

use std::sync::Arc;

use app::{
    error::AppError,
    model::{Problem, ProblemAction},
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

use crate::{
    bff::{BffService, api_call::ApiRequest},
    config::is_clean_path,
    csrf::check_api_proof,
};

/// Where the proxy is served.
pub const PROXY_PREFIX: &str = "/api/downstream/";
/// The most of an API's answer the proxy passes on.
pub const MAX_ANSWER_BYTES: usize = 10 * 1024 * 1024;

/// The request headers forwarded to an API: content negotiation, conditional requests and
/// tracing. Nothing else: not the browser's credentials for this app (`Cookie`,
/// `Authorization`), not hop-by-hop headers, and none of the headers some frameworks let
/// override the method, the path or the client address (`X-HTTP-Method-Override`,
/// `X-Original-URL`, `X-Forwarded-For`, ...), which would slip past the allowed lists.
const FORWARDED: [&str; 12] = [
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
    let body = if matches!(parts.method, Method::GET | Method::HEAD) {
        None
    } else {
        match Limited::new(body, listener::MAX_BODY_BYTES).collect().await {
            Ok(collected) => Some(collected.to_bytes()),
            Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
        }
    };
    let request = ApiRequest {
        method: parts.method.clone(),
        path: &path,
        query: parts.uri.query(),
        headers,
        body,
    };
    let (response, _) = bff
        .call(parts, &signed_in, api, request)
        .await
        .map_err(answer)?;

    let status = response.status();
    // The browser's fetch would follow a redirect with the method, body and `x-csrf` header,
    // into another API's proxy route or this app's own sign-out: not passed on. (304 is a
    // cache answer, not a redirect.)
    if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
        let problem = Problem {
            title: format!(
                "The API {api_name:?} answered with a redirect (HTTP {})",
                status.as_u16()
            ),
            error: Some(format!("HTTP {}", status.as_u16())),
            meaning: "The API received the request (it may have acted on it) and answered with \
                      a redirect, which this proxy does not pass to the browser: the browser \
                      would follow it with this app's credentials."
                .into(),
            cause: "The path or the API's BASE_URL is not the address the API serves (e.g. \
                    http:// where it redirects to https://), or the API redirects after a \
                    change (303)."
                .into(),
            fix: format!(
                "Call the address the API redirects to directly: fix the path, or the BASE_URL \
                 of {api_name:?}; an API meant for this proxy answers without redirects."
            ),
            action: ProblemAction::None,
            request_trace_id: crate::telemetry::trace_id(),
            ..Problem::default()
        };
        return Err((
            StatusCode::BAD_GATEWAY,
            Json(AppError::Problem(Box::new(problem))),
        )
            .into_response());
    }
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
        request_trace_id: crate::telemetry::trace_id(),
        ..Problem::default()
    };
    (status, Json(AppError::Problem(Box::new(problem)))).into_response()
}
