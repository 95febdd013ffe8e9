//! The rate limit of `/auth/*` per client address: every sign-in start writes a pending
//! sign-in to the session store, so an unbounded client could grow the store (and make
//! this app hammer the identity provider). Built on `tower_governor` (GCRA).
//!
//! The client address is the TCP peer, which behind a reverse proxy is the proxy itself:
//! set `TRUST_FORWARDED_FOR=true` there, and only there, to read `X-Forwarded-For`,
//! `X-Real-Ip` or `Forwarded` instead (a client reaching the server directly could forge
//! them).

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Response, StatusCode, header},
};
use tower_governor::{
    GovernorError, GovernorLayer,
    governor::GovernorConfigBuilder,
    key_extractor::{KeyExtractor, PeerIpKeyExtractor, SmartIpKeyExtractor},
};

/// How many `/auth/*` requests one client may make.
#[derive(Debug, Clone, Copy)]
pub struct AuthRateLimit {
    /// Requests allowed at once (a burst), e.g. several tabs signing in.
    pub burst: u32,
    /// Requests per minute sustained.
    pub per_minute: u32,
    /// Read the client address from the proxy's forwarding headers.
    pub trust_forwarded_for: bool,
}

impl Default for AuthRateLimit {
    fn default() -> Self {
        Self {
            burst: 30,
            per_minute: 60,
            trust_forwarded_for: false,
        }
    }
}

/// `router` behind the limit.
pub fn limit(router: Router, limit: &AuthRateLimit) -> Router {
    if limit.trust_forwarded_for {
        apply(router, SmartIpKeyExtractor, limit)
    } else {
        apply(router, PeerIpKeyExtractor, limit)
    }
}

fn apply<K>(router: Router, key: K, limit: &AuthRateLimit) -> Router
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    let period = Duration::from_secs(60) / limit.per_minute.max(1);
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .key_extractor(key)
            .period(period)
            .burst_size(limit.burst.max(1))
            .finish()
            .expect("a non-zero period and burst"),
    );
    // The limiter keeps a cell per client address: forget the idle ones.
    let limiter = config.limiter().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            limiter.retain_recent();
        }
    });
    router.layer(GovernorLayer::new(config).error_handler(too_many))
}

/// 429 with `Retry-After` and a sentence; never a 500 for a request without an address.
fn too_many(error: GovernorError) -> Response<Body> {
    let (status, wait, text) = match error {
        GovernorError::TooManyRequests { wait_time, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(wait_time.max(1)),
            format!(
                "Too many sign-in requests from your address. Wait {} s and try again.",
                wait_time.max(1)
            ),
        ),
        GovernorError::UnableToExtractKey => (
            StatusCode::BAD_REQUEST,
            None,
            "The client address of this request is unknown.".to_owned(),
        ),
        GovernorError::Other { code, msg, .. } => {
            (code, None, msg.unwrap_or_else(|| "Request refused.".into()))
        }
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    if let Some(wait) = wait {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}
