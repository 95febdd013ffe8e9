//! The downstream APIs this app calls On-Behalf-Of the user, by name (as
//! Microsoft.Identity.Web's `DownstreamApis` section): each with a base URL, the scopes of its
//! token, and what the proxy (`/api/downstream/{name}/{*path}`) may forward to it.
//!
//! Configured by prefixed variables, `DOWNSTREAM_API__<NAME>__<SETTING>`:
//!
//! | setting | required | meaning |
//! |---|---|---|
//! | `BASE_URL` | yes | the API's base URL; paths are appended to it |
//! | `SCOPES` | yes | the scopes of its On-Behalf-Of token, one resource (`api://<id>/Read`) |
//! | `ALLOWED_PATHS` | no, `/` | comma-separated path prefixes the proxy forwards |
//! | `ALLOWED_METHODS` | no, `GET` | comma-separated methods the proxy forwards |
//! | `SAMPLE_PATH` | no, the first allowed path | what the Call API page's button GETs |
//! | `REQUIRED_ROLES`, `ALLOWED_GROUPS` | no | who may call it: any of these app roles, or groups (object ids); checked before any token is obtained |
//! | `AS` | no, `user` | `app`: called with an app-only token (client credentials, `SCOPES` a `<resource>/.default`) |
//!
//! `<NAME>` becomes the API's name in lower case with `-` for `_` (`HR_API` → `hr-api`). The
//! entry `weather` exists by default: the embedded Weather API with the emulator, or
//! `DOWNSTREAM_API_URL` + `DOWNSTREAM_API_SCOPE` (its older, single-API variables).

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
};

use http::Method;
use url::Url;

use super::{embedded, parse_http_url};
use crate::domain::ScopeSet;

const PREFIX: &str = "DOWNSTREAM_API__";
const SETTINGS: [&str; 8] = [
    "BASE_URL",
    "SCOPES",
    "ALLOWED_PATHS",
    "ALLOWED_METHODS",
    "SAMPLE_PATH",
    "REQUIRED_ROLES",
    "ALLOWED_GROUPS",
    "AS",
];
/// The default entry's name: the Weather API, the Call API page's showcase.
pub const WEATHER: &str = "weather";

/// One downstream API.
#[derive(Debug, Clone)]
pub struct DownstreamApi {
    pub name: String,
    pub location: DownstreamLocation,
    pub scopes: ScopeSet,
    /// Path prefixes (`/weatherforecast`), matched at segment boundaries; `/` allows all.
    pub allowed_paths: Vec<String>,
    pub allowed_methods: Vec<Method>,
    /// The path the Call API page offers to GET.
    pub sample_path: String,
    /// Who may call it (besides who may use the app).
    pub access: crate::authorization::AccessRule,
    /// Called as the app (client credentials), not On-Behalf-Of the user.
    pub as_app: bool,
}

