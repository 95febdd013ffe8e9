//! An OTLP/HTTP trace receiver on a free loopback port: it decodes each export with the
//! protocol's own types (`opentelemetry-proto`, prost) and keeps the spans for the tests.
//! It runs on a thread and runtime of its own, so that it outlives any one test.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::{span::SpanKind, status::StatusCode as OtlpStatus},
};
use prost::Message as _;

pub const SERVER: i32 = SpanKind::Server as i32;
pub const CLIENT: i32 = SpanKind::Client as i32;
pub const ERROR: i32 = OtlpStatus::Error as i32;

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct Exported {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    parent: String,
    kind: i32,
    attributes: Vec<(String, String)>,
    pub events: Vec<Event>,
    status: (i32, String),
    pub service: String,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    attributes: Vec<(String, String)>,
}

impl Exported {
    /// An attribute's value as text (`"303"`, `"true"`).
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub fn kind(&self) -> i32 {
        self.kind
    }

    pub fn status_code(&self) -> i32 {
        self.status.0
    }

    pub fn parent_hex(&self) -> &str {
        &self.parent
    }

    /// Every text the span carries: names, attribute keys and values, events, status.
    fn texts(&self) -> Vec<&str> {
        let mut texts = vec![self.name.as_str(), self.status.1.as_str()];
        for (k, v) in &self.attributes {
            texts.extend([k.as_str(), v.as_str()]);
        }
        for event in &self.events {
            texts.push(&event.name);
            for (k, v) in &event.attributes {
                texts.extend([k.as_str(), v.as_str()]);
            }
        }
        texts
    }
}

/// The spans received so far.
pub struct Spans {
    pub all: Vec<Exported>,
}

impl Spans {
    pub fn named(&self, name: &str) -> Option<&Exported> {
        self.all.iter().find(|s| s.name == name)
    }

    /// The server span named `name`.
    pub fn server(&self, name: &str) -> Option<&Exported> {
        self.all.iter().find(|s| s.name == name && s.kind == SERVER)
    }

    pub fn trace<'a>(&'a self, trace_id: &'a str) -> impl Iterator<Item = &'a Exported> {
        self.all.iter().filter(move |s| s.trace_id == trace_id)
    }

    pub fn in_trace<'a>(&'a self, span: &'a Exported) -> impl Iterator<Item = &'a Exported> {
        self.trace(&span.trace_id)
    }

    pub fn parent_of(&self, span: &Exported) -> Option<&Exported> {
        self.all
            .iter()
            .find(|s| s.trace_id == span.trace_id && s.span_id == span.parent)
    }

    /// The outermost span of `span`'s trace that was received, following parents.
    pub fn root_of<'a>(&'a self, mut span: &'a Exported) -> &'a Exported {
        while let Some(parent) = self.parent_of(span) {
            span = parent;
        }
        span
    }

    pub fn descends_from(&self, span: &Exported, ancestor: &Exported) -> bool {
        let mut span = span.clone();
        while let Some(parent) = self.parent_of(&span) {
            if parent.span_id == ancestor.span_id {
                return true;
            }
            span = parent.clone();
        }
        false
    }

    /// No span holds any of `secrets`, nor a compact JWT.
    pub fn assert_holds_none_of(&self, secrets: &[&str]) {
        assert!(!self.all.is_empty());
        for span in &self.all {
            for text in span.texts() {
                assert!(
                    !crate::common::contains_jwt(text),
                    "a span of {:?} holds a JWT: {text}",
                    span.name
                );
                for secret in secrets {
                    assert!(
                        !text.contains(secret),
                        "a span of {:?} holds a secret: {text}",
                        span.name
                    );
                }
            }
        }
    }
}

pub struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Exported>>>,
}

impl Receiver {
    pub fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = spans.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let router = Router::new()
                    .route("/v1/traces", post(export))
                    .with_state(state);
                axum::serve(listener, router).await.unwrap();
            });
        });
        Self { endpoint, spans }
    }

    /// The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub fn snapshot(&self) -> Spans {
        Spans {
            all: self.spans.lock().unwrap().clone(),
        }
    }

    /// The spans once `until` holds of them (the exporter sends every 100 ms here).
    pub async fn wait_for(&self, until: impl Fn(&Spans) -> bool) -> Spans {
        for _ in 0..150 {
            let spans = self.snapshot();
            if until(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let names: Vec<String> = self.snapshot().all.into_iter().map(|s| s.name).collect();
        panic!("the spans never arrived; received: {names:?}");
    }
}

async fn export(
    State(spans): State<Arc<Mutex<Vec<Exported>>>>,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(Exported {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: pairs(&span.attributes),
                    events: span
                        .events
                        .iter()
                        .map(|e| Event {
                            name: e.name.clone(),
                            attributes: pairs(&e.attributes),
                        })
                        .collect(),
                    status: span.status.map(|s| (s.code, s.message)).unwrap_or_default(),
                    service: service.clone(),
                });
            }
        }
    }
    spans.lock().unwrap().extend(received);
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
