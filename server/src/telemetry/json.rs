//! `LOG_FORMAT=json`: one JSON object per line, with the trace and span ids of the request
//! it belongs to, so that a log search leads to the trace and back.
//!
//! tracing-subscriber's own JSON format knows nothing of OpenTelemetry's ids; this one
//! writes `timestamp`, `level`, `target`, `message`, the event's other fields under
//! `fields`, the names of the spans it happened in under `spans`, and `trace_id` / `span_id`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer, time::FormatTime as _},
    registry::LookupSpan,
};

pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut fields = fields.0;
        let message = fields.remove("message").unwrap_or(Value::Null);

        let mut line = Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("target".into(), event.metadata().target().into());
        line.insert("message".into(), message);
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope.from_root().map(|s| s.name().into()).collect();
            line.insert("spans".into(), spans.into());
        }
        // The innermost span the trace exporter knows (spans it leaves out, tower-sessions',
        // have no ids of their own).
        let ids = ctx.event_scope().into_iter().flatten().find_map(|span| {
            let extensions = span.extensions();
            let otel = extensions.get::<tracing_opentelemetry::OtelData>()?;
            Some((otel.trace_id()?, otel.span_id()?))
        });
        if let Some((trace, id)) = ids {
            line.insert("trace_id".into(), trace.to_string().into());
            line.insert("span_id".into(), id.to_string().into());
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_line_is_one_object_with_its_requests_trace_and_span_ids() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let writer = lines.clone();
        // As in production: the exporter leaves some spans out.
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                        meta.name() != "left_out"
                    })),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonLines)
                    .with_writer(move || writer.clone()),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before any request");
            let span = tracing::info_span!("request");
            let _entered = span.enter();
            let inner = tracing::info_span!("left_out");
            let _inner = inner.enter();
            tracing::warn!(user = "adele", count = 3, "signed in");
            let context = span.context();
            let ids = context.span().span_context().clone();
            (ids.trace_id().to_string(), ids.span_id().to_string())
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "before any request");
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
        let line = &lines[1];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "signed in");
        assert_eq!(line["fields"]["user"], "adele");
        assert_eq!(line["fields"]["count"], 3);
        assert_eq!(line["spans"], serde_json::json!(["request", "left_out"]));
        assert_eq!(line["trace_id"], trace_id.as_str());
        assert_eq!(line["span_id"], span_id.as_str());
        assert!(line["timestamp"].as_str().unwrap().starts_with("20"));
    }
}