impl DownstreamApi {
    /// Whether the proxy may forward to `path` (already checked to be a clean path).
    pub fn allows_path(&self, path: &str) -> bool {
        self.allowed_paths.iter().any(|prefix| {
            prefix == "/"
                || path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/') || prefix.ends_with('/'))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownstreamLocation {
    /// Started by this server on a loopback port, next to the embedded emulator; requiring
    /// the Conditional Access authentication context `auth_context` (`WEATHER_API_AUTH_CONTEXT`)
    /// when set.
    Embedded {
        addr: SocketAddr,
        auth_context: Option<String>,
    },
    /// Its base URL.
    Remote { url: Url },
}

/// Reads every configured API; problems are collected with their fix.
pub(super) fn read_downstream_apis(
    vars: &HashMap<String, String>,
    get: &impl Fn(&str) -> Option<String>,
    embedded: bool,
    problems: &mut Vec<String>,
) -> Vec<DownstreamApi> {
    let mut named: BTreeMap<String, HashMap<&str, String>> = BTreeMap::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match rest.rsplit_once("__") {
            Some((name, setting)) if !name.is_empty() && SETTINGS.contains(&setting) => {
                let name = name.to_ascii_lowercase().replace('_', "-");
                named
                    .entry(name)
                    .or_default()
                    .insert(setting_name(setting), value.to_owned());
            }
            _ => problems.push(format!(
                "{key} is not a downstream API setting: use {PREFIX}<NAME>__<SETTING> with \
                 SETTING one of {}.",
                SETTINGS.join(", ")
            )),
        }
    }
    let mut apis = Vec::new();
    if !named.contains_key(WEATHER)
        && let Some(weather) = read_legacy_weather(get, embedded, problems)
    {
        apis.push(weather);
    }
    for (name, settings) in named {
        if let Some(api) = read_api(&name, &settings, embedded, get, problems) {
            apis.push(api);
        }
    }
    apis
}

fn setting_name(setting: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|s| **s == setting)
        .copied()
        .unwrap_or("")
}

fn read_api(
    name: &str,
    settings: &HashMap<&str, String>,
    embedded: bool,
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<DownstreamApi> {
    let var = |setting: &str| {
        format!(
            "{PREFIX}{}__{setting}",
            name.to_ascii_uppercase().replace('-', "_")
        )
    };
    let location = match settings.get("BASE_URL") {
        Some(raw) => DownstreamLocation::Remote {
            url: parse_base_url(&var("BASE_URL"), raw, problems)?,
        },
        // The embedded Weather API under its default name, with other settings changed.
        None if name == WEATHER && embedded => embedded_weather(get, problems)?,
        None => {
            problems.push(format!(
                "{} is missing: the downstream API {name:?} needs its base URL.",
                var("BASE_URL")
            ));
            return None;
        }
    };
    let raw_scopes = match settings.get("SCOPES") {
        Some(raw) => raw.replace(',', " "),
        None if name == WEATHER => embedded::WEATHER_API_SCOPE.to_owned(),
        None => {
            problems.push(format!(
                "{} is missing: the scopes of the downstream API {name:?}'s token, e.g. \
                 api://<api-client-id>/Read.",
                var("SCOPES")
            ));
            return None;
        }
    };
    let scopes = parse_scopes(&var("SCOPES"), &raw_scopes, problems)?;
    let allowed_paths = match settings.get("ALLOWED_PATHS") {
        None => vec!["/".to_owned()],
        Some(raw) => {
            let paths: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            if paths.is_empty() {
                problems.push(format!(
                    "{} lists no path: leave it unset to allow every path, or name some.",
                    var("ALLOWED_PATHS")
                ));
                return None;
            }
            if let Some(bad) = paths.iter().find(|p| !is_clean_path(p)) {
                problems.push(format!(
                    "{}: {bad:?} is not a path such as /weatherforecast (absolute, no `..`, no \
                     query).",
                    var("ALLOWED_PATHS")
                ));
                return None;
            }
            paths
        }
    };
    let allowed_methods = match settings.get("ALLOWED_METHODS") {
        None => vec![Method::GET],
        Some(raw) => {
            let mut methods = Vec::new();
            for m in raw.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                    Ok(method) if method != Method::CONNECT && method != Method::TRACE => {
                        methods.push(method)
                    }
                    _ => {
                        problems.push(format!(
                            "{}: {m:?} is not a method the proxy forwards (GET, POST, PUT, \
                             PATCH, DELETE, HEAD, OPTIONS).",
                            var("ALLOWED_METHODS")
                        ));
                        return None;
                    }
                }
            }
            if methods.is_empty() {
                problems.push(format!(
                    "{} lists no method: leave it unset for GET, or name some.",
                    var("ALLOWED_METHODS")
                ));
                return None;
            }
            methods
        }
    };
    let sample_path = match settings.get("SAMPLE_PATH") {
        Some(path) if is_clean_path(path) => path.clone(),
        Some(path) => {
            problems.push(format!(
                "{}={path:?} is not a path such as /people/me (absolute, no `..`, no query).",
                var("SAMPLE_PATH")
            ));
            return None;
        }
        None if name == WEATHER => "/weatherforecast".to_owned(),
        None => allowed_paths[0].clone(),
    };
    let settings_get = |setting: &str| settings.get(setting).cloned();
    let access = crate::authorization::AccessRule::read(
        "REQUIRED_ROLES",
        "ALLOWED_GROUPS",
        &settings_get,
        problems,
    );
    let as_app = match settings.get("AS").map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "user" => false,
        Some(v) if v == "app" => true,
        Some(other) => {
            problems.push(format!(
                "{}={other:?}: use `user` (On-Behalf-Of the signed-in user, the default) or \
                 `app` (an app-only token).",
                var("AS")
            ));
            return None;
        }
    };
    if as_app && !scopes.iter().all(|s| s.to_string().ends_with("/.default")) {
        problems.push(format!(
            "{} must be the API's `/.default` scope (e.g. api://<api-client-id>/.default) with \
             {}=app: an app-only token carries the application permissions granted to this \
             app, not scopes.",
            var("SCOPES"),
            var("AS")
        ));
        return None;
    }
    Some(DownstreamApi {
        name: name.to_owned(),
        location,
        scopes,
        allowed_paths,
        allowed_methods,
        sample_path,
        access,
        as_app,
    })
}

