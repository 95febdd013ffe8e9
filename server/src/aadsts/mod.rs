//! AADSTS codes explained: what each means, its likely cause in this app's configuration,
//! and the fix (`catalogue.rs`). Unknown codes are shown raw with Microsoft's lookup link.

use app::model::{Problem, ProblemAction};

use crate::{
    config::Config,
    credential::{CredentialError, CredentialKind},
    entra::{EntraErrorBody, IdpError},
};

/// What the app was doing when the provider failed, to make the cause concrete.
pub enum Operation<'a> {
    SignIn,
    Refresh,
    /// A token for this app itself (client credentials).
    AppOnly,
    /// On-Behalf-Of for `scopes`, with the assertion's `aud` claim.
    OnBehalfOf {
        scopes: &'a str,
        assertion_audience: Option<&'a str>,
    },
}

mod catalogue;

/// Codes of a sign-in refused for a resource with no service principal in the user's tenant.
pub const RESOURCE_NOT_IN_TENANT: [u32; 4] = [650052, 65005, 650054, 650057];

/// Codes of a sign-in refused for a consent only an administrator may give. Which one a
/// tenant without user consent answers is unconfirmed (emulator/README.md, ledger K3): each.
pub const ADMIN_CONSENT_REQUIRED: [u32; 4] = [90094, 90093, 900941, 90095];

/// Whether `code` refuses a sign-in for a resource or a consent it asked for: one of
/// [`RESOURCE_NOT_IN_TENANT`] or [`ADMIN_CONSENT_REQUIRED`].
pub fn refuses_consent(code: u32) -> bool {
    RESOURCE_NOT_IN_TENANT.contains(&code) || ADMIN_CONSENT_REQUIRED.contains(&code)
}

use catalogue::{CATALOGUE, Remedy};

/// Explains a failure of the identity provider in this configuration.
pub fn explain(err: &IdpError, op: &Operation<'_>, config: &Config, sign_in_url: &str) -> Problem {
    Problem {
        request_trace_id: crate::telemetry::trace_id(),
        ..explain_error(err, op, config, sign_in_url)
    }
}

fn explain_error(
    err: &IdpError,
    op: &Operation<'_>,
    config: &Config,
    sign_in_url: &str,
) -> Problem {
    match err {
        IdpError::Rejected { body, .. } => explain_rejection(body, op, config, sign_in_url),
        IdpError::Throttled { retry_after, .. } => transient(
            "The identity provider is throttling requests",
            format!(
                "Entra ID answered 429 Too Many Requests{}.",
                retry_after.map(|d| format!("; it asks to wait {} s", d.as_secs())).unwrap_or_default()
            ),
        ),
        IdpError::Unavailable { detail, .. } => transient(
            "The identity provider is unavailable",
            format!("Entra ID could not be reached or failed ({detail})."),
        ),
        IdpError::InvalidResponse { endpoint, detail } => Problem {
            title: "Unexpected answer from the identity provider".into(),
            message: Some(format!("{endpoint}: {detail}")),
            meaning: "The identity provider answered something this app could not read.".into(),
            cause: "AZURE_AD_AUTHORITY_HOST may point at something that is not Entra ID, or a proxy changed the answer.".into(),
            fix: "Check AZURE_AD_AUTHORITY_HOST and try again.".into(),
            action: ProblemAction::Retry,
            ..Problem::default()
        },
        IdpError::Credential(err) => credential_problem(err),
    }
}

