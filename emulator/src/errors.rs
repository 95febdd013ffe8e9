//! Entra-shaped protocol errors: one type, one place that renders it (Microsoft Learn: learn.microsoft.com/entra/identity-platform/reference-error-codes).
//!
//! Every failure of the token endpoint becomes an [`AadError`]; its [`IntoResponse`] writes the
//! exact body shape Entra uses (`error`, `error_description` starting `AADSTSnnnnn:` followed by
//! the Trace ID, Correlation ID and Timestamp lines, integer `error_codes`, `timestamp`,
//! `trace_id`, `correlation_id`, `error_uri`, optional `suberror` and `claims`).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An AADSTS error as the token endpoint returns it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("AADSTS{code}: {message}")]
pub struct AadError {
    /// The AADSTS number, e.g. 50013.
    pub code: u32,
    /// The OAuth `error` value, e.g. `invalid_grant`.
    pub error: &'static str,
    /// The message after `AADSTSnnnnn: `.
    pub message: String,
    /// Optional `suberror` (e.g. `consent_required`, `basic_action`).
    pub suberror: Option<&'static str>,
    /// Optional claims challenge (a JSON string).
    pub claims: Option<String>,
    /// Echo of the client's `client-request-id`, used as correlation id.
    pub correlation_id: Option<String>,
}

impl AadError {
    /// A new error with its code, OAuth error value and message.
    pub fn new(code: u32, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            error,
            message: message.into(),
            suberror: None,
            claims: None,
            correlation_id: None,
        }
    }

    /// `invalid_grant` with the given code.
    pub fn grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(code, "invalid_grant", message)
    }

    /// `invalid_request` with the given code.
    pub fn request(code: u32, message: impl Into<String>) -> Self {
        Self::new(code, "invalid_request", message)
    }

    /// `invalid_client` with the given code (HTTP 401).
    pub fn client(code: u32, message: impl Into<String>) -> Self {
        Self::new(code, "invalid_client", message)
    }

    /// AADSTS900144: a required body parameter is missing.
    pub fn missing(param: &str) -> Self {
        Self::request(
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// Adds a `suberror`.
    pub fn with_suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// Adds a claims challenge.
    pub fn with_claims(mut self, claims: String) -> Self {
        self.claims = Some(claims);
        self
    }

    /// AADSTS700024 in Entra's words, with its timestamps (ISO 8601, seven decimals).
    pub fn outside_validity(now: i64, nbf: i64, exp: i64) -> Self {
        let at = |secs: i64| {
            let format = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
            );
            time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|t| t.format(format).ok())
                .unwrap_or_else(|| secs.to_string())
        };
        Self::client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                at(now),
                at(nbf),
                at(exp)
            ),
        )
    }

    /// The HTTP status Entra uses for this error.
    pub fn status(&self) -> StatusCode {
        match self.error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = entra_timestamp();
        let mut body = json!({
            "error": self.error,
            "error_description": self.description(&trace_id, &correlation_id, &timestamp),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(s) = self.suberror {
            body["suberror"] = json!(s);
        }
        if let Some(c) = &self.claims {
            body["claims"] = json!(c);
        }
        body
    }

    /// `AADSTSnnnnn: message` plus the Trace ID, Correlation ID and Timestamp lines.
    pub fn description(&self, trace_id: &str, correlation_id: &str, timestamp: &str) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.message
        )
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let body = self.body();
        let trace_id = body["trace_id"].as_str().map(HeaderValue::from_str);
        let mut resp = token_json(self.status(), body);
        // Entra's `x-ms-request-id` is the body's `trace_id` (ledger I1).
        if let Some(Ok(id)) = trace_id {
            resp.headers_mut().insert("x-ms-request-id", id);
        }
        resp
    }
}

/// A token-endpoint answer as Entra sends it (the authorization code flow page's token responses): JSON in UTF-8, never cached.
pub fn token_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Now as Entra writes it: `yyyy-MM-dd HH:mm:ssZ`.
pub fn entra_timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_entra_shape() {
        let e = AadError::grant(50013, "Assertion failed signature validation.");
        let b = e.body();
        assert_eq!(b["error"], "invalid_grant");
        assert_eq!(b["error_codes"][0], 50013);
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with("AADSTS50013: Assertion failed signature validation.\r\nTrace ID: "));
        assert!(d.contains("\r\nCorrelation ID: ") && d.contains("\r\nTimestamp: "));
        assert_eq!(b["timestamp"].as_str().unwrap().len(), 20);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            AadError::client(7000215, "x").status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