/// `weather` from `DOWNSTREAM_API_URL`/`DOWNSTREAM_API_SCOPE`, or the embedded Weather API.
fn read_legacy_weather(
    get: &impl Fn(&str) -> Option<String>,
    embedded: bool,
    problems: &mut Vec<String>,
) -> Option<DownstreamApi> {
    let url = get("DOWNSTREAM_API_URL");
    let scope = get("DOWNSTREAM_API_SCOPE");
    let location = match url {
        Some(raw) => DownstreamLocation::Remote {
            url: parse_base_url("DOWNSTREAM_API_URL", &raw, problems)?,
        },
        None if embedded => embedded_weather(get, problems)?,
        None if scope.is_some() => {
            problems.push(
                "DOWNSTREAM_API_SCOPE is set but DOWNSTREAM_API_URL is not: set the API's base \
                 URL (its /weatherforecast is called)."
                    .to_owned(),
            );
            return None;
        }
        // A real tenant without a downstream API: the Call API page says it is not configured.
        None => return None,
    };
    let raw = scope.unwrap_or_else(|| embedded::WEATHER_API_SCOPE.to_owned());
    Some(DownstreamApi {
        name: WEATHER.to_owned(),
        location,
        scopes: parse_scopes("DOWNSTREAM_API_SCOPE", &raw, problems)?,
        allowed_paths: vec!["/".to_owned()],
        allowed_methods: vec![Method::GET],
        sample_path: "/weatherforecast".to_owned(),
        access: Default::default(),
        as_app: false,
    })
}

fn embedded_weather(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<DownstreamLocation> {
    let raw = get("WEATHER_API_ADDR").unwrap_or_else(|| embedded::WEATHER_API_ADDR.into());
    let auth_context = get("WEATHER_API_AUTH_CONTEXT");
    if let Some(context) = &auth_context
        && !is_auth_context_id(context)
    {
        problems.push(format!(
            "WEATHER_API_AUTH_CONTEXT={context:?} is not an authentication context id: c1 to \
             c99, as the tenant's Conditional Access defines them."
        ));
        return None;
    }
    match raw.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => {
            Some(DownstreamLocation::Embedded { addr, auth_context })
        }
        _ => {
            problems.push(format!(
                "WEATHER_API_ADDR={raw:?} is not a loopback address such as 127.0.0.1:3200."
            ));
            None
        }
    }
}

/// `c1` ... `c99` (Graph's `authenticationContextClassReference`: "Supported values are c1
/// through c99").
fn is_auth_context_id(raw: &str) -> bool {
    raw.strip_prefix(['c', 'C'])
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=99).contains(&n))
        && !raw[1..].starts_with('0')
}

fn parse_scopes(var: &str, raw: &str, problems: &mut Vec<String>) -> Option<ScopeSet> {
    match ScopeSet::parse(raw) {
        Ok(scopes) => Some(scopes),
        Err(err) => {
            problems.push(format!(
                "{var}={raw:?} is not usable: {err}. Use the API's exposed scope, e.g. \
                 api://<api-client-id>/Weather.Read."
            ));
            None
        }
    }
}

/// An absolute path without `..`/`.` segments, encoded separators, dots or semicolons, path
/// parameters (`;`: Tomcat and older Spring read `..;` as `..`), or a query: what the proxy
/// forwards, and what an allowed-path prefix may be.
pub fn is_clean_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && !path.contains(['?', '#', '\\', ';'])
        && !["%2f", "%5c", "%2e", "%3b", "%00"]
            .iter()
            .any(|encoded| lower.contains(encoded))
        && !path.contains("//")
        && path
            .split('/')
            .all(|segment| segment != ".." && segment != ".")
}

