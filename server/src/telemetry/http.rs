//! Spans of HTTP, with the semantic conventions' attribute names.
//!
//! Inbound: a server span per request, named by its route pattern (`GET /api/{*fn_name}`,
//! never the raw path), with its status; it joins the caller's trace from `traceparent`
//! only when the operator trusts the caller ([`Traceparent::Trusted`]: a browser can put
//! anything there). Outbound: a client span per call, sending `traceparent` to Graph and
//! downstream APIs and a fresh `client-request-id` to Entra (the id Microsoft's support
//! asks for), and recording what the answer says of itself: Entra's `x-ms-request-id`,
//! `trace_id`, `correlation_id` and AADSTS code, Graph's `request-id` and error code.
//!
//! No span holds a URL's query, a header value other than these ids, or a body: tokens,
//! codes and cookies travel in exactly those places.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use http::{HeaderMap, HeaderValue};
use opentelemetry::propagation::TextMapPropagator as _;
use tracing::{Instrument as _, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use url::Url;

use crate::entra::EntraErrorBody;

/// Whether an inbound `traceparent` is taken as the request's parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traceparent {
    /// From a gateway or a service that starts traces (`TRUST_TRACEPARENT=true`; the
    /// Weather API trusts the BFF that calls it).
    Trusted,
    /// From anyone: each request starts its own trace.
    Ignored,
}

/// Middleware: the server span of one request. Made only while traces are exported.
pub async fn server_span(
    State(traceparent): State<Traceparent>,
    request: Request,
    next: Next,
) -> Response {
    if !super::exporting() {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref(),
        http.response.status_code = Empty,
        otel.status_code = Empty,
        trace_id = Empty,
    );
    if traceparent == Traceparent::Trusted {
        let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .extract(&opentelemetry_http::HeaderExtractor(request.headers()));
        let _ = span.set_parent(parent);
    }
    // In every log line of the request, text or JSON, and on its problem pages.
    let trace_id = trace_id_of(&span).unwrap_or_default();
    span.record("trace_id", trace_id.as_str());
    let response = REQUEST_TRACE_ID
        .scope(trace_id, next.run(request).instrument(span.clone()))
        .await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

tokio::task_local! {
    /// The trace id of the request this task serves.
    static REQUEST_TRACE_ID: String;
}

/// The trace id of the request being served, if traces are exported and this runs in its
/// task. Not read from the current span: spans that the exporter leaves out (tower-sessions')
/// have no trace of their own.
pub fn request_trace_id() -> Option<String> {
    REQUEST_TRACE_ID
        .try_with(Clone::clone)
        .ok()
        .filter(|id| !id.is_empty())
}

fn trace_id_of(span: &Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let context = span.context();
    let ids = context.span().span_context().clone();
    ids.is_valid().then(|| ids.trace_id().to_string())
}

/// A client span for a call to `url`, named `name` (`POST /oauth2/v2.0/token`, `GET
/// /v1.0/me`). Every field a call may record is declared here; unrecorded ones are not
/// exported.
fn client_span(name: &str, method: &str, url: &Url) -> Span {
    if !super::exporting() {
        return Span::none();
    }
    tracing::info_span!(
        "call",
        otel.name = name,
        otel.kind = "client",
        http.request.method = method,
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default(),
        http.response.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
        entra.operation = Empty,
        entra.grant_type = Empty,
        entra.client_request_id = Empty,
        entra.request_id = Empty,
        entra.error_code = Empty,
        entra.trace_id = Empty,
        entra.correlation_id = Empty,
        graph.request_id = Empty,
        graph.error_code = Empty,
        bff.api = Empty,
    )
}

/// One call to the identity provider: its span, and the `client-request-id` it carries.
pub struct EntraCall {
    span: Span,
    client_request_id: String,
    /// Entra's `x-ms-request-id` of the answer, for the log line of a refusal.
    request_id: std::sync::OnceLock<String>,
}

impl EntraCall {
    /// `operation` is `discovery`, `keys`, `token` or `managed_identity`; a token request
    /// names its `grant_type` (`on_behalf_of` for the JWT-bearer grant).
    pub fn start(
        operation: &'static str,
        method: &str,
        url: &Url,
        grant_type: Option<&str>,
    ) -> Self {
        let span = if super::exporting() {
            client_span(&format!("{method} {}", url.path()), method, url)
        } else {
            Span::none()
        };
        span.record("entra.operation", operation);
        if let Some(grant) = grant_type {
            span.record("entra.grant_type", grant_name(grant));
        }
        let client_request_id = uuid::Uuid::new_v4().to_string();
        span.record("entra.client_request_id", client_request_id.as_str());
        Self {
            span,
            client_request_id,
            request_id: std::sync::OnceLock::new(),
        }
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    /// The call's `client-request-id`, and the ask to echo it.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "client-request-id",
            HeaderValue::from_str(&self.client_request_id).expect("a UUID is a header value"),
        );
        headers.insert("return-client-request-id", HeaderValue::from_static("true"));
        headers
    }

    pub fn answered(&self, status: u16, headers: &HeaderMap) {
        record_answer(&self.span, status);
        if let Some(id) = headers.get("x-ms-request-id").and_then(|v| v.to_str().ok()) {
            self.span.record("entra.request_id", id);
            let _ = self.request_id.set(id.to_owned());
        }
    }

    /// Entra's refusal on the span (its code, trace and correlation ids) and as one log
    /// line with the catalogue's short meaning, which is also the span event's message.
    pub fn refused(&self, body: &EntraErrorBody) {
        let code = body.code();
        let meaning = code
            .and_then(crate::aadsts::title_of)
            .unwrap_or("the identity provider refused the request");
        self.span.record("otel.status_code", "ERROR");
        self.span.record("otel.status_description", meaning);
        if let Some(code) = code {
            self.span.record("entra.error_code", code);
        }
        if let Some(id) = &body.trace_id {
            self.span.record("entra.trace_id", id.as_str());
        }
        if let Some(id) = &body.correlation_id {
            self.span.record("entra.correlation_id", id.as_str());
        }
        self.span.in_scope(|| {
            tracing::warn!(
                entra.error = %body.error,
                entra.error_code = code,
                entra.trace_id = body.trace_id.as_deref(),
                entra.correlation_id = body.correlation_id.as_deref(),
                entra.client_request_id = %self.client_request_id,
                entra.request_id = self.request_id.get().map(String::as_str),
                "the identity provider refused: {meaning}"
            );
        });
    }

    /// No answer (transport, timeout), or one that could not be read.
    pub fn failed(&self, what: &str) {
        failed(&self.span, what);
    }
}

