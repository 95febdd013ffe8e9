//! How a request reaches the identity provider: in a client span that names what it is
//! (a token request by its grant type), carrying a fresh `client-request-id`, with Entra's
//! refusal recorded on the span and logged with the ids support asks for ([`EntraCall`]):
//! Entra's `x-ms-request-id`, `trace_id`, `correlation_id` and AADSTS code.

use axum::body::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use tracing::{Instrument as _, Span};
use url::Url;

use super::{EntraErrorBody, IdpError};
use crate::telemetry::http::{client_span, failed, record_answer};

/// An answer of the identity provider, whatever its status.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `request` (`operation`: `token`, `discovery`, ...; `endpoint` names it in errors).
pub(super) async fn send(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    operation: &'static str,
    endpoint: &'static str,
) -> Result<Answer, IdpError> {
    let grant_type = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .and_then(|form| {
            url::form_urlencoded::parse(form)
                .find(|(name, _)| name == "grant_type")
                .map(|(_, value)| value.into_owned())
        });
    let call = EntraCall::start(
        operation,
        request.method().as_str(),
        request.url(),
        grant_type.as_deref(),
    );
    request.headers_mut().extend(call.headers());
    let result: Result<Answer, IdpError> = async {
        let response = http
            .execute(request)
            .await
            .map_err(|err| IdpError::transport(endpoint, err))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|err| IdpError::transport(endpoint, err))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
    .instrument(call.span().clone())
    .await;
    match &result {
        Ok(answer) => {
            call.answered(answer.status, &answer.headers);
            if answer.status >= 400
                && let Ok(refusal) = serde_json::from_slice::<EntraErrorBody>(&answer.body)
            {
                call.refused(&refusal);
            }
        }
        Err(err) => call.failed(&err.to_string()),
    }
    result
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
        let span = client_span(&format!("{method} {}", url.path()), method, url);
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
