//! AADSTS codes explained: what each means, its likely cause in this app's configuration,
//! and the fix. Unknown codes are shown raw with Microsoft's lookup link.

use app::model::{Problem, ProblemAction};

use crate::{
    config::Config,
    entra::{EntraErrorBody, IdpError},
};

/// What the app was doing when the provider failed, to make the cause concrete.
pub enum Operation<'a> {
    SignIn,
    Refresh,
    /// On-Behalf-Of for `scopes`, with the assertion's `aud` claim.
    OnBehalfOf {
        scopes: &'a str,
        assertion_audience: Option<&'a str>,
    },
}

struct Entry {
    code: u32,
    title: &'static str,
    meaning: &'static str,
    cause: &'static str,
    fix: &'static str,
    /// Signing in again (possibly with consent or MFA) resolves it.
    sign_in_fixes: bool,
}

const fn entry(
    code: u32,
    title: &'static str,
    meaning: &'static str,
    cause: &'static str,
    fix: &'static str,
    sign_in_fixes: bool,
) -> Entry {
    Entry {
        code,
        title,
        meaning,
        cause,
        fix,
        sign_in_fixes,
    }
}

/// The catalogue. Messages paraphrase Microsoft's error reference (entra-docs
/// `reference-error-codes.md`); causes and fixes are this app's.
const CATALOGUE: &[Entry] = &[
    entry(
        50013,
        "Assertion failed signature validation",
        "The On-Behalf-Of assertion could not be verified by Entra ID.",
        "The token used as the assertion is not a token for this app's own API. Most often it is a Microsoft Graph token (its header carries a nonce, so nobody but Graph can verify it).",
        "Request this app's own scope at sign-in: set API_SCOPE=<client-id>/access_as_user and expose that scope on the app registration (Expose an API).",
        true,
    ),
    entry(
        500131,
        "Assertion audience does not match the client app",
        "The On-Behalf-Of assertion is a valid token, but for another application.",
        "API_SCOPE names a different API than this app, so the sign-in token's audience is that API.",
        "Set API_SCOPE to a scope this app exposes (<client-id>/access_as_user), or set AZURE_AD_CLIENT_ID to the app that owns the scope.",
        true,
    ),
    entry(
        500133,
        "Assertion is not within its valid time range",
        "The sign-in token used as the On-Behalf-Of assertion had expired.",
        "The server's clock is off, or the token was used after it expired.",
        "Sign in again; check the server's clock (NTP).",
        true,
    ),
    entry(
        240002,
        "An ID token cannot be used as an assertion",
        "On-Behalf-Of needs an access token for this app's API, not an ID token.",
        "The sign-in did not return an access token for API_SCOPE.",
        "Set API_SCOPE=<client-id>/access_as_user so sign-in returns an access token for this app.",
        false,
    ),
    entry(
        65001,
        "Consent has not been granted",
        "The user (or an administrator) has not consented to this app using the downstream API on their behalf.",
        "The downstream permission is not consented for this user, and On-Behalf-Of cannot show a consent screen.",
        "Sign in again and accept the consent for the missing permission, or have an administrator grant consent (API permissions > Grant admin consent), or list this app in the API's knownClientApplications.",
        true,
    ),
    entry(
        65004,
        "User declined to consent",
        "You declined the permissions this app asked for.",
        "The consent screen was cancelled.",
        "Sign in again and accept the permissions, or ask an administrator to grant them.",
        true,
    ),
    entry(
        50076,
        "Multi-factor authentication required",
        "A Conditional Access policy requires multi-factor authentication for this resource.",
        "Your sign-in did not include MFA, and the API requires it.",
        "Continue: sign in again and complete the MFA step; the app sends the policy's claims challenge with the sign-in.",
        true,
    ),
    entry(
        50079,
        "Multi-factor authentication registration required",
        "You must register for multi-factor authentication before using this resource.",
        "A Conditional Access policy requires MFA and your account has no MFA method.",
        "Continue: sign in again and register an MFA method when asked.",
        true,
    ),
    entry(
        50158,
        "External security challenge not satisfied",
        "A Conditional Access policy requires an additional check (e.g. third-party MFA).",
        "The sign-in did not satisfy the policy.",
        "Sign in again and complete the challenge.",
        true,
    ),
    entry(
        53003,
        "Blocked by Conditional Access",
        "A Conditional Access policy blocks access.",
        "Device, location or risk conditions of a policy are not met.",
        "Ask your administrator which policy applies (the trace ID below finds it in the sign-in logs).",
        false,
    ),
    entry(
        700082,
        "Refresh token expired due to inactivity",
        "Your session at Entra ID expired after a long period of inactivity.",
        "The refresh token was not used for 90 days.",
        "Sign in again.",
        true,
    ),
    entry(
        700084,
        "Refresh token for a single-page app expired",
        "Refresh tokens issued to SPA redirect URIs live 24 hours.",
        "The redirect URI is registered as a single-page application.",
        "Register the redirect URI under the Web platform, not SPA.",
        true,
    ),
    entry(
        70008,
        "Code or refresh token expired or revoked",
        "The grant used to obtain tokens is no longer valid.",
        "The session was revoked (password change, admin sign-out) or expired.",
        "Sign in again.",
        true,
    ),
    entry(
        50173,
        "Fresh authentication needed",
        "The grant was revoked, for example after a password change.",
        "Your password changed or an administrator revoked your sessions.",
        "Sign in again.",
        true,
    ),
    entry(
        54005,
        "Authorization code already redeemed",
        "The sign-in response was used twice.",
        "The callback page was reloaded or replayed.",
        "Sign in again.",
        true,
    ),
    entry(
        70000,
        "Invalid grant",
        "The code, refresh token or assertion is invalid or malformed.",
        "A token was corrupted or issued for another client.",
        "Sign in again.",
        true,
    ),
    entry(
        501481,
        "PKCE verifier mismatch",
        "The code verifier does not match the challenge sent at sign-in.",
        "The sign-in was started in another session or tampered with.",
        "Sign in again.",
        true,
    ),
    entry(
        50011,
        "Redirect URI mismatch",
        "The redirect URI of the request is not registered for the app.",
        "APP_URL (or the served address) gives a callback URL that is not in the app registration.",
        "Add <APP_URL>/auth/callback as a Web redirect URI in the app registration (Authentication), or set APP_URL to the registered origin.",
        false,
    ),
    entry(
        7000215,
        "Invalid client secret",
        "The client secret sent is not valid.",
        "AZURE_AD_CLIENT_SECRET holds the secret's ID, an old or a mistyped value.",
        "Set AZURE_AD_CLIENT_SECRET to the secret's Value (shown once when created, not its Secret ID).",
        false,
    ),
    entry(
        7000222,
        "Client secret expired",
        "The app's client secret has expired.",
        "Secrets have an end date.",
        "Create a new secret (Certificates & secrets) and set AZURE_AD_CLIENT_SECRET.",
        false,
    ),
    entry(
        7000218,
        "Client credential missing",
        "The request carried no client secret or client assertion.",
        "The app registration is a confidential client but no credential was sent.",
        "Set AZURE_AD_CLIENT_SECRET or a certificate.",
        false,
    ),
    entry(
        700027,
        "Client assertion failed signature validation",
        "The certificate credential did not verify.",
        "The certificate uploaded to the app registration is not the one whose key signs the assertion.",
        "Upload the certificate matching AZURE_AD_CLIENT_PRIVATE_KEY_PATH to the app registration.",
        false,
    ),
    entry(
        700024,
        "Client assertion not within its valid time range",
        "The client assertion is expired or not yet valid.",
        "The server's clock is off.",
        "Fix the server's clock (NTP).",
        false,
    ),
    entry(
        700016,
        "Application not found in the directory",
        "The client id is not registered in this tenant.",
        "AZURE_AD_CLIENT_ID or AZURE_AD_TENANT_ID is wrong, or the app lives in another tenant.",
        "Check both values on the app registration's Overview page.",
        false,
    ),
    entry(
        90002,
        "Tenant not found",
        "The tenant does not exist.",
        "AZURE_AD_TENANT_ID is mistyped.",
        "Set AZURE_AD_TENANT_ID to the Directory (tenant) ID from the app registration's Overview page.",
        false,
    ),
    entry(
        500011,
        "Resource principal not found in the tenant",
        "The API named in a scope is not known in this tenant.",
        "A scope names an API that is not registered or not consented in this tenant.",
        "Check GRAPH_SCOPE / API_SCOPE / DOWNSTREAM_API_SCOPE, and that the API's app registration exists in this tenant.",
        false,
    ),
    entry(
        28000,
        "Scopes for several resources in one request",
        "A token can only be issued for one API at a time.",
        "A scope setting mixes two APIs.",
        "Give each setting the scopes of one API only.",
        false,
    ),
    entry(
        700022,
        "Scope spans several resources",
        "A token can only be issued for one API at a time.",
        "A scope setting mixes two APIs.",
        "Give each setting the scopes of one API only.",
        false,
    ),
    entry(
        70011,
        "Invalid scope",
        "A requested scope is not valid.",
        "A scope is misspelled or not exposed by its API.",
        "Check the scope against the API's Expose an API page.",
        false,
    ),
    entry(
        50058,
        "No session at the identity provider",
        "A silent sign-in found no signed-in user.",
        "You are not signed in at Entra ID in this browser.",
        "Sign in again.",
        true,
    ),
    entry(
        90009,
        "A token for this app itself must name it by its GUID",
        "Entra ID issues a token that an app requests for itself only when the resource is named by the app's GUID (its client id). Sign-in tolerates an App ID URI; the refresh an hour later does not.",
        "API_SCOPE names this app by an App ID URI (api://...), so every session fails when its first token expires.",
        "Set API_SCOPE=<client-id>/access_as_user (the GUID form; this app uses it by itself unless API_SCOPE_KEEP_APP_ID_URI is set or the App ID URI is a custom one), restart, and sign in again.",
        false,
    ),
    entry(
        90008,
        "The app must require Microsoft Graph's sign-in permission",
        "An app that requests a token for itself must list Microsoft Graph's User.Read (Sign in and read user profile) among its API permissions.",
        "The app registration's API permissions do not include Microsoft Graph > Delegated > User.Read.",
        "In the app registration: API permissions > Add a permission > Microsoft Graph > Delegated > User.Read, then grant consent.",
        false,
    ),
    entry(
        500202,
        "A guest account needs its tenant's endpoint",
        "A guest with a personal Microsoft account cannot obtain tokens from the multi-tenant endpoints (common, organizations); the request must name the tenant the guest was invited to.",
        "A token request went to a multi-tenant endpoint for a guest user.",
        "This app sends refresh and On-Behalf-Of to the tenant that issued the user's sign-in; if this appears, set AZURE_AD_TENANT_ID to the tenant the guest was invited to.",
        true,
    ),
    entry(
        50133,
        "Session invalid after a password change",
        "Your session at Entra ID ended because your password expired or was changed.",
        "The password of your account changed after you signed in here.",
        "Sign in again with your current password.",
        true,
    ),
    entry(
        70043,
        "Sign-in frequency reached",
        "A Conditional Access sign-in frequency policy requires you to sign in again; the refresh token is no longer accepted.",
        "Your organisation limits how long a sign-in lasts.",
        "Sign in again.",
        true,
    ),
    entry(
        70044,
        "Session expired by sign-in frequency",
        "A Conditional Access sign-in frequency policy ended your session.",
        "Your organisation limits how long a sign-in lasts.",
        "Sign in again.",
        true,
    ),
    entry(
        90094,
        "Administrator consent required",
        "The permissions this app asks for need an administrator's consent; users cannot grant them in this tenant.",
        "A scope this app asks for is admin-only, or the tenant does not let users consent to apps.",
        "Ask an administrator to grant consent (App registrations > API permissions > Grant admin consent). Admin consent for Microsoft Graph does not cover this app's own access_as_user: the administrator must consent to that scope too.",
        false,
    ),
    entry(
        50126,
        "Invalid username or password",
        "The credentials were wrong.",
        "A mistyped password.",
        "Sign in again with the right password.",
        true,
    ),
];

