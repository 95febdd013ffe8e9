//! Form parameters of a protocol request (unknown ones, such as MSAL telemetry, are ignored).

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::Method,
    response::{IntoResponse, Response},
};

use crate::errors::AadError;

/// Decoded `application/x-www-form-urlencoded` (or query) parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// Parses a form or query string.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// A non-empty parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A required parameter.
    ///
    /// # Errors
    /// AADSTS900144 when it is missing.
    pub fn require(&self, k: &str) -> Result<&str, AadError> {
        self.get(k).ok_or_else(|| AadError::missing(k))
    }
}

/// From where the method puts them: a GET's (or HEAD's) query, a POST's form body. Entra's
/// `/authorize` and `/logout` take both; `/token` takes POST only (its route has no GET).
impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            return Ok(Self::parse(
                req.uri().query().unwrap_or_default().as_bytes(),
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self::parse(&body))
    }
}