/// The app's own credential could not be produced: nothing reached Entra.
fn credential_problem(err: &CredentialError) -> Problem {
    let fix = match err.kind {
        CredentialKind::FederatedTokenFile => {
            "Run the pod with a service account labelled for workload identity \
             (azure.workload.identity/use: \"true\"), so that AZURE_FEDERATED_TOKEN_FILE names \
             the token the platform projects; see \"Deploying on Azure\" in the README."
        }
        CredentialKind::ManagedIdentity => {
            "Assign the managed identity to this host, set AZURE_AD_MANAGED_IDENTITY_CLIENT_ID \
             to its client id for a user-assigned one, and register it as a federated \
             credential of the app; see \"Deploying on Azure\" in the README."
        }
        CredentialKind::Secret | CredentialKind::Certificate => {
            "Mend the credential file named above (a secret or PEM mount that went missing)."
        }
    };
    // The detail (file paths, the identity's id, the endpoint's answer) is in the server log
    // and on the diagnostics page for signed-in users, not on a page anyone may see.
    Problem {
        title: "This app could not prove its identity to Entra ID".into(),
        meaning: format!(
            "Every request to Entra ID carries the app's client credential ({}); it could not \
             be produced, so nothing was sent.",
            err.kind
        ),
        cause: if err.transient {
            "The identity endpoint of this host did not answer (the server log says more).".into()
        } else {
            "The credential's configuration does not work on this host (the server log names \
             the file or identity and what went wrong)."
                .into()
        },
        fix: fix.into(),
        action: if err.transient {
            ProblemAction::Retry
        } else {
            ProblemAction::None
        },
        ..Problem::default()
    }
}

fn transient(title: &str, meaning: String) -> Problem {
    Problem {
        title: title.into(),
        meaning,
        cause: "A temporary outage or overload at the identity provider.".into(),
        fix: "Try again in a moment. You are still signed in; nothing was lost.".into(),
        action: ProblemAction::Retry,
        ..Problem::default()
    }
}

fn explain_rejection(
    body: &EntraErrorBody,
    op: &Operation<'_>,
    config: &Config,
    sign_in_url: &str,
) -> Problem {
    let code = body.code();
    let known = code.and_then(|c| CATALOGUE.iter().find(|e| e.code == c));
    let client_id = &config.client_id;
    let (title, meaning, mut cause, mut fix, remedy) = match known {
        Some(e) => (
            e.title.to_owned(),
            e.meaning.to_owned(),
            e.cause.replace("<client-id>", client_id),
            e.fix.replace("<client-id>", client_id),
            e.remedy,
        ),
        None => (
            format!("The identity provider refused the request ({})", body.error),
            body.message().to_owned(),
            "This app does not know this code.".to_owned(),
            "Look the code up at Microsoft (link below).".to_owned(),
            if matches!(
                body.error.as_str(),
                "invalid_grant" | "interaction_required" | "login_required"
            ) {
                Remedy::SignIn
            } else {
                Remedy::Configuration
            },
        ),
    };
    // Say which token was the problem, by its audience.
    if let Operation::OnBehalfOf {
        scopes,
        assertion_audience,
    } = op
    {
        let aud = assertion_audience.unwrap_or("(unknown)");
        match code {
            Some(50013) => {
                let graph = crate::domain::is_graph(aud);
                cause = if graph {
                    format!(
                        "The sign-in token's audience is Microsoft Graph ({aud}); an On-Behalf-Of \
                         assertion must be a token for this app's own API. API_SCOPE is {}.",
                        config.api_scope
                    )
                } else {
                    format!(
                        "The sign-in token (audience {aud}) could not be verified as a token for \
                         this app's API. API_SCOPE is {}.",
                        config.api_scope
                    )
                };
                fix = format!(
                    "Set API_SCOPE to {client_id}/access_as_user (this app's own exposed \
                     scope) and sign in again."
                );
            }
            Some(500131) => {
                cause = format!(
                    "The sign-in token's audience is {aud}, but this app is {client_id}. \
                     API_SCOPE is {}.",
                    config.api_scope
                );
            }
            Some(65001) => {
                cause = format!("No consent exists for this app to call {scopes} on your behalf.");
            }
            _ => {}
        }
    }
    // An expired client assertion is a clock for a certificate, a stale file for a token the
    // platform should have renewed.
    if code == Some(700024) && config.credential.kind() == CredentialKind::FederatedTokenFile {
        cause = "The token in AZURE_FEDERATED_TOKEN_FILE has expired: nothing renewed the file \
                 (the kubelet rewrites a projected service-account token before it expires)."
            .to_owned();
        fix = "Mount the token as a projected service-account token (AKS workload identity's \
               webhook does), not a copy, and check the node's clock."
            .to_owned();
    }
    if matches!(op, Operation::Refresh) && remedy == Remedy::SignIn {
        cause = format!("Your session has expired: {cause}");
    }
    let is_claims_challenge = body.claims.is_some();
    let action = if remedy == Remedy::SignIn || is_claims_challenge {
        let label = if is_claims_challenge {
            "Continue"
        } else if code == Some(65001) {
            "Review permissions"
        } else {
            "Sign in again"
        };
        ProblemAction::SignIn {
            url: sign_in_url.to_owned(),
            label: label.to_owned(),
        }
    } else {
        ProblemAction::None
    };
    Problem {
        title,
        code,
        error: Some(body.error.clone()),
        message: Some(body.message().to_owned()),
        meaning,
        cause,
        fix,
        trace_id: body.trace_id.clone(),
        correlation_id: body.correlation_id.clone(),
        timestamp: body.timestamp.clone(),
        request_trace_id: None,
        lookup_url: match (known, code) {
            (None, Some(c)) => Some(format!("https://login.microsoftonline.com/error?code={c}")),
            _ => None,
        },
        action,
    }
}