/// A downstream API's base URL: an http(s) URL with nothing but a path after its host. A
/// query would swallow every proxied path (the allow-list would mean nothing) and, like user
/// info, put a key on the Call API page for every signed-in user; a fragment is never sent.
/// The value itself is not repeated in the message: it may hold that key.
fn parse_base_url(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<Url> {
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(_) => return parse_http_url(name, raw, problems),
    };
    let carries = [
        (url.query().is_some(), "a query (?...)"),
        (url.fragment().is_some(), "a fragment (#...)"),
        (
            !url.username().is_empty() || url.password().is_some(),
            "user info (user:password@)",
        ),
    ];
    let found: Vec<&str> = carries
        .iter()
        .filter(|(has, _)| *has)
        .map(|(_, what)| *what)
        .collect();
    if !found.is_empty() {
        problems.push(format!(
            "{name} carries {}: give the API's base URL alone ({}://{}/...). Every proxied path \
             would be appended inside it, and the Call API page would show it to every \
             signed-in user; an API key does not belong in this URL.",
            found.join(" and "),
            url.scheme(),
            url.host_str().unwrap_or("host"),
        ));
        return None;
    }
    parse_http_url(name, raw, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)], embedded: bool) -> (Vec<DownstreamApi>, Vec<String>) {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let get = |name: &str| vars.get(name).cloned();
        let mut problems = Vec::new();
        let apis = read_downstream_apis(&vars, &get, embedded, &mut problems);
        (apis, problems)
    }

    #[test]
    fn the_embedded_weather_api_is_there_by_default_and_others_are_added_by_name() {
        let (apis, problems) = read(
            &[
                (
                    "DOWNSTREAM_API__HR_API__BASE_URL",
                    "https://hr.example.com/v1",
                ),
                (
                    "DOWNSTREAM_API__HR_API__SCOPES",
                    "api://hr/Read, api://hr/Write",
                ),
                ("DOWNSTREAM_API__HR_API__ALLOWED_PATHS", "/people,/teams/"),
                ("DOWNSTREAM_API__HR_API__ALLOWED_METHODS", "get,post"),
            ],
            true,
        );
        assert_eq!(problems, Vec::<String>::new());
        let names: Vec<_> = apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["weather", "hr-api"]);
        assert!(matches!(
            apis[0].location,
            DownstreamLocation::Embedded { .. }
        ));
        let hr = &apis[1];
        assert_eq!(hr.scopes.to_wire(), "api://hr/Read api://hr/Write");
        assert_eq!(hr.allowed_methods, [Method::GET, Method::POST]);
        assert_eq!(hr.sample_path, "/people");
        for allowed in ["/people", "/people/42", "/teams/7"] {
            assert!(hr.allows_path(allowed), "{allowed}");
        }
        for refused in ["/peoplex", "/admin", "/", "/teams"] {
            assert!(!hr.allows_path(refused), "{refused}");
        }
    }

    #[test]
    fn a_base_url_with_a_query_fragment_or_user_info_is_refused_without_repeating_it() {
        for (url, what) in [
            ("https://hr.example.com/v1?code=KEY123", "a query"),
            ("https://hr.example.com/v1#KEY123", "a fragment"),
            ("https://user:KEY123@hr.example.com/v1", "user info"),
        ] {
            let (apis, problems) = read(
                &[
                    ("DOWNSTREAM_API__HR__BASE_URL", url),
                    ("DOWNSTREAM_API__HR__SCOPES", "api://hr/Read"),
                ],
                false,
            );
            assert!(apis.is_empty(), "{url}");
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].contains("DOWNSTREAM_API__HR__BASE_URL carries"),
                "{problems:?}"
            );
            assert!(problems[0].contains(what), "{problems:?}");
            assert!(
                !problems[0].contains("KEY123"),
                "the value may be a key: {problems:?}"
            );
        }
        let (_, problems) = read(&[("DOWNSTREAM_API_URL", "http://127.0.0.1:9/?k=v")], false);
        assert!(
            problems[0].contains("DOWNSTREAM_API_URL carries a query"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_real_tenant_has_no_weather_api_unless_configured() {
        let (apis, problems) = read(&[], false);
        assert!(apis.is_empty() && problems.is_empty());
        let (apis, _) = read(
            &[
                ("DOWNSTREAM_API_URL", "https://weather.example.com"),
                ("DOWNSTREAM_API_SCOPE", "api://w/Weather.Read"),
            ],
            false,
        );
        assert_eq!(apis[0].name, "weather");
        assert!(apis[0].allows_path("/weatherforecast"));
    }

    #[test]
    fn a_bad_api_setting_is_named_with_its_fix() {
        let (_, problems) = read(
            &[
                ("DOWNSTREAM_API__HR__BASE_URL", "https://hr.example.com"),
                ("DOWNSTREAM_API__HR__METHODS", "GET"),
                ("DOWNSTREAM_API__CRM__SCOPES", "api://crm/Read"),
                ("DOWNSTREAM_API__ERP__BASE_URL", "https://erp.example.com"),
                ("DOWNSTREAM_API__ERP__SCOPES", "api://erp/Read"),
                ("DOWNSTREAM_API__ERP__ALLOWED_PATHS", "/a/../admin"),
                ("DOWNSTREAM_API__PAY__BASE_URL", "https://pay.example.com"),
                ("DOWNSTREAM_API__PAY__SCOPES", "api://pay/Read"),
                ("DOWNSTREAM_API__PAY__ALLOWED_METHODS", ","),
                ("DOWNSTREAM_API__CRM2__BASE_URL", "https://crm.example.com"),
                ("DOWNSTREAM_API__CRM2__SCOPES", "api://crm/Read"),
                ("DOWNSTREAM_API__CRM2__ALLOWED_PATHS", " , "),
                ("DOWNSTREAM_API__DOCS__BASE_URL", "https://docs.example.com"),
                ("DOWNSTREAM_API__DOCS__SCOPES", "api://docs/Read"),
                ("DOWNSTREAM_API__DOCS__SAMPLE_PATH", "files"),
                (
                    "DOWNSTREAM_API__BATCH__BASE_URL",
                    "https://batch.example.com",
                ),
                ("DOWNSTREAM_API__BATCH__SCOPES", "api://batch/.default"),
                ("DOWNSTREAM_API__BATCH__AS", "robot"),
                ("DOWNSTREAM_API__JOBS__BASE_URL", "https://jobs.example.com"),
                ("DOWNSTREAM_API__JOBS__SCOPES", "api://jobs/Read"),
                ("DOWNSTREAM_API__JOBS__AS", "app"),
            ],
            false,
        );
        let all = problems.join("\n");
        assert!(
            all.contains("DOWNSTREAM_API__HR__METHODS is not a downstream API setting"),
            "{all}"
        );
        assert!(
            all.contains("DOWNSTREAM_API__HR__SCOPES is missing"),
            "{all}"
        );
        assert!(
            all.contains("DOWNSTREAM_API__CRM__BASE_URL is missing"),
            "{all}"
        );
        assert!(all.contains("DOWNSTREAM_API__ERP__ALLOWED_PATHS"), "{all}");
        assert!(
            all.contains("DOWNSTREAM_API__PAY__ALLOWED_METHODS lists no method"),
            "{all}"
        );
        assert!(
            all.contains("DOWNSTREAM_API__CRM2__ALLOWED_PATHS lists no path"),
            "{all}"
        );
        assert!(all.contains("DOWNSTREAM_API__DOCS__SAMPLE_PATH"), "{all}");
        assert!(
            all.contains("DOWNSTREAM_API__BATCH__AS=\"robot\": use `user`"),
            "{all}"
        );
        assert!(
            all.contains("DOWNSTREAM_API__JOBS__SCOPES must be the API's `/.default` scope"),
            "{all}"
        );
        // Messages wrapped in the source read as one sentence each.
        assert!(!all.contains("  "), "{all}");
    }

    #[test]
    fn only_clean_paths_pass() {
        for clean in ["/", "/weatherforecast", "/a/b-c/d.json"] {
            assert!(is_clean_path(clean), "{clean}");
        }
        for dirty in [
            "a",
            "/a/../b",
            "/a/./b",
            "/a%2fb",
            "/%2e%2e/x",
            "//evil.example",
            "/a?b",
            "/a\\b",
            "/people/..;/admin",
            "/people/..%3b/admin",
            "/a%00b",
        ] {
            assert!(!is_clean_path(dirty), "{dirty}");
        }
    }
}