/// Explains a failure of the identity provider in this configuration.
pub fn explain(err: &IdpError, op: &Operation<'_>, config: &Config, sign_in_url: &str) -> Problem {
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
            code: None,
            error: None,
            message: Some(format!("{endpoint}: {detail}")),
            meaning: "The identity provider answered something this app could not read.".into(),
            cause: "AZURE_AD_AUTHORITY_HOST may point at something that is not Entra ID, or a proxy changed the answer.".into(),
            fix: "Check AZURE_AD_AUTHORITY_HOST and try again.".into(),
            trace_id: None,
            correlation_id: None,
            timestamp: None,
            lookup_url: None,
            action: ProblemAction::Retry,
        },
    }
}

fn transient(title: &str, meaning: String) -> Problem {
    Problem {
        title: title.into(),
        code: None,
        error: None,
        message: None,
        meaning,
        cause: "A temporary outage or overload at the identity provider.".into(),
        fix: "Try again in a moment. You are still signed in; nothing was lost.".into(),
        trace_id: None,
        correlation_id: None,
        timestamp: None,
        lookup_url: None,
        action: ProblemAction::Retry,
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
    let (title, meaning, mut cause, mut fix, sign_in_fixes) = match known {
        Some(e) => (
            e.title.to_owned(),
            e.meaning.to_owned(),
            e.cause.replace("<client-id>", client_id),
            e.fix.replace("<client-id>", client_id),
            e.sign_in_fixes,
        ),
        None => (
            format!("The identity provider refused the request ({})", body.error),
            body.message().to_owned(),
            "This app does not know this code.".to_owned(),
            "Look the code up at Microsoft (link below).".to_owned(),
            matches!(
                body.error.as_str(),
                "invalid_grant" | "interaction_required" | "login_required"
            ),
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
    if code == Some(90009) {
        cause = format!(
            "API_SCOPE is {}: it names this app by an App ID URI, so Entra ID refuses to renew \
             the sign-in token (sign-in worked; the first refresh fails).",
            config.api_scope
        );
    }
    if matches!(op, Operation::Refresh) && sign_in_fixes {
        cause = format!("Your session has expired: {cause}");
    }
    let is_claims_challenge = body.claims.is_some();
    let action = if sign_in_fixes || is_claims_challenge {
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
        lookup_url: match (known, code) {
            (None, Some(c)) => Some(format!("https://login.microsoftonline.com/error?code={c}")),
            _ => None,
        },
        action,
    }
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
    fn a_refused_self_token_refresh_names_the_guid_form() {
        let uri = format!(
            "api://{}/access_as_user",
            crate::config::embedded::CLIENT_ID
        );
        let vars: HashMap<String, String> = [
            ("API_SCOPE".to_owned(), uri.clone()),
            ("API_SCOPE_KEEP_APP_ID_URI".to_owned(), "true".to_owned()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_vars(&vars).unwrap();
        let problem = explain(
            &rejected(90009, "invalid_request"),
            &Operation::Refresh,
            &config,
            "/auth/login",
        );
        assert_eq!(problem.code, Some(90009));
        assert!(problem.cause.contains(&uri), "{}", problem.cause);
        assert!(
            problem
                .fix
                .contains(&format!("API_SCOPE={}/access_as_user", config.client_id)),
            "{}",
            problem.fix
        );
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
