//! What can go wrong when talking to the identity provider, kept with all its evidence.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An error body from Entra's token endpoint (`error`, `error_description` with the
/// AADSTS code, `error_codes`, trace and correlation ids, and a claims challenge).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<u32>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub error_uri: Option<String>,
    #[serde(default)]
    pub suberror: Option<String>,
    /// A claims challenge (JSON text) to send back to `/authorize` as `claims`.
    #[serde(default)]
    pub claims: Option<String>,
}

impl EntraErrorBody {
    /// The AADSTS code: the first of `error_codes`, else the number after `AADSTS` in the
    /// description.
    pub fn code(&self) -> Option<u32> {
        self.error_codes.first().copied().or_else(|| {
            let description = self.error_description.as_deref()?;
            let digits: String = description
                .strip_prefix("AADSTS")?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    }

    /// The first line of the description, without the trace lines Entra appends.
    pub fn message(&self) -> &str {
        self.error_description
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or(&self.error)
    }
}

impl std::fmt::Display for EntraErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message())
    }
}

impl oauth2::ErrorResponse for EntraErrorBody {}

/// Every failure of a call to the identity provider.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdpError {
    /// Entra answered with an OAuth error.
    #[error("the identity provider refused the request at {endpoint}: {body}")]
    Rejected {
        endpoint: &'static str,
        status: u16,
        body: Box<EntraErrorBody>,
    },
    /// Entra asked us to slow down.
    #[error("the identity provider is throttling requests at {endpoint} (HTTP 429)")]
    Throttled {
        endpoint: &'static str,
        retry_after: Option<Duration>,
    },
    /// Entra is not reachable, timed out or failed (5xx).
    #[error("the identity provider is unavailable at {endpoint}: {detail}")]
    Unavailable {
        endpoint: &'static str,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Entra answered something we could not read.
    #[error("the identity provider's answer at {endpoint} could not be read: {detail}")]
    InvalidResponse {
        endpoint: &'static str,
        detail: String,
    },
    /// The app's own credential could not be produced (its file, its managed identity).
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
}

impl IdpError {
    pub fn entra_body(&self) -> Option<&EntraErrorBody> {
        match self {
            Self::Rejected { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Whether trying again later may work (the provider is down or throttling).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Unavailable { .. } => true,
            Self::Credential(err) => err.transient,
            Self::Rejected { .. } | Self::InvalidResponse { .. } => false,
        }
    }

    /// Maps a reqwest failure (connect, timeout, body) to `Unavailable` without the URL's
    /// query, which may carry a code or token.
    pub(crate) fn transport(endpoint: &'static str, err: reqwest::Error) -> Self {
        let detail = if err.is_timeout() {
            "timed out".to_owned()
        } else if err.is_connect() {
            "connection failed".to_owned()
        } else {
            err.without_url().to_string()
        };
        Self::Unavailable {
            endpoint,
            detail,
            retry_after: None,
        }
    }

    /// Reads a non-success HTTP answer: an OAuth error body, throttling, or an outage.
    pub(crate) fn from_status(
        endpoint: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        if status == 429 {
            return Self::Throttled {
                endpoint,
                retry_after,
            };
        }
        if status < 500
            && let Ok(body) = serde_json::from_slice::<EntraErrorBody>(body)
        {
            return Self::Rejected {
                endpoint,
                status,
                body: Box::new(body),
            };
        }
        if status >= 500 {
            Self::Unavailable {
                endpoint,
                detail: format!("HTTP {status}"),
                retry_after,
            }
        } else {
            Self::InvalidResponse {
                endpoint,
                detail: format!("HTTP {status} without an OAuth error body"),
            }
        }
    }
}

/// Reads `Retry-After` given in seconds.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aadsts_code_comes_from_error_codes_or_the_description() {
        let body: EntraErrorBody = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"AADSTS50013: Assertion failed signature validation.\r\nTrace ID: t\r\nCorrelation ID: c","error_codes":[50013],"trace_id":"t","correlation_id":"c"}"#,
        )
        .unwrap();
        assert_eq!(body.code(), Some(50013));
        assert_eq!(
            body.message(),
            "AADSTS50013: Assertion failed signature validation."
        );

        let no_codes = EntraErrorBody {
            error: "invalid_grant".into(),
            error_description: Some("AADSTS700082: The refresh token has expired".into()),
            ..Default::default()
        };
        assert_eq!(no_codes.code(), Some(700082));
    }

    #[test]
    fn statuses_map_to_rejected_throttled_or_unavailable() {
        let body = br#"{"error":"invalid_client","error_codes":[7000215]}"#;
        assert!(matches!(
            IdpError::from_status("token", 401, None, body),
            IdpError::Rejected { status: 401, .. }
        ));
        assert!(matches!(
            IdpError::from_status("token", 429, Some(Duration::from_secs(3)), b""),
            IdpError::Throttled {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(IdpError::from_status("token", 503, None, b"oops").is_transient());
        assert!(matches!(
            IdpError::from_status("token", 404, None, b"<html>"),
            IdpError::InvalidResponse { .. }
        ));
    }
}
