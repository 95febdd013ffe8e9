//! The diagnostics page's live checks: discovery, signing keys, the sign-in scope's
//! audience (the AADSTS50013 trap), one resource per scope setting, and the redirect URI
//! against the origin the browser is using.
//!
//! The page is reachable by anyone, so it must not become a way to get this app throttled
//! by Entra or to learn its configuration: the checks against the identity provider run at
//! most once per [`REFRESH_EVERY`] whatever the traffic (single flight), and strangers see
//! only each check's name and outcome.

use std::time::{Duration, Instant};
use tracing::Instrument as _;

use app::model::{Check, Diagnostics, Outcome};
use http::request::Parts;
use tokio::sync::Mutex;

use crate::{
    aadsts::Operation,
    config::Config,
    domain::Resource,
    entra::{EntraClient, ProviderMetadata},
};

fn check(name: &str, outcome: Outcome, detail: String, fix: Option<String>) -> Check {
    Check {
        name: name.to_owned(),
        outcome,
        detail,
        fix,
    }
}

/// How often at most the identity provider is asked again for the diagnostics page.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// How often at most the client credential is tried (a token request of its own).
pub const CREDENTIAL_EVERY: Duration = Duration::from_secs(60);

/// The configuration checks, kept for [`REFRESH_EVERY`], and the client credential's, kept
/// for [`CREDENTIAL_EVERY`].
#[derive(Default)]
pub struct CachedChecks {
    checks: Mutex<Option<(Instant, Vec<Check>)>>,
    credential: Mutex<Option<(Instant, Check)>>,
}

impl CachedChecks {
    /// The report for this request: the cached configuration checks (refreshed when older
    /// than [`REFRESH_EVERY`], one refresh at a time) and the redirect URI against this
    /// request's host. `signed_in: false` keeps only names and outcomes.
    pub async fn report(
        &self,
        entra: &EntraClient,
        config: &Config,
        request: &Parts,
        signed_in: bool,
    ) -> Diagnostics {
        let mut checks = {
            let mut cached = self.checks.lock().await;
            match cached.as_ref() {
                Some((at, checks)) if at.elapsed() < REFRESH_EVERY => checks.clone(),
                _ => {
                    let checks = configuration_checks(entra, config).await;
                    *cached = Some((Instant::now(), checks.clone()));
                    checks
                }
            }
        };
        checks.push({
            let mut cached = self.credential.lock().await;
            match cached.as_ref() {
                Some((at, check)) if at.elapsed() < CREDENTIAL_EVERY => check.clone(),
                _ => {
                    let check = credential_check(entra, config).await;
                    *cached = Some((Instant::now(), check.clone()));
                    check
                }
            }
        });
        checks.push(redirect_check(config, request));
        if !signed_in {
            for check in &mut checks {
                check.detail = "Sign in to see the details.".to_owned();
                check.fix = None;
            }
        }
        Diagnostics { checks }
    }
}

