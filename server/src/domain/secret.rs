//! A string that must never be logged or sent to the browser.

use serde::{Deserialize, Serialize};

/// A secret value (client secret, refresh token, access token). Its `Debug` prints
/// `[redacted]`; read it only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// # Security Warning
    /// The returned value must not reach a log line, an error message or a response body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A secret of one kind, so that one kind can never be passed where another goes (a refresh
/// token where an access token is expected): redacted in `Debug`, stored as the plain string.
macro_rules! secret_kind {
    ($(#[$doc:meta])* $name:ident $(, $derive:ident)*) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq, Serialize, Deserialize $(, $derive)*)]
        #[serde(transparent)]
        pub struct $name(Secret);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(Secret::new(value))
            }

            /// # Security Warning
            /// The returned value must not reach a log line, an error message or a response
            /// body.
            pub fn expose(&self) -> &str {
                self.0.expose()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_kind!(
    /// An access token (a bearer credential for one resource).
    AccessToken,
    Clone
);
secret_kind!(
    /// A refresh token: it mints access tokens, and is never sent anywhere but the token
    /// endpoint.
    RefreshToken,
    Clone
);
secret_kind!(
    /// The nonce of one sign-in: checked once against the ID token, then gone (not `Clone`).
    Nonce
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_value() {
        let secret = Secret::new("dev-web-app-secret");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert!(!format!("{:?}", Some(&secret)).contains("dev-web"));
        let token = AccessToken::new("eyJ.secret.sig");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        let refresh = RefreshToken::new("1.AAA");
        assert_eq!(format!("{refresh:?}"), "RefreshToken([redacted])");
    }
}