/// The catalogue's short meaning of `code` (its title), for spans and log lines.
pub fn title_of(code: u32) -> Option<&'static str> {
    CATALOGUE.iter().find(|e| e.code == code).map(|e| e.title)
}

/// The number of codes the catalogue explains.
pub fn catalogue_len() -> usize {
    CATALOGUE.len()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(api_scope: &str) -> Config {
        let vars: HashMap<String, String> = [("API_SCOPE".to_owned(), api_scope.to_owned())]
            .into_iter()
            .collect();
        Config::from_vars(&vars).unwrap()
    }

    #[test]
    fn every_credential_refusal_entra_gives_is_explained_with_a_fix() {
        let config = config("dd1d6603-7fe3-411d-b985-091f1cf1c698/access_as_user");
        for code in [
            70021, 700211, 700212, 700213, 7002138, 7000272, 50166, 700024, 700027, 7000214,
            1000502, 7000215, 7000222,
        ] {
            let problem = explain(
                &rejected(code, "invalid_client"),
                &Operation::Refresh,
                &config,
                "/",
            );
            assert!(
                problem.lookup_url.is_none(),
                "AADSTS{code} is not in the catalogue"
            );
            assert_eq!(
                problem.action,
                ProblemAction::None,
                "AADSTS{code}: a configuration fix"
            );
            assert!(!problem.fix.is_empty(), "AADSTS{code}");
        }
    }

    fn rejected(code: u32, error: &str) -> IdpError {
        IdpError::Rejected {
            endpoint: "token",
            status: 400,
            body: Box::new(EntraErrorBody {
                error: error.into(),
                error_description: Some(format!("AADSTS{code}: something\r\nTrace ID: t")),
                error_codes: vec![code],
                trace_id: Some("t".into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_catalogue_has_at_least_25_distinct_codes() {
        let mut codes: Vec<u32> = CATALOGUE.iter().map(|e| e.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
        assert!(codes.len() >= 25);
    }

    #[test]
    fn a_graph_assertion_is_explained_as_the_seed_mistake() {
        let config = config("https://graph.microsoft.com/User.Read");
        let op = Operation::OnBehalfOf {
            scopes: "https://graph.microsoft.com/User.Read",
            assertion_audience: Some("https://graph.microsoft.com"),
        };
        let problem = explain(
            &rejected(50013, "invalid_grant"),
            &op,
            &config,
            "/auth/login",
        );
        assert_eq!(problem.code, Some(50013));
        assert!(
            problem.cause.contains("audience is Microsoft Graph"),
            "{}",
            problem.cause
        );
        assert!(
            problem
                .fix
                .contains(&format!("API_SCOPE to {}/access_as_user", config.client_id))
        );
        assert_eq!(problem.trace_id.as_deref(), Some("t"));
    }

    #[test]
    fn another_apps_token_names_both_audiences() {
        let config = config("api://other-app/read");
        let op = Operation::OnBehalfOf {
            scopes: "User.Read",
            assertion_audience: Some("api://other-app"),
        };
        let problem = explain(
            &rejected(500131, "invalid_grant"),
            &op,
            &config,
            "/auth/login",
        );
        assert!(problem.cause.contains("api://other-app"));
        assert!(problem.cause.contains(&config.client_id));
    }

    #[test]
    fn an_expired_refresh_token_offers_sign_in() {
        let config = config("api://x/y");
        let problem = explain(
            &rejected(700082, "invalid_grant"),
            &Operation::Refresh,
            &config,
            "/auth/login?return_to=/tokens",
        );
        assert!(problem.cause.starts_with("Your session has expired"));
        assert_eq!(
            problem.action,
            ProblemAction::SignIn {
                url: "/auth/login?return_to=/tokens".into(),
                label: "Sign in again".into()
            }
        );
    }

    #[test]
    fn aadsts90009_names_the_refresh_without_scope() {
        let config = config(&format!(
            "api://{}/access_as_user",
            crate::config::embedded::CLIENT_ID
        ));
        let problem = explain(
            &rejected(90009, "invalid_request"),
            &Operation::Refresh,
            &config,
            "/auth/login",
        );
        assert!(
            problem.cause.contains("without `scope`"),
            "{}",
            problem.cause
        );
        assert!(problem.fix.contains("Send the scope"), "{}", problem.fix);
        assert_eq!(problem.action, ProblemAction::None);
        assert!(problem.lookup_url.is_none());
    }

    #[test]
    fn the_real_tenant_codes_are_explained() {
        let config = config("api://x/y");
        for (code, error, words, sign_in) in [
            (90008, "invalid_grant", "User.Read", false),
            (500202, "invalid_request", "tenant", true),
            (50133, "invalid_grant", "password", true),
            (70043, "invalid_grant", "Conditional Access", true),
            (70044, "invalid_grant", "Conditional Access", true),
            (90094, "consent_required", "access_as_user", false),
            (650052, "invalid_client", "service principal", false),
            (65005, "invalid_client", "not available", false),
            (90093, "consent_required", "consent", false),
        ] {
            let problem = explain(
                &rejected(code, error),
                &Operation::SignIn,
                &config,
                "/login",
            );
            assert_eq!(problem.code, Some(code));
            assert!(problem.lookup_url.is_none(), "{code} is in the catalogue");
            let text = format!("{} {} {}", problem.meaning, problem.cause, problem.fix);
            assert!(text.contains(words), "{code}: {text}");
            assert_eq!(
                matches!(problem.action, ProblemAction::SignIn { .. }),
                sign_in,
                "{code}"
            );
        }
    }

    #[test]
    fn a_national_cloud_graph_assertion_is_recognised() {
        let config = config("https://graph.microsoft.us/User.Read");
        let op = Operation::OnBehalfOf {
            scopes: "https://graph.microsoft.us/User.Read",
            assertion_audience: Some("https://graph.microsoft.us"),
        };
        let problem = explain(&rejected(50013, "invalid_grant"), &op, &config, "/");
        assert!(
            problem.cause.contains("audience is Microsoft Graph"),
            "{}",
            problem.cause
        );
    }

    #[test]
    fn an_unknown_code_is_shown_raw_with_the_lookup_link() {
        let config = config("api://x/y");
        let problem = explain(
            &rejected(9_999_999, "invalid_request"),
            &Operation::SignIn,
            &config,
            "/",
        );
        assert_eq!(problem.code, Some(9_999_999));
        assert_eq!(
            problem.lookup_url.as_deref(),
            Some("https://login.microsoftonline.com/error?code=9999999")
        );
        assert_eq!(problem.message.as_deref(), Some("AADSTS9999999: something"));
    }

    #[test]
    fn outages_offer_a_retry_and_keep_the_session() {
        let config = config("api://x/y");
        let err = IdpError::Unavailable {
            endpoint: "token",
            detail: "timed out".into(),
            retry_after: None,
        };
        let problem = explain(&err, &Operation::SignIn, &config, "/");
        assert_eq!(problem.action, ProblemAction::Retry);
        assert!(problem.fix.contains("still signed in"));
    }
}
