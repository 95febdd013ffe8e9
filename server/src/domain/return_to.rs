//! Where to send the browser after sign-in: a local path only, never an open redirect.

use serde::{Deserialize, Serialize};

/// A path on this site (`/tokens?x=1`), checked so that it cannot leave the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// Accepts a path that starts with a single `/`, has no scheme or authority, no
    /// backslash (browsers treat `/\evil.com` as `//evil.com`) and no control characters.
    /// Anything else is refused; callers fall back to `/`.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.starts_with('/')
            && !raw.starts_with("//")
            && !raw.contains('\\')
            && !raw.chars().any(|c| c.is_control())
            && raw.len() <= 2048;
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ReturnTo {
    fn default() -> Self {
        Self("/".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_accepted() {
        for ok in ["/", "/tokens", "/api?x=1#frag", "/a/b%2Fc"] {
            assert_eq!(ReturnTo::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for bad in [
            "",
            "tokens",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\nLocation: x",
        ] {
            assert_eq!(ReturnTo::parse(bad), None, "{bad:?} must be refused");
        }
    }
}
