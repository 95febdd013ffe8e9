//! OAuth scopes and the resource (API) each one belongs to.
//!
//! Entra issues a token for exactly one resource per request (AADSTS28000 / 700022), and an
//! On-Behalf-Of assertion must be a token for this app's own API (AADSTS50013 otherwise).
//! Both mistakes are visible in the scope strings alone, so configuration checks them here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Microsoft Graph's well-known application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Microsoft Graph's hosts in the global and the national clouds (Microsoft Learn,
/// "Microsoft Graph national cloud deployments"): a scope or an audience on any of them is
/// Graph's.
pub const GRAPH_HOSTS: [&str; 5] = [
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn",
    "graph.microsoft.de",
];

/// Whether `resource` (a scope's resource part or a token's `aud`) is Microsoft Graph in
/// any cloud: its app id, or `https://<graph host>` with an optional version path.
pub fn is_graph(resource: &str) -> bool {
    let resource = resource.trim_end_matches('/');
    if resource.eq_ignore_ascii_case(GRAPH_APP_ID) {
        return true;
    }
    let Some(rest) = resource
        .strip_prefix("https://")
        .or_else(|| resource.strip_prefix("HTTPS://"))
    else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    GRAPH_HOSTS.iter().any(|h| host.eq_ignore_ascii_case(h))
}
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// One scope, e.g. `api://<client-id>/access_as_user` or `User.Read`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scope(String);

/// The API a scope grants access to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Microsoft Graph, however it is named (`https://graph.microsoft.com`, its app id, or
    /// a bare Graph permission such as `User.Read`).
    Graph,
    /// Another API, named by its App ID URI (`api://...`, `https://...`) or its client id.
    Api(String),
}

