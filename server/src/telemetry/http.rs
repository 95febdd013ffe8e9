//! Spans of HTTP, with the semantic conventions' attribute names.
//!
//! Inbound: a server span per request, named by its route pattern (`GET /api/{*fn_name}`,
//! never the raw path), with its status; it joins the caller's trace from `traceparent`
//! only when the operator trusts the caller ([`Traceparent::Trusted`]: a browser can put
//! anything there). Outbound: a client span per call ([`client_span`]), sending
//! `traceparent` to Graph and downstream APIs ([`PeerCall`]) and recording what the answer
//! says of itself (Graph's `request-id` and error code). Calls to Entra use the same span
//! with Entra's own ids ([`crate::entra::traced::EntraCall`]).
//!
//! No span holds a URL's query, a header value other than these ids, or a body: tokens,
//! codes and cookies travel in exactly those places.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use tracing::{Instrument as _, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use url::Url;

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
pub(crate) fn client_span(name: &str, method: &str, url: &Url) -> Span {
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

    /// Sends `request` with `headers` (which replace any of the same name already on it, so
    /// never `Authorization`), this call's trace context among them, in its span; records the
    /// answer's status and ids, or the failure (without the URL, which may hold a query an API
    /// takes keys in).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        mut headers: HeaderMap,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.propagate(&mut headers);
        let sent = request
            .headers(headers)
            .send()
            .instrument(self.span.clone())
            .await
            .map_err(reqwest::Error::without_url);
        match &sent {
            Ok(response) => self.answered(response.status().as_u16(), response.headers()),
            Err(err) => self.failed(&err.to_string()),
        }
        sent
    }

    /// Puts this call's W3C `traceparent` (and `tracestate`) into `headers`, in place of
    /// anything the browser sent (a browser's trace context never reaches an API: it could
    /// name any trace); none when traces are not exported.
    fn propagate(&self, headers: &mut HeaderMap) {
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

    fn answered(&self, status: u16, headers: &HeaderMap) {
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

pub(crate) fn record_answer(span: &Span, status: u16) {
    span.record("http.response.status_code", status);
    if status >= 400 {
        span.record("otel.status_code", "ERROR");
    }
}

pub(crate) fn failed(span: &Span, what: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", what);
}
