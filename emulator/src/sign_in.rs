//! How a user signed in: carried from the sign-in into its codes, refresh grants and tokens
//! (`auth_time`, `amr`, `sid`), which the token minting reads without needing the store.

use serde::{Deserialize, Serialize};

/// Facts about how the user signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthFacts {
    /// Unix time of sign-in.
    pub auth_time: i64,
    /// Authentication methods (`pwd`, `mfa`). Which authentication contexts a sign-in
    /// satisfies follows from them and the tenant's policies
    /// ([`crate::world::Tenant::satisfies_context`]).
    pub amr: Vec<String>,
    /// Session id.
    pub sid: String,
}

impl AuthFacts {
    /// A password sign-in happening now.
    pub fn password_now() -> Self {
        Self {
            auth_time: crate::keys::now(),
            amr: vec!["pwd".into()],
            sid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Whether the user did multi-factor authentication.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|a| a == "mfa")
    }
}
