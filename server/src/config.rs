//! Configuration from environment variables (a `.env` file is honoured).
//!
//! The names are those users of the Next.js + next-auth + MSAL Node stack already know
//! (`AZURE_AD_*`, `API_SCOPE`, `GRAPH_SCOPE`). With no `AZURE_AD_TENANT_ID` the server runs
//! on the embedded Entra ID emulator and its well-known world. Every problem is collected
//! and reported at once, each with its fix, so a bad start takes one round trip to mend.

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf, time::Duration};

use url::Url;

use crate::domain::{Resource, ScopeSet};

mod downstream;
mod identity;
mod limits;
mod session;
pub use downstream::{DownstreamApi, DownstreamLocation, WEATHER, is_clean_path};
pub use identity::ClientCredential;
use identity::{is_multi_tenant, parse_authority_host, read_allowed_tenants, read_credential};
use limits::{read_auth_rate_limit, read_bool, read_limits, read_metrics_addr, read_positive};
pub use session::{
    KEY_LEN, KeySource, RedisSettings, SessionConfig, SessionStoreKind, redacted_url,
};

/// Well-known values of the embedded emulator's world (see emulator/README.md).
pub mod embedded {
    pub const TENANT_ID: &str = "3dac8762-d1be-44f2-861a-a7e2aafdfc78";
    pub const CLIENT_ID: &str = "dd1d6603-7fe3-411d-b985-091f1cf1c698";
    pub const CLIENT_SECRET: &str = "dev-web-app-secret";
    pub const ADDR: &str = "127.0.0.1:3100";
    pub const WEATHER_API_ADDR: &str = "127.0.0.1:3200";
    pub const WEATHER_API_SCOPE: &str = "api://8e18057c-ba24-4625-a109-d2c3dc7b2fab/Weather.Read";
}

const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";
const DEFAULT_GRAPH_SCOPE: &str = "https://graph.microsoft.com/User.Read";
/// Prometheus' default port range starts at 9090; 9464 is the one commonly used for an
/// application's own exporter.
const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";

/// The whole configuration of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub idp: IdentityProvider,
    pub tenant: String,
    pub client_id: String,
    /// Shared: it keeps state (which source works, cached tokens, file stamps).
    pub credential: std::sync::Arc<ClientCredential>,
    /// The scope of this app's own API, requested at sign-in; its token is the OBO assertion.
    /// `<client-id>/access_as_user` by default (the GUID form); an App ID URI works as well,
    /// since every refresh names the scope (AADSTS90009 answers only a refresh that does not).
    pub api_scope: ScopeSet,
    /// The client capabilities declared in every request's `claims` (`cp1`: this app handles
    /// claims challenges, so Entra and Continuous Access Evaluation may send them), as MSAL's
    /// `clientCapabilities`; empty with `AZURE_AD_CLIENT_CAPABILITIES=none`.
    pub client_capabilities: Vec<String>,
    /// The scope of the Microsoft Graph token obtained On-Behalf-Of the user.
    pub graph_scope: ScopeSet,
    /// Whether `GRAPH_SCOPE` was set; if not, the scope follows the cloud's Graph host
    /// from the discovery document (`msgraph_host`).
    pub graph_scope_configured: bool,
    /// `GRAPH_BASE_URL`; `None`: the cloud's Graph host from discovery, or the emulator's
    /// Graph slice when embedded.
    pub graph_base_url: Option<Url>,
    /// Tenants whose users may sign in, for a multi-tenant authority (`common`,
    /// `organizations`); empty for a single tenant.
    pub allowed_tenants: Vec<String>,
    /// Ask at sign-in for consent to the downstream scopes too (Graph and the downstream
    /// API), so that On-Behalf-Of does not meet AADSTS65001 on first use.
    pub consent_at_sign_in: bool,
    /// The origin the browser uses for this app, e.g. `http://localhost:3000`.
    pub public_url: Url,
    /// The downstream APIs called On-Behalf-Of the user, by name (`weather` by default with
    /// the embedded emulator); empty when none is configured.
    pub downstream_apis: Vec<DownstreamApi>,
    pub session: SessionConfig,
    /// What one client may hold of the listener: timeouts and the connection bound.
    pub limits: listener::Limits,
    /// Where `/metrics` is served: its own listener, loopback by default, never the app's.
    pub metrics_addr: SocketAddr,
    /// How long a Graph profile read is served before it is read again (in the background).
    /// Zero: read on every view.
    pub profile_ttl: Duration,
    /// The rate limit of `/auth/*` per client.
    pub auth_rate_limit: crate::rate_limit::AuthRateLimit,
    /// `TRUST_TRACEPARENT`: whether a request's W3C `traceparent` makes it part of the
    /// caller's trace (behind a gateway that starts traces), or is ignored (the default: a
    /// browser can send anything).
    pub trust_traceparent: bool,
    /// `REQUIRED_ROLES` / `ALLOWED_GROUPS`: who may use the app once signed in.
    pub access: crate::authorization::AccessRule,
    pub data_dir: PathBuf,
    /// A world file (tenants, apps, users) for the embedded emulator instead of its
    /// well-known world.
    pub emulator_world: Option<PathBuf>,
    /// Mistakes that are allowed to start, so the UI can explain them.
    pub warnings: Vec<String>,
}

