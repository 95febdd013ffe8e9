//! The instance's metrics, in the Prometheus text format: requests by route, sign-ins and
//! their failures by AADSTS code, refreshes, the OBO cache, lock waits, and the session
//! store's latency and errors. Counts and durations only: no user, key or token.
//!
//! One registry per [`crate::startup::Application`], not a process-global recorder, so that
//! tests running several instances in one process read each instance's own figures.

use std::time::Duration;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (`/api/downstream/{name}/{*path}`), never the raw path.
    pub route: String,
    /// A standard method, or `other`: the request names it, so it must not mint label sets.
    pub method: &'static str,
    pub status: String,
}

/// A request method as a label: the nine standard ones by name, anything else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// The AADSTS code, or the OAuth error when the provider gave no code.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    /// `process` (this instance's memory) or `redis` (shared by every instance).
    pub tier: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LockLabels {
    /// `refresh` (one sign-in token refresh per session) or `obo` (one exchange per key).
    pub lock: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    /// The store operation: `load`, `save`, `delete`, `lock`, `obo_get`, ...
    pub op: &'static str,
}

fn seconds() -> Histogram {
    // 0.5 ms to ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram>,
    pub sign_ins: Counter,
    pub sign_in_failures: Family<CodeLabels, Counter>,
    pub front_channel_sign_outs: Counter,
    pub refreshes: Counter,
    pub obo_exchanges: Counter,
    pub obo_cache_hits: Family<TierLabels, Counter>,
    pub lock_waits: Family<LockLabels, Counter>,
    pub store_errors: Family<OpLabels, Counter>,
    pub store_seconds: Family<OpLabels, Histogram>,
    pub obo_cache_entries: Gauge,
    pub obo_cache_bytes: Gauge,
    pub obo_cache_max_bytes: Gauge,
    pub profile_cache_entries: Gauge,
    pub profile_cache_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("bff");
        let m = Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(seconds),
            sign_ins: Counter::default(),
            sign_in_failures: Family::default(),
            front_channel_sign_outs: Counter::default(),
            refreshes: Counter::default(),
            obo_exchanges: Counter::default(),
            obo_cache_hits: Family::default(),
            lock_waits: Family::default(),
            store_errors: Family::default(),
            store_seconds: Family::new_with_constructor(seconds),
            obo_cache_entries: Gauge::default(),
            obo_cache_bytes: Gauge::default(),
            obo_cache_max_bytes: Gauge::default(),
            profile_cache_entries: Gauge::default(),
            profile_cache_bytes: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "Requests answered, by route pattern, method and status",
            m.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer, by route pattern",
            m.request_seconds.clone(),
        );
        r.register("sign_ins", "Completed sign-ins", m.sign_ins.clone());
        r.register(
            "sign_in_failures",
            "Sign-ins that failed at the callback, by AADSTS code (or OAuth error)",
            m.sign_in_failures.clone(),
        );
        r.register(
            "front_channel_sign_outs",
            "Sessions ended by the identity provider's front-channel sign-out",
            m.front_channel_sign_outs.clone(),
        );
        r.register(
            "token_refreshes",
            "Sign-in token refreshes at the identity provider",
            m.refreshes.clone(),
        );
        r.register(
            "obo_exchanges",
            "On-Behalf-Of exchanges at the identity provider",
            m.obo_exchanges.clone(),
        );
        r.register(
            "obo_cache_hits",
            "On-Behalf-Of tokens served from a cache, by tier",
            m.obo_cache_hits.clone(),
        );
        r.register(
            "lock_waits",
            "Requests that waited for another request's refresh or exchange",
            m.lock_waits.clone(),
        );
        r.register(
            "session_store_errors",
            "Failed session store (or Redis) operations",
            m.store_errors.clone(),
        );
        r.register(
            "session_store_duration_seconds",
            "Session store (or Redis) operation latency",
            m.store_seconds.clone(),
        );
        r.register(
            "obo_cache_entries",
            "Tokens in this instance's OBO cache",
            m.obo_cache_entries.clone(),
        );
        r.register(
            "obo_cache_bytes",
            "Weighted bytes in this instance's OBO cache",
            m.obo_cache_bytes.clone(),
        );
        r.register(
            "obo_cache_max_bytes",
            "The OBO cache's bound in bytes",
            m.obo_cache_max_bytes.clone(),
        );
        r.register(
            "profile_cache_entries",
            "Graph profiles in this instance's cache (one per session)",
            m.profile_cache_entries.clone(),
        );
        r.register(
            "profile_cache_bytes",
            "Weighted bytes in this instance's profile cache",
            m.profile_cache_bytes.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Registers the client credential's counter of fallbacks to the next configured
    /// credential.
    pub fn register_credential(&mut self, credential: &crate::credential::ClientCredential) {
        self.registry.register(
            "client_credential_fallbacks",
            "Token requests whose client credential Entra refused as expired or invalid and the next configured one served",
            credential.fallbacks.clone(),
        );
    }

    /// Records one store operation's latency, and its failure.
    pub fn store_call(&self, op: &'static str, took: Duration, failed: bool) {
        let labels = OpLabels { op };
        self.store_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if failed {
            self.store_errors.get_or_create(&labels).inc();
        }
    }
}

/// Middleware: counts every request and its latency by route pattern (never the raw path:
/// one series per route, whatever clients send).
pub async fn count_requests(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            if request.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "unmatched".into()
            }
        });
    let method = method_label(request.method());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16().to_string(),
        })
        .inc();
    response
}