/// The grant's name on a span: the JWT-bearer grant is On-Behalf-Of here.
fn grant_name(grant_type: &str) -> &str {
    match grant_type {
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => "on_behalf_of",
        other => other,
    }
}

/// One call to Graph or a downstream API, which joins this trace.
pub struct PeerCall {
    span: Span,
    graph: bool,
}

impl PeerCall {
    /// `name` is the span's name (`GET /v1.0/me`); `api` the downstream API's name, `None`
    /// for Graph.
    pub fn start(name: &str, method: &str, url: &Url, api: Option<&str>) -> Self {
        let span = client_span(name, method, url);
        if let Some(api) = api {
            span.record("bff.api", api);
        }
        Self {
            span,
            graph: api.is_none(),
        }
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Puts this call's W3C `traceparent` (and `tracestate`) into `headers`, in place of
    /// anything the browser sent (a browser's trace context never reaches an API: it could
    /// name any trace); none when traces are not exported.
    pub fn propagate(&self, headers: &mut HeaderMap) {
        for name in ["traceparent", "tracestate", "baggage"] {
            headers.remove(name);
        }
        if self.span.is_none() {
            return;
        }
        opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(
            &self.span.context(),
            &mut opentelemetry_http::HeaderInjector(headers),
        );
    }

    pub fn answered(&self, status: u16, headers: &HeaderMap) {
        record_answer(&self.span, status);
        if self.graph
            && let Some(id) = headers.get("request-id").and_then(|v| v.to_str().ok())
        {
            self.span.record("graph.request_id", id);
        }
    }

    /// Graph's error code (`InvalidAuthenticationToken`, `Authorization_RequestDenied`).
    pub fn graph_refused(&self, code: &str) {
        self.span.record("graph.error_code", code);
        self.span.record("otel.status_description", code);
    }

    pub fn failed(&self, what: &str) {
        failed(&self.span, what);
    }
}

fn record_answer(span: &Span, status: u16) {
    span.record("http.response.status_code", status);
    if status >= 400 {
        span.record("otel.status_code", "ERROR");
    }
}

fn failed(span: &Span, what: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", what);
}