/// Where the identity provider is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityProvider {
    /// The emulator runs inside this process, listening on `addr`.
    Embedded { addr: SocketAddr },
    /// A real (or separately run) identity provider, e.g. `https://login.microsoftonline.com`.
    Remote { authority_host: Url },
}

/// Every problem found in the configuration, each with how to fix it.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "The server cannot start: {} configuration problem{} (see README.md, \"Configuration\"):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for (i, problem) in self.0.iter().enumerate() {
            writeln!(f, "  {}. {problem}", i + 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_vars(&std::env::vars().collect())
    }

    /// Builds the configuration from a set of variables (the environment, or a test's map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let own = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // AKS workload identity injects AZURE_CLIENT_ID, AZURE_TENANT_ID and
        // AZURE_AUTHORITY_HOST with AZURE_FEDERATED_TOKEN_FILE: they stand in for ours when that
        // file is the credential (only then: on a developer's machine, or beside another
        // credential, they may name another identity).
        let workload_identity = own("AZURE_FEDERATED_TOKEN_FILE").is_some()
            && own("AZURE_AD_CLIENT_CREDENTIAL")
                .is_none_or(|kind| kind.eq_ignore_ascii_case("federated-token-file"));
        let get = |name: &str| {
            own(name).or_else(|| {
                let injected = match name {
                    "AZURE_AD_CLIENT_ID" => "AZURE_CLIENT_ID",
                    "AZURE_AD_TENANT_ID" => "AZURE_TENANT_ID",
                    "AZURE_AD_AUTHORITY_HOST" => "AZURE_AUTHORITY_HOST",
                    _ => return None,
                };
                own(injected).filter(|_| workload_identity)
            })
        };
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        let tenant = get("AZURE_AD_TENANT_ID");
        let embedded = tenant.is_none();

        let idp = match get("AZURE_AD_AUTHORITY_HOST") {
            Some(raw) => match parse_authority_host(&raw) {
                Ok(authority_host) => IdentityProvider::Remote { authority_host },
                Err(problem) => {
                    problems.push(problem);
                    IdentityProvider::Remote {
                        authority_host: Url::parse(DEFAULT_AUTHORITY_HOST).expect("valid"),
                    }
                }
            },
            None if embedded => {
                let raw = get("EMULATOR_ADDR").unwrap_or_else(|| embedded::ADDR.to_owned());
                match raw.parse::<SocketAddr>() {
                    Ok(addr) if addr.ip().is_loopback() => IdentityProvider::Embedded { addr },
                    Ok(_) => {
                        problems.push(format!(
                            "EMULATOR_ADDR={raw} is not a loopback address: the embedded \
                             emulator only listens on 127.0.0.1 or [::1]. Use e.g. 127.0.0.1:3100."
                        ));
                        IdentityProvider::Embedded {
                            addr: embedded::ADDR.parse().expect("valid"),
                        }
                    }
                    Err(_) => {
                        problems.push(format!(
                            "EMULATOR_ADDR={raw:?} is not an address: write it as host:port, \
                             e.g. 127.0.0.1:3100."
                        ));
                        IdentityProvider::Embedded {
                            addr: embedded::ADDR.parse().expect("valid"),
                        }
                    }
                }
            }
            None => IdentityProvider::Remote {
                authority_host: Url::parse(DEFAULT_AUTHORITY_HOST).expect("valid"),
            },
        };

        let client_id = match get("AZURE_AD_CLIENT_ID") {
            Some(id) => id,
            None if embedded => embedded::CLIENT_ID.to_owned(),
            None => {
                problems.push(
                    "AZURE_AD_CLIENT_ID is not set: set it to the Application (client) ID on \
                     the app registration's Overview page in the Azure portal."
                        .to_owned(),
                );
                String::new()
            }
        };

        let authority_host = match &idp {
            IdentityProvider::Remote { authority_host } => authority_host.to_string(),
            IdentityProvider::Embedded { .. } => DEFAULT_AUTHORITY_HOST.to_owned(),
        };
        let credential = read_credential(
            &get,
            embedded,
            &authority_host,
            &mut problems,
            &mut warnings,
        );

        let api_scope_raw = get("API_SCOPE").unwrap_or_else(|| {
            if client_id.is_empty() {
                "unknown/access_as_user".to_owned()
            } else {
                format!("{client_id}/access_as_user")
            }
        });
        let api_scope = match ScopeSet::parse(&api_scope_raw) {
            Ok(scope) => {
                match scope.resource() {
                    Ok(Resource::Graph) => warnings.push(format!(
                        "API_SCOPE={api_scope_raw} is a Microsoft Graph scope. The token \
                         issued at sign-in is then a Graph token, and On-Behalf-Of will fail \
                         with AADSTS50013 (Graph tokens cannot be used as an assertion). Set \
                         API_SCOPE={client_id}/access_as_user (this app's own exposed \
                         scope). Starting anyway so that the app can show the failure."
                    )),
                    Ok(resource) if !resource.is_app(&client_id) => warnings.push(format!(
                        "API_SCOPE={api_scope_raw} names the API {resource}, not this app \
                         ({client_id}). Unless {resource} is an App ID URI of this app, \
                         On-Behalf-Of will fail with AADSTS500131 (assertion audience does \
                         not match). The usual value is {client_id}/access_as_user."
                    )),
                    _ => {}
                }
                Some(scope)
            }
            Err(err) => {
                problems.push(format!(
                    "API_SCOPE={api_scope_raw:?} is not usable: {err}. Set it to this app's \
                     exposed scope, e.g. {client_id}/access_as_user."
                ));
                None
            }
        };
        let client_capabilities = read_capabilities(&get, &mut problems);

        let graph_scope_configured = get("GRAPH_SCOPE").is_some();
        let graph_scope_raw = get("GRAPH_SCOPE").unwrap_or_else(|| DEFAULT_GRAPH_SCOPE.into());
        let graph_scope = ScopeSet::parse(&graph_scope_raw)
            .map_err(|err| {
                problems.push(format!(
                    "GRAPH_SCOPE={graph_scope_raw:?} is not usable: {err}. The default is \
                     {DEFAULT_GRAPH_SCOPE}."
                ))
            })
            .ok();

        let graph_base_url = get("GRAPH_BASE_URL")
            .and_then(|raw| parse_http_url("GRAPH_BASE_URL", &raw, &mut problems));
        let allowed_tenants =
            read_allowed_tenants(&get, tenant.as_deref(), &mut problems, &mut warnings);
        let consent_at_sign_in = read_bool(&get, "ASK_CONSENT_AT_SIGN_IN", true, &mut problems);

        let public_url = match get("APP_URL") {
            Some(raw) => parse_http_url("APP_URL", &raw, &mut problems),
            None => {
                let site = get("LEPTOS_SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
                let port = site.rsplit(':').next().unwrap_or("3000");
                // localhost, not 127.0.0.1: the emulator lives on 127.0.0.1, and sign-in
                // should cross sites as it does with the real login host.
                Url::parse(&format!("http://localhost:{port}")).ok()
            }
        }
        .unwrap_or_else(|| Url::parse("http://localhost:3000").expect("valid"));

        let downstream_apis = downstream::read_downstream_apis(vars, &get, embedded, &mut problems);
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "data".into()));
        let session = session::read_session(
            &get,
            session::Context {
                data_dir: &data_dir,
                embedded,
                https: public_url.scheme() == "https",
            },
            &mut problems,
            &mut warnings,
        );
        let limits = read_limits(&get, &mut problems);
        let metrics_addr = read_metrics_addr(&get, &mut problems, &mut warnings);
        let auth_rate_limit = read_auth_rate_limit(&get, &mut problems);
        let trust_traceparent = read_bool(&get, "TRUST_TRACEPARENT", false, &mut problems);
        let access = crate::authorization::AccessRule::read(
            "REQUIRED_ROLES",
            "ALLOWED_GROUPS",
            &get,
            &mut problems,
        );
        let profile_ttl = match get("PROFILE_TTL_SECS") {
            None => Duration::from_secs(300),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) => Duration::from_secs(secs),
                Err(_) => {
                    problems.push(format!(
                        "PROFILE_TTL_SECS={raw:?} is not a whole number of seconds (default 300; \
                         0 reads Graph on every view)."
                    ));
                    Duration::ZERO
                }
            },
        };
        let emulator_world = get("EMULATOR_WORLD").map(PathBuf::from);

        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        Ok(Self {
            idp,
            tenant: tenant.unwrap_or_else(|| embedded::TENANT_ID.to_owned()),
            client_id,
            credential: std::sync::Arc::new(credential.expect("no problems means a credential")),
            api_scope: api_scope.expect("no problems means a scope"),
            client_capabilities,
            graph_scope: graph_scope.expect("no problems means a scope"),
            graph_scope_configured,
            graph_base_url,
            allowed_tenants,
            consent_at_sign_in,
            public_url,
            downstream_apis,
            session,
            limits,
            metrics_addr,
            profile_ttl,
            auth_rate_limit,
            trust_traceparent,
            access,
            data_dir,
            emulator_world,
            warnings,
        })
    }

    /// Whether the authority is multi-tenant (`common` or `organizations`): users of
    /// several tenants sign in, and each user's tokens come from their own tenant.
    pub fn is_multi_tenant(&self) -> bool {
        is_multi_tenant(&self.tenant)
    }

    /// Whether users of tenant `tid` may sign in.
    pub fn allows_tenant(&self, tid: &str) -> bool {
        !self.is_multi_tenant()
            || self
                .allowed_tenants
                .iter()
                .any(|t| t.eq_ignore_ascii_case(tid))
    }

    /// Follows the cloud's Microsoft Graph host from the discovery document
    /// (`msgraph_host`), for whatever `GRAPH_BASE_URL` / `GRAPH_SCOPE` left unset: a
    /// national cloud's tenant cannot use the global Graph. Returns the Graph base URL.
    pub fn adopt_graph_host(&mut self, msgraph_host: &str) -> Url {
        let graph = Url::parse(&format!("https://{msgraph_host}"))
            .unwrap_or_else(|_| Url::parse(DEFAULT_GRAPH_BASE_URL).expect("valid"));
        if !self.graph_scope_configured
            && let Ok(scope) = ScopeSet::parse(&format!("https://{msgraph_host}/User.Read"))
        {
            self.graph_scope = scope;
        }
        self.graph_base_url.clone().unwrap_or(graph)
    }

    /// The redirect URI registered for this app: `<public url>/auth/callback`.
    pub fn redirect_uri(&self) -> Url {
        self.public_url
            .join("/auth/callback")
            .expect("a path joins any base")
    }

    /// Cookies get `Secure` and the `__Host-` prefix when the app is served over HTTPS.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// `AZURE_AD_CLIENT_CAPABILITIES`: `cp1` by default (Microsoft.Identity.Web's
