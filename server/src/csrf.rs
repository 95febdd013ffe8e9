//! Cross-site request forgery defence for state-changing requests.
//!
//! Server functions must carry the static header `x-csrf: 1` (a cross-site page cannot
//! send it without a CORS preflight this server never grants) and must not come from
//! another site by `Sec-Fetch-Site` or `Origin`. The sign-out form (a plain HTML form, so no
//! custom header) is checked by `Sec-Fetch-Site` / `Origin` alone. Refusals are a 403 that
//! says what was missing.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::Url;

/// Checks that a request comes from this site: `Sec-Fetch-Site` (sent by every current
/// browser) must be `same-origin`, and `Origin`, when present, must be this app's. A header
/// that is present but unreadable (not visible ASCII) fails the check: fail closed, never
/// treat it as absent.
pub fn check_same_origin(headers: &HeaderMap, public_url: &Url) -> Result<(), String> {
    let read = |name: &str| match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| format!("the request's {name} header is not readable")),
    };
    if let Some(site) = read("sec-fetch-site")?
        && site != "same-origin"
    {
        return Err(format!(
            "the request came from another site (Sec-Fetch-Site: {site})"
        ));
    }
    let expected = public_url.origin().ascii_serialization();
    if let Some(origin) = read(http::header::ORIGIN.as_str())?
        && origin != expected
    {
        return Err(format!(
            "the request's Origin {origin} is not this app's ({expected})"
        ));
    }
    Ok(())
}

/// What a call from this app's own page scripts carries (server functions, the downstream
/// proxy): the static anti-CSRF header, from this site.
pub fn check_api_proof(headers: &HeaderMap, public_url: &Url) -> Result<(), String> {
    let (name, value) = app::api::CSRF_HEADER;
    let has_header = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == value);
    if !has_header {
        return Err(format!("the anti-CSRF header `{name}: {value}` is missing"));
    }
    check_same_origin(headers, public_url)
}

/// Leptos answers a body it cannot parse with a 500, before the server function runs; such
/// an answer carries [`AppError::BadRequest`](app::error::AppError::BadRequest), and is the
/// caller's mistake: a 400.
async fn with_client_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer could not be read",
        )
            .into_response();
    };
    if matches!(
        serde_json::from_slice::<app::error::AppError>(&bytes),
        Ok(app::error::AppError::BadRequest)
    ) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn is_same_origin(value: &http::HeaderValue, public_url: &Url) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|v| Url::parse(v).ok())
        .is_some_and(|url| url.origin() == public_url.origin())
}

/// A server-function body larger than this is refused with a 413, declared or chunked.
pub const API_MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads a server-function body within [`API_MAX_BODY_BYTES`]: a body that is too long is
/// a 413 whether its length was declared or it came in chunks (Leptos would call a cut-off
/// body malformed).
async fn bounded(request: Request) -> Result<Request, Response> {
    use http_body_util::BodyExt as _;
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, API_MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(Request::from_parts(
            parts,
            axum::body::Body::from(collected.to_bytes()),
        )),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "413 Payload Too Large: a request body may have {API_MAX_BODY_BYTES} bytes at most."
            ),
        )
            .into_response()),
        Err(_) => Err((
            StatusCode::BAD_REQUEST,
            "400 Bad Request: the request body could not be read.",
        )
            .into_response()),
    }
}

/// Middleware for the server-function routes.
pub async fn require_api_proof(
    State(public_url): State<Url>,
    mut request: Request,
    next: Next,
) -> Response {
    // leptos_axum answers a server-function call that accepts `text/html` (a form posted
    // without JavaScript) with a redirect to its `Referer`: only ever to this app's pages.
    let foreign_referer = request
        .headers()
        .get(http::header::REFERER)
        .is_some_and(|referer| !is_same_origin(referer, &public_url));
    if foreign_referer {
        request.headers_mut().remove(http::header::REFERER);
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        // Leptos server functions are POST; GET ones must not change state.
        return next.run(request).await;
    }
    match check_api_proof(request.headers(), &public_url) {
        Ok(()) => match bounded(request).await {
            Ok(request) => with_client_error_status(next.run(request).await).await,
            Err(refused) => refused,
        },
        Err(reason) => {
            tracing::warn!(path = %request.uri().path(), "refused: {reason}");
            (
                StatusCode::FORBIDDEN,
                format!(
                    "403 Forbidden: {reason}. Server functions are called by this app's own \
                     pages only."
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        let url = Url::parse("http://localhost:3000").unwrap();
        assert!(check_same_origin(&headers(&[]), &url).is_ok());
        assert!(
            check_same_origin(
                &headers(&[
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "http://localhost:3000")
                ]),
                &url
            )
            .is_ok()
        );
        assert!(check_same_origin(&headers(&[("sec-fetch-site", "cross-site")]), &url).is_err());
        assert!(check_same_origin(&headers(&[("sec-fetch-site", "same-site")]), &url).is_err());
        assert!(check_same_origin(&headers(&[("origin", "http://evil.example")]), &url).is_err());
        assert!(check_same_origin(&headers(&[("origin", "null")]), &url).is_err());
    }

    #[test]
    fn unreadable_fetch_metadata_or_origin_counts_as_cross_site() {
        let url = Url::parse("http://localhost:3000").unwrap();
        for name in ["sec-fetch-site", "origin"] {
            let mut map = HeaderMap::new();
            map.insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_bytes(b"same-origin\xff").unwrap(),
            );
            let err = check_same_origin(&map, &url).unwrap_err();
            assert!(err.contains("not readable"), "{err}");
        }
    }
}
