//! Values parsed at the edge into types that cannot hold an invalid state.

mod claims;
mod return_to;
mod scope;
mod secret;

pub use claims::{ClaimsRequest, NotAClaimsRequest};
pub use return_to::ReturnTo;
pub use scope::{GRAPH_APP_ID, GRAPH_HOSTS, Resource, Scope, ScopeError, ScopeSet, is_graph};
pub use secret::{AccessToken, Nonce, RefreshToken, Secret};

/// A count of seconds (`expires_in`, `expires_on`) as token endpoints write it: a number, or
/// a numeric string (managed identity endpoints always, Entra's v1 endpoints sometimes; MSAL
/// accepts both).
pub fn seconds(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