impl Resource {
    /// Whether this resource is the app with `client_id` (named by id or by `api://id`).
    pub fn is_app(&self, client_id: &str) -> bool {
        match self {
            Resource::Graph => false,
            Resource::Api(id) => {
                id.eq_ignore_ascii_case(client_id)
                    || id
                        .strip_prefix("api://")
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(client_id))
            }
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Graph => f.write_str(GRAPH_RESOURCE),
            Resource::Api(id) => f.write_str(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("no scope given")]
    Empty,
    #[error("{0:?} is not a valid scope (it has no permission after the last '/')")]
    Malformed(String),
    #[error(
        "the scopes name more than one API ({0} and {1}); Entra issues a token for one API \
         per request (AADSTS28000): ask for one API's scopes at a time"
    )]
    SeveralResources(String, String),
    #[error("only OpenID Connect scopes were given; add the API's scope")]
    NoResource,
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ScopeError::Empty);
        }
        if raw.chars().any(char::is_whitespace) || raw.ends_with('/') {
            return Err(ScopeError::Malformed(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_oidc(&self) -> bool {
        OIDC_SCOPES.contains(&self.0.as_str())
    }

    /// The API this scope belongs to; `None` for the OpenID Connect scopes.
    pub fn resource(&self) -> Option<Resource> {
        if self.is_oidc() {
            return None;
        }
        let Some((resource, _permission)) = self.0.rsplit_once('/') else {
            // A bare permission name is a Microsoft Graph permission.
            return Some(Resource::Graph);
        };
        let resource = resource.trim_end_matches('/');
        if is_graph(resource) {
            Some(Resource::Graph)
        } else {
            Some(Resource::Api(resource.to_owned()))
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A non-empty set of scopes for exactly one resource, kept sorted so that it can be
/// part of a cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses space-separated scopes and checks they name exactly one resource.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let mut scopes = raw
            .split_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        scopes.sort();
        scopes.dedup();
        let set = Self(scopes);
        set.resource()?;
        Ok(set)
    }

    /// The one resource these scopes are for.
    pub fn resource(&self) -> Result<Resource, ScopeError> {
        let mut found: Option<Resource> = None;
        for resource in self.0.iter().filter_map(Scope::resource) {
            match &found {
                None => found = Some(resource),
                Some(first) if *first != resource => {
                    return Err(ScopeError::SeveralResources(
                        first.to_string(),
                        resource.to_string(),
                    ));
                }
                Some(_) => {}
            }
        }
        found.ok_or(ScopeError::NoResource)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Space-separated, sorted: the wire form and the cache-key form.
    pub fn to_wire(&self) -> String {
        self.0
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_is_recognised_under_all_its_names() {
        for raw in [
            "User.Read",
            "https://graph.microsoft.com/User.Read",
            "https://graph.microsoft.com/.default",
            "00000003-0000-0000-c000-000000000000/User.Read",
        ] {
            assert_eq!(
                Scope::parse(raw).unwrap().resource(),
                Some(Resource::Graph),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_app_scope_names_the_app_by_id_or_app_id_uri() {
        let id = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
        let by_uri = Scope::parse(&format!("api://{id}/access_as_user")).unwrap();
        let by_id = Scope::parse(&format!("{id}/access_as_user")).unwrap();
        assert!(by_uri.resource().unwrap().is_app(id));
        assert!(by_id.resource().unwrap().is_app(id));
        assert!(!by_uri.resource().unwrap().is_app("another"));
        assert!(!Resource::Graph.is_app(id));
    }

    #[test]
    fn national_cloud_graph_hosts_are_graph() {
        for raw in [
            "https://graph.microsoft.us/User.Read",
            "https://dod-graph.microsoft.us/.default",
            "https://microsoftgraph.chinacloudapi.cn/User.Read",
            "https://graph.microsoft.com/v1.0/User.Read",
        ] {
            assert_eq!(
                Scope::parse(raw).unwrap().resource(),
                Some(Resource::Graph),
                "{raw}"
            );
        }
        assert!(is_graph("https://graph.microsoft.us"));
        assert!(is_graph("00000003-0000-0000-c000-000000000000"));
        assert!(!is_graph("https://graph.microsoft.com.evil.example"));
        assert!(!is_graph("api://graph.microsoft.com"));
    }

    #[test]
    fn oidc_scopes_belong_to_no_resource() {
        let set = ScopeSet::parse("openid profile api://x/read offline_access").unwrap();
        assert_eq!(set.resource().unwrap(), Resource::Api("api://x".into()));
        assert_eq!(
            ScopeSet::parse("openid profile"),
            Err(ScopeError::NoResource)
        );
    }

    #[test]
    fn two_resources_in_one_set_are_refused_with_the_aadsts_code() {
        let err = ScopeSet::parse("User.Read api://x/read").unwrap_err();
        assert!(matches!(err, ScopeError::SeveralResources(..)));
        assert!(err.to_string().contains("AADSTS28000"));
    }

    #[test]
    fn sets_are_sorted_and_deduplicated_for_cache_keys() {
        let a = ScopeSet::parse("b/y a/x").unwrap_err();
        assert!(matches!(a, ScopeError::SeveralResources(..)));
        let one = ScopeSet::parse("api://x/b api://x/a api://x/b").unwrap();
        assert_eq!(one.to_wire(), "api://x/a api://x/b");
    }

    #[test]
    fn malformed_scopes_are_refused() {
        assert_eq!(ScopeSet::parse("  "), Err(ScopeError::Empty));
        assert!(matches!(
            Scope::parse("api://x/"),
            Err(ScopeError::Malformed(_))
        ));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Space- or tab-separated scope-like words, some of them malformed.
    fn scope_lists() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "(api://[a-z0-9-]{1,6}/|https://graph.microsoft.com/|[a-f0-9-]{4,8}/)?[A-Za-z.]{1,10}",
            Just("openid".to_owned()),
            Just("offline_access".to_owned()),
            Just("api://x/".to_owned()),
            "[ -~]{0,8}",
        ];
        (prop::collection::vec(word, 0..6), "[ \t]{1,2}").prop_map(|(words, sep)| words.join(&sep))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parsing_never_panics(raw in any::<String>()) {
            let _ = Scope::parse(&raw);
            let _ = ScopeSet::parse(&raw);
        }

        #[test]
        fn a_parsed_set_is_sorted_and_reparses_to_itself(raw in prop_oneof![scope_lists(), any::<String>()]) {
            if let Ok(set) = ScopeSet::parse(&raw) {
                let wire = set.to_wire();
                let words: Vec<&str> = wire.split(' ').collect();
                prop_assert!(words.windows(2).all(|w| w[0] < w[1]), "not sorted: {}", wire);
                prop_assert!(words.iter().all(|w| !w.is_empty()));
                prop_assert_eq!(ScopeSet::parse(&wire), Ok(set.clone()));
                prop_assert!(set.resource().is_ok());
            }
        }
    }
}
