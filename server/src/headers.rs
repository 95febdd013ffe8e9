//! Headers every response carries: no framing by other sites (`frame-ancestors 'none'` and
//! `X-Frame-Options`), no MIME sniffing, no referrer to other origins, HSTS over HTTPS, and
//! `Cache-Control: no-store` on everything but static files, so that a profile or a decoded
//! token never comes back from the browser's cache (or back/forward cache) after sign-out on
//! a shared computer (OWASP Session Management Cheat Sheet, "Web Content Caching").

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// Sets the Content-Security-Policy of a rendered page, inside its Leptos context: scripts
/// from this origin or carrying this response's nonce (Leptos puts it on its hydration,
/// streaming and reload scripts), WebAssembly compilation, no plugins, no `<base>`, no
/// framing, and no `unsafe-inline` anywhere.
pub fn set_page_csp() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'{}",
        live_reload_source()
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Under `cargo leptos watch` (which sets `LEPTOS_WATCH`), the page's live-reload script opens
/// a WebSocket to the reload port, another origin: allowed then, and only then.
fn live_reload_source() -> &'static str {
    static WATCH: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *WATCH.get_or_init(|| std::env::var_os("LEPTOS_WATCH").is_some()) {
        "; connect-src 'self' ws: wss:"
    } else {
        ""
    }
}

/// Marks a response the identity provider may frame (set with its `frame-ancestors`): no
/// `X-Frame-Options: DENY` then.
#[derive(Clone, Copy)]
pub struct FramableByIdentityProvider;

/// Whether HSTS applies (the app is served over HTTPS).
#[derive(Clone, Copy)]
pub struct Https(pub bool);

/// The middleware; applied to the whole router.
pub async fn secure(State(Https(https)): State<Https>, request: Request, next: Next) -> Response {
    let cacheable = is_static_file(request.uri().path());
    let mut response = next.run(request).await;
    let response_framable = response
        .extensions()
        .get::<FramableByIdentityProvider>()
        .copied();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The front-channel sign-out is framed by the identity provider (its own CSP names it);
    // everything else may not be framed at all.
    if response_framable.is_none() {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Files under `/pkg` (the WASM, JS and CSS) and the public files: the same for everyone.
pub fn is_static_file(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/favicon.ico"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_files_may_be_cached() {
        assert!(is_static_file("/pkg/entra-bff.wasm"));
        assert!(is_static_file("/favicon.svg"));
        for path in ["/", "/tokens", "/api/profile", "/auth/login", "/pkgx"] {
            assert!(!is_static_file(path), "{path}");
        }
    }
}
