//! Faults injected through the admin surface: an endpoint answers late, with an error in
//! its own shape, or never, for a number of requests or until cleared.

use serde::{Deserialize, Serialize};

/// Which endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// `/oauth2/v2.0/token`.
    Token,
    /// `/oauth2/v2.0/authorize`.
    Authorize,
    /// Discovery documents and instance discovery.
    Discovery,
    /// The signing keys (`/discovery/v2.0/keys`).
    Jwks,
    /// The Graph slice.
    Graph,
    /// All of the above.
    All,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FaultKind {
    /// Delay the response.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer with this status (e.g. 503, 429, or 401 on `graph`) and an optional
    /// `Retry-After`, in the shape of the endpoint hit: Entra's AADSTS body, or on the Graph
    /// slice Graph's error body (401 `InvalidAuthenticationToken` with `WWW-Authenticate`,
    /// 429 `TooManyRequests`, 503 `ServiceUnavailable`, …).
    Status {
        /// HTTP status code.
        code: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Never answer (until the emulator shuts down).
    Timeout,
}

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Where.
    pub endpoint: FaultEndpoint,
    /// What.
    pub kind: FaultKind,
    /// How many requests it affects; `None` = until cleared.
    #[serde(default)]
    pub count: Option<u32>,
}
