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

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Strings near the edge: slashes, backslashes, schemes, encodings, controls.
    fn tricky() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(/|//|///|\\\\|/\\\\|https?:|javascript:|%2F|\\.)?[a-zA-Z0-9/\\\\:.@%?#\t\r\n\u{0} \u{7f}\u{85}\u{3000}\u{feff}]{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn an_accepted_value_is_a_path_on_this_site(raw in tricky()) {
            if let Some(ok) = ReturnTo::parse(&raw) {
                let v = ok.as_str();
                prop_assert_eq!(v, raw.as_str());
                prop_assert!(v.starts_with('/'));
                prop_assert!(!v.starts_with("//") && !v.starts_with("/\\"));
                prop_assert!(!v.chars().any(char::is_control));
                // No scheme: it is relative, and resolves on this origin.
                prop_assert!(url::Url::parse(v).is_err());
                let base = url::Url::parse("https://bff.example/").unwrap();
                let joined = base.join(v).unwrap();
                prop_assert_eq!(joined.origin(), base.origin());
            }
        }

        #[test]
        fn plain_local_paths_are_kept(path in "(/[A-Za-z0-9._~-]{1,12}){1,4}(\\?[a-z]{1,5}=[a-z0-9]{0,5})?") {
            prop_assert_eq!(ReturnTo::parse(&path).map(|r| r.as_str().to_owned()), Some(path));
        }
    }
}
