//! What an operator sees of this server: log lines, and traces when an OTLP endpoint is set.
//!
//! Logs: text by default (`scripts/dev.sh`), or `LOG_FORMAT=json` for one JSON object per
//! line carrying the trace and span ids ([`json`]); `RUST_LOG` chooses the level (`info`).
//! Traces: exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only
//! form) is set, configured by the standard `OTEL_*` variables ([`otlp`]); unset, no
//! exporter, no OpenTelemetry layer and no request spans exist. The spans are made where the
//! work is done: inbound requests and outbound calls in [`http`], the session store in
//! [`crate::store::health`], the token caches in [`crate::tokens`].

pub mod http;
mod json;
mod otlp;

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::FilterExt, layer::SubscriberExt as _,
    util::SubscriberInitExt as _,
};

/// Whether spans are exported: request spans are made only then.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The trace pipeline, kept for the process's life: [`Telemetry::shutdown`] sends what is
/// still buffered.
#[must_use = "dropping it stops nothing, but its shutdown sends the last spans"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans ended so far, waiting for the collector's answer.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(err) = provider.force_flush()
        {
            tracing::warn!("the trace exporter could not send its spans: {err}");
        }
    }

    /// Sends what is buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("the trace exporter did not stop cleanly: {err}");
        }
    }
}

/// Installs logging and, when configured, trace export. A setting that cannot work (an
/// unknown `LOG_FORMAT`, an OTLP protocol this build does not speak) stops the start with
/// the fix. A second call (tests) keeps the first installation.
pub fn init() -> Result<Telemetry, String> {
    let json = match std::env::var("LOG_FORMAT").ok().as_deref() {
        None | Some("" | "text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(format!(
                "LOG_FORMAT={other:?} is not a log format: use `text` (the default) or `json`."
            ));
        }
    };
    let provider = otlp::provider_from_env()?;
    let log_filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // While exporting: every span at `info` (whatever `RUST_LOG` says, `warn` in production
    // must not switch traces off) but tower-sessions' (a `call` span around each request
    // that says nothing the request's own does not); events as `RUST_LOG` says, since they
    // become span events. The log lines get the same spans, so that a `warn` line still
    // names its request and trace.
    let exported_spans = || {
        tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_span()
                && meta.level() <= &tracing::Level::INFO
                && !meta.target().starts_with("tower_sessions")
        })
    };
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("entra-bff"))
            .with_filter(exported_spans().or(log_filter()))
    });
    let log_filter = match &provider {
        Some(_) => FilterExt::boxed(log_filter().or(exported_spans())),
        None => FilterExt::boxed(log_filter()),
    };
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .event_format(json::JsonLines)
            .with_filter(log_filter)
            .boxed()
    } else {
        // Colour codes only for a person at a terminal: in a file or a container's log
        // pipeline they are noise around every field.
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_filter(log_filter)
            .boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(traces)
        .with(logs)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Telemetry { provider })
}

/// Whether spans are exported (and so worth making).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The trace id of the request being served, when traces are exported: shown on problem
/// pages so that a user's screenshot leads to the trace.
pub fn trace_id() -> Option<String> {
    http::request_trace_id()
}

/// A span for one store operation: `system` is `redis`, `sqlite` or `memory`, `operation`
/// what it does (`load`, `save`, `obo_get`, `lock`).
pub fn store_span(system: &'static str, operation: &'static str) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "store",
        otel.name = %format_args!("{system} {operation}"),
        otel.kind = "client",
        db.system.name = system,
        db.operation.name = operation,
        otel.status_code = tracing::field::Empty,
    )
}

/// A span around obtaining a token (`on_behalf_of`, `client_credentials`) for `scopes`,
/// from a cache or the identity provider: `cache.hit` and `bff.cache.tier` say which.
pub fn token_span(kind: &'static str, scopes: impl FnOnce() -> String) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    let scopes = scopes();
    tracing::info_span!(
        "token",
        otel.name = %format_args!("token {kind}"),
        bff.token.kind = kind,
        bff.token.scopes = %scopes,
        cache.hit = tracing::field::Empty,
        bff.cache.tier = tracing::field::Empty,
    )
}

/// A cache lookup on the trace: a span of no length saying whether `cache` had the entry.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    if exporting() {
        let _lookup = tracing::info_span!(
            "cache",
            otel.name = %format_args!("{cache} cache"),
            cache.name = cache,
            cache.hit = hit,
        );
    }
}
