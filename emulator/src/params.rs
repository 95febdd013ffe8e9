//! Form parameters of a protocol request (unknown ones, such as MSAL telemetry, are ignored).

use std::collections::HashMap;

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