/// `ClientCapabilities`), `none` for none. `cp1` is the only capability Entra knows.
fn read_capabilities(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let Some(raw) = get("AZURE_AD_CLIENT_CAPABILITIES") else {
        return vec!["cp1".to_owned()];
    };
    if raw.eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    let capabilities: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = capabilities.iter().find(|c| !c.eq_ignore_ascii_case("cp1")) {
        problems.push(format!(
            "AZURE_AD_CLIENT_CAPABILITIES: {unknown:?} is not a capability Entra knows: use cp1 \
             (this app handles claims challenges, the default) or none."
        ));
    }
    capabilities
}

fn parse_http_url(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<Url> {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        _ => {
            problems.push(format!(
                "{name}={raw:?} is not an http(s) URL such as https://example.com."
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_tenant_means_the_embedded_world() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(config.tenant, embedded::TENANT_ID);
        assert_eq!(config.client_id, embedded::CLIENT_ID);
        assert!(matches!(config.idp, IdentityProvider::Embedded { .. }));
        assert_eq!(
            config.api_scope.to_wire(),
            format!("{}/access_as_user", embedded::CLIENT_ID)
        );
        assert!(config.warnings.is_empty());
        assert_eq!(
            config.redirect_uri().as_str(),
            "http://localhost:3000/auth/callback"
        );
    }

    #[test]
    fn a_real_tenant_without_client_settings_names_every_problem() {
        let err = Config::from_vars(&vars(&[
            ("AZURE_AD_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_AD_AUTHORITY_HOST", "http://login.example.com"),
            ("SESSION_STORE", "mongo"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 4, "{text}");
        assert!(text.contains("AZURE_AD_CLIENT_ID is not set"));
        assert!(text.contains("No client credential"));
        assert!(text.contains("unencrypted"));
        assert!(text.contains("SESSION_STORE=\"mongo\""));
    }

    fn credential_of(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![
            ("AZURE_AD_TENANT_ID", "3dac8762-d1be-44f2-861a-a7e2aafdfc78"),
            ("AZURE_AD_CLIENT_ID", "dd1d6603-7fe3-411d-b985-091f1cf1c698"),
        ];
        all.extend_from_slice(pairs);
        Config::from_vars(&vars(&all))
    }

    #[test]
    fn the_credential_kind_is_inferred_from_the_only_one_configured() {
        use crate::credential::CredentialKind;
        let dir = std::env::temp_dir().join(format!("cred-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "eyJ.e30.sig").unwrap();
        let token = token.to_str().unwrap();
        let kind = |pairs: &[(&str, &str)]| credential_of(pairs).map(|c| c.credential.kind());
        assert_eq!(
            kind(&[("AZURE_AD_CLIENT_SECRET", "s")]).unwrap(),
            CredentialKind::Secret
        );
        assert_eq!(
            kind(&[("AZURE_FEDERATED_TOKEN_FILE", token)]).unwrap(),
            CredentialKind::FederatedTokenFile
        );
        assert_eq!(
            kind(&[(
                "AZURE_AD_MANAGED_IDENTITY_CLIENT_ID",
                "6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19"
            )])
            .unwrap(),
            CredentialKind::ManagedIdentity
        );
        assert_eq!(
            kind(&[("AZURE_AD_CLIENT_CREDENTIAL", "managed-identity")]).unwrap(),
            CredentialKind::ManagedIdentity,
            "a system-assigned identity needs no other variable"
        );
        // Two kinds: the operator must choose; with the choice, the other is ignored aloud.
        let err = credential_of(&[
            ("AZURE_AD_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", token),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "Several client credentials are configured (secret, federated-token-file)"
            ),
            "{err}"
        );
        let chosen = credential_of(&[
            ("AZURE_AD_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", token),
            ("AZURE_AD_CLIENT_CREDENTIAL", "federated-token-file"),
        ])
        .unwrap();
        assert_eq!(chosen.credential.kind(), CredentialKind::FederatedTokenFile);
        assert!(
            chosen
                .warnings
                .iter()
                .any(|w| w.contains("secret are set too and are ignored")),
            "{:?}",
            chosen.warnings
        );
        let err = credential_of(&[("AZURE_AD_CLIENT_CREDENTIAL", "password")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a credential kind"), "{err}");
        let err = credential_of(&[("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AZURE_FEDERATED_TOKEN_FILE=/nonexistent/token cannot be read"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn workload_identitys_injected_names_stand_in_only_beside_its_token_file() {
        let dir = std::env::temp_dir().join(format!("wi-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "eyJ.e30.sig").unwrap();
        let injected = [
            ("AZURE_CLIENT_ID", "dd1d6603-7fe3-411d-b985-091f1cf1c698"),
            ("AZURE_TENANT_ID", "3dac8762-d1be-44f2-861a-a7e2aafdfc78"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        ];
        let mut with_file = injected.to_vec();
        with_file.push(("AZURE_FEDERATED_TOKEN_FILE", token.to_str().unwrap()));
        let config = Config::from_vars(&vars(&with_file)).unwrap();
        assert_eq!(config.client_id, "dd1d6603-7fe3-411d-b985-091f1cf1c698");
        assert_eq!(config.tenant, "3dac8762-d1be-44f2-861a-a7e2aafdfc78");
        // Without the token file they belong to other tools: the embedded world stays.
        let config = Config::from_vars(&vars(&injected)).unwrap();
        assert_eq!(config.client_id, embedded::CLIENT_ID);
        // Beside another chosen credential, they may name another identity: not used.
        let mut beside_a_secret = with_file.clone();
        beside_a_secret.extend([
            ("AZURE_AD_CLIENT_CREDENTIAL", "secret"),
            ("AZURE_AD_CLIENT_SECRET", "s"),
        ]);
        let config = Config::from_vars(&vars(&beside_a_secret)).unwrap();
        assert!(
            matches!(config.idp, IdentityProvider::Embedded { .. }),
            "AZURE_TENANT_ID was not taken: {config:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_graph_api_scope_starts_with_the_aadsts50013_warning() {
        let config = Config::from_vars(&vars(&[(
            "API_SCOPE",
            "https://graph.microsoft.com/User.Read",
        )]))
        .unwrap();
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("AADSTS50013"));
        assert!(
            config.warnings[0]
                .contains(&format!("API_SCOPE={}/access_as_user", embedded::CLIENT_ID))
        );
    }

    #[test]
    fn this_apps_app_id_uri_is_used_as_given() {
        // Refreshes name the scope, so Entra refreshes a token for itself by App ID URI too.
        let uri = format!("api://{}/access_as_user", embedded::CLIENT_ID);
        let config = Config::from_vars(&vars(&[("API_SCOPE", &uri)])).unwrap();
        assert_eq!(config.api_scope.to_wire(), uri);
        assert!(config.warnings.is_empty());
    }

    #[test]
    fn cp1_is_declared_unless_turned_off() {
        assert_eq!(
            Config::from_vars(&vars(&[])).unwrap().client_capabilities,
            ["cp1"]
        );
        let off = Config::from_vars(&vars(&[("AZURE_AD_CLIENT_CAPABILITIES", "none")])).unwrap();
        assert!(off.client_capabilities.is_empty());
        let err =
            Config::from_vars(&vars(&[("AZURE_AD_CLIENT_CAPABILITIES", "cp1,cp9")])).unwrap_err();
        assert!(err.to_string().contains("\"cp9\""), "{err}");
    }

    #[test]
    fn a_multi_tenant_authority_needs_its_allowed_tenants() {
        let base = [
            ("AZURE_AD_TENANT_ID", "organizations"),
            ("AZURE_AD_CLIENT_ID", "c"),
            ("AZURE_AD_CLIENT_SECRET", "s"),
        ];
        let err = Config::from_vars(&vars(&base)).unwrap_err();
        assert!(
            err.to_string()
                .contains("AZURE_AD_ALLOWED_TENANTS is not set")
        );

        let mut with_list = base.to_vec();
        with_list.push((
            "AZURE_AD_ALLOWED_TENANTS",
            "3DAC8762-D1BE-44F2-861A-A7E2AAFDFC78, not-a-guid",
        ));
        let err = Config::from_vars(&vars(&with_list)).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"not-a-guid\" is not a tenant id")
        );

        with_list.pop();
        with_list.push((
            "AZURE_AD_ALLOWED_TENANTS",
            "3DAC8762-D1BE-44F2-861A-A7E2AAFDFC78",
        ));
        let config = Config::from_vars(&vars(&with_list)).unwrap();
        assert!(config.is_multi_tenant());
        assert!(config.allows_tenant("3dac8762-d1be-44f2-861a-a7e2aafdfc78"));
        assert!(!config.allows_tenant("11111111-1111-1111-1111-111111111111"));
    }

    #[test]
    fn a_national_cloud_takes_graph_from_discovery_unless_configured() {
        let mut config = Config::from_vars(&vars(&[
            ("AZURE_AD_TENANT_ID", "contoso.onmicrosoft.us"),
            (
                "AZURE_AD_AUTHORITY_HOST",
                "https://login.microsoftonline.us",
            ),
            ("AZURE_AD_CLIENT_ID", "c"),
            ("AZURE_AD_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        let base = config.adopt_graph_host("graph.microsoft.us");
        assert_eq!(base.as_str(), "https://graph.microsoft.us/");
        assert_eq!(
            config.graph_scope.to_wire(),
            "https://graph.microsoft.us/User.Read"
        );

        let mut config = Config::from_vars(&vars(&[
            ("AZURE_AD_TENANT_ID", "contoso.onmicrosoft.us"),
            ("AZURE_AD_CLIENT_ID", "c"),
            ("AZURE_AD_CLIENT_SECRET", "s"),
            ("GRAPH_SCOPE", "https://graph.microsoft.us/User.Read.All"),
            ("GRAPH_BASE_URL", "https://graph.microsoft.us"),
        ]))
        .unwrap();
        config.adopt_graph_host("graph.microsoft.us");
        assert_eq!(
            config.graph_scope.to_wire(),
            "https://graph.microsoft.us/User.Read.All"
        );
    }

    #[test]
    fn an_api_scope_spanning_two_resources_is_refused() {
        let err = Config::from_vars(&vars(&[("API_SCOPE", "api://a/x User.Read")])).unwrap_err();
        assert!(err.to_string().contains("AADSTS28000"));
    }

    #[test]
    fn http_authority_is_allowed_on_loopback_only() {
        assert!(parse_authority_host("http://127.0.0.1:3100").is_ok());
        assert!(parse_authority_host("http://localhost:3100").is_ok());
        assert!(parse_authority_host("https://login.microsoftonline.com").is_ok());
        assert!(parse_authority_host("http://10.0.0.1").is_err());
        assert!(parse_authority_host("ftp://x").is_err());
    }

    #[test]
    fn https_app_url_is_detected_for_secure_cookies() {
        let config = Config::from_vars(&vars(&[("APP_URL", "https://bff.example.com")])).unwrap();
        assert!(config.is_https());
        assert_eq!(
            config.redirect_uri().as_str(),
            "https://bff.example.com/auth/callback"
        );
    }
}