async fn configuration_checks(entra: &EntraClient, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let authority = entra
        .metadata()
        .authorization_endpoint
        .origin()
        .ascii_serialization();

    // 1. Discovery, fetched again now (not the copy from start-up).
    let host = url::Url::parse(&authority).expect("an origin is a URL");
    match ProviderMetadata::discover(entra.http(), &host, &config.tenant).await {
        Ok(meta) => checks.push(check(
            "Discovery document",
            Outcome::Pass,
            format!("{authority}/{}: issuer {}", config.tenant, meta.issuer),
            None,
        )),
        Err(err) => checks.push(check(
            "Discovery document",
            Outcome::Fail,
            err.to_string(),
            Some("Check AZURE_AD_AUTHORITY_HOST and AZURE_AD_TENANT_ID.".into()),
        )),
    }

    // 2. Signing keys (a call to Entra like any other: its span and request id).
    let jwks_uri = entra.metadata().jwks_uri.clone();
    let call = crate::entra::traced::EntraCall::start("keys", "GET", &jwks_uri, None);
    let keys = async {
        let response = entra
            .http()
            .get(jwks_uri.clone())
            .headers(call.headers())
            .send()
            .await?;
        call.answered(response.status().as_u16(), response.headers());
        response
            .error_for_status()?
            .json::<jsonwebtoken::jwk::JwkSet>()
            .await
    }
    .instrument(call.span().clone())
    .await;
    checks.push(match keys {
        Ok(set) if !set.keys.is_empty() => check(
            "Signing keys (JWKS)",
            Outcome::Pass,
            format!(
                "{} key(s): {}",
                set.keys.len(),
                set.keys
                    .iter()
                    .filter_map(|k| k.common.key_id.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
        Ok(_) => check(
            "Signing keys (JWKS)",
            Outcome::Fail,
            "the key set is empty: no ID token can be verified".into(),
            Some("Check the authority; Entra always publishes keys.".into()),
        ),
        Err(err) => check(
            "Signing keys (JWKS)",
            Outcome::Fail,
            err.without_url().to_string(),
            Some("Check that the authority is reachable from the server.".into()),
        ),
    });

    // 3. The sign-in scope's audience: the On-Behalf-Of assertion.
    let fix_scope = format!("Set API_SCOPE={}/access_as_user.", config.client_id);
    checks.push(match config.api_scope.resource() {
        Ok(Resource::Graph) => check(
            "Sign-in scope (OBO assertion)",
            Outcome::Fail,
            format!(
                "API_SCOPE={} is a Microsoft Graph scope: the sign-in token will be a Graph \
                 token, and On-Behalf-Of fails with AADSTS50013.",
                config.api_scope
            ),
            Some(fix_scope),
        ),
        Ok(resource) if resource.is_app(&config.client_id) => check(
            "Sign-in scope (OBO assertion)",
            Outcome::Pass,
            format!(
                "API_SCOPE={}: a token for this app's own API",
                config.api_scope
            ),
            None,
        ),
        Ok(resource) => check(
            "Sign-in scope (OBO assertion)",
            Outcome::Warn,
            format!(
                "API_SCOPE={} names {resource}, not this app ({}): On-Behalf-Of fails with \
                 AADSTS500131 unless that is an App ID URI of this app.",
                config.api_scope, config.client_id
            ),
            Some(fix_scope),
        ),
        Err(err) => check(
            "Sign-in scope (OBO assertion)",
            Outcome::Fail,
            err.to_string(),
            Some(fix_scope),
        ),
    });

    // 3b. Claims challenges: declared or not (Conditional Access step-up, Continuous Access
    // Evaluation).
    checks.push(if config.client_capabilities.is_empty() {
        check(
            "Client capabilities",
            Outcome::Warn,
            "none declared (AZURE_AD_CLIENT_CAPABILITIES=none): Entra and the APIs send this \
             app no claims challenge, so Continuous Access Evaluation is off and an API \
             that needs an authentication context refuses it (403)"
                .into(),
            Some("Unset AZURE_AD_CLIENT_CAPABILITIES to declare cp1.".into()),
        )
    } else {
        check(
            "Client capabilities",
            Outcome::Pass,
            format!(
                "{} declared: claims challenges (step-up, Continuous Access Evaluation) are \
                 answered by On-Behalf-Of with the claims, then by a sign-in",
                config.client_capabilities.join(", ")
            ),
            None,
        )
    });

    // 4. One resource per downstream scope setting (checked at start; shown here).
    checks.push(check(
        "Graph scope",
        Outcome::Pass,
        format!("GRAPH_SCOPE={}: one API", config.graph_scope),
        None,
    ));
    let apis = &config.downstream_apis;
    checks.push(if apis.is_empty() {
        check(
            "Downstream API scope",
            Outcome::Warn,
            "no downstream API is configured".into(),
            Some(
                "Set DOWNSTREAM_API__<NAME>__BASE_URL and __SCOPES to call one (see README.md)."
                    .into(),
            ),
        )
    } else {
        let each: Vec<String> = apis
            .iter()
            .map(|api| format!("{}: {}", api.name, api.scopes.to_wire()))
            .collect();
        check(
            "Downstream API scope",
            Outcome::Pass,
            format!("{}: one API each", each.join("; ")),
            None,
        )
    });

    checks
}

/// The client credential: its kind (never its value), proved by one app-only token request
/// for Microsoft Graph's `.default`, which Entra issues to any confidential client (without
/// `roles` when no application permission is granted: emulator/README.md, ledger Q5).
async fn credential_check(entra: &EntraClient, config: &Config) -> Check {
    let credential = &config.credential;
    let what = match credential.sources() {
        1 => format!("{} credential", credential.kind()),
        n => format!(
            "{} credential ({n} configured, rotating)",
            credential.kind()
        ),
    };
    let graph = config
        .graph_scope
        .iter()
        .next()
        .and_then(|scope| {
            scope
                .as_str()
                .rsplit_once('/')
                .map(|(api, _)| api.to_owned())
        })
        .unwrap_or_else(|| "https://graph.microsoft.com".to_owned());
    match entra.app_token(None, &format!("{graph}/.default")).await {
        Ok(_) => check(
            "Client credential",
            Outcome::Pass,
            format!("{what}: Entra ID issued this app a token"),
            None,
        ),
        Err(err) => {
            // The catalogue's fix for the code (or the credential failure).
            let fix = crate::aadsts::explain(&err, &Operation::SignIn, config, "/auth/login").fix;
            check(
                "Client credential",
                if err.is_transient() {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                },
                format!("{what}: {err}"),
                Some(fix),
            )
        }
    }
}

/// The redirect URI against the origin this browser uses.
fn redirect_check(config: &Config, request: &Parts) -> Check {
    let redirect = config.redirect_uri();
    let served = request
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let expected = match redirect.port_or_known_default() {
        Some(port) if Some(port) != default_port(redirect.scheme()) => {
            format!("{}:{port}", redirect.host_str().unwrap_or_default())
        }
        _ => redirect.host_str().unwrap_or_default().to_owned(),
    };
    if served.eq_ignore_ascii_case(&expected) {
        check(
            "Redirect URI",
            Outcome::Pass,
            format!("{redirect} matches the origin you are using"),
            None,
        )
    } else {
        check(
            "Redirect URI",
            Outcome::Warn,
            format!(
                "you are browsing at {served}, but sign-in returns to {redirect}: the session \
                 cookie of this host will not be there"
            ),
            Some(format!(
                "Browse at {} or set APP_URL to this origin (and register its /auth/callback).",
                config.public_url
            )),
        )
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}
