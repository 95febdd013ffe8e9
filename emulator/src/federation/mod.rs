//! Workload identity federation (Microsoft Learn: learn.microsoft.com/entra/workload-id/workload-identity-federation):
//! a client assertion that names the app neither as its issuer nor as its subject is an external
//! token, such as a
//! Kubernetes service-account token or a managed identity's token for
//! `api://AzureADTokenExchange`. It authenticates the app when one of the app's federated
//! identity credentials names its issuer, subject and audience, compared case-sensitively, and
//! its issuer's published keys verify it. Unlike a certificate assertion, the same external
//! token may be presented many times while it is valid (a kubelet refreshes the file hourly,
//! and every token request of that hour sends it).

mod issuer_keys;

pub use issuer_keys::IssuerKeyCache;
use jsonwebtoken::{Algorithm, DecodingKey, jwk::JwkSet};
use serde_json::Value;

use crate::{
    errors::AadError,
    keys::now,
    params::Params,
    tokens::{self, Decoded},
    world::{Application, World},
};

/// Seconds of clock skew allowed on an external token's `exp` and `nbf`.
const SKEW_SECS: i64 = 300;

const FIC_DOCS: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/// The outcome of fetching an external issuer's keys, made before the token endpoint takes
/// its locks (the fetch is a network call).
#[derive(Debug)]
pub struct FetchedKeys {
    /// The issuer fetched.
    pub issuer: String,
    /// Its key set, or why it could not be read.
    pub keys: Result<std::sync::Arc<JwkSet>, String>,
}

/// Whether a client assertion is an external token: a certificate assertion names the app
/// itself (`iss` = `sub` = its client id), an external token neither (its issuer's URL, and
/// the workload's own subject). One that names the app in one of them is a certificate
/// assertion gone wrong (AADSTS50048, 700021).
pub fn is_external(claims: &Value, client_id: &str) -> bool {
    let names_app = |k: &str| {
        claims[k]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(client_id))
    };
    !names_app("iss") && !names_app("sub")
}

/// The keys a token request's client assertion will need: those of its issuer, when it is an
/// external token and the client (any tenant's registration of it) has a federated credential
/// naming that issuer exactly. `None` otherwise: nothing is fetched for unregistered issuers.
pub async fn prefetch(
    world: &std::sync::RwLock<World>,
    cache: &IssuerKeyCache,
    params: &Params,
) -> Option<FetchedKeys> {
    let decoded = tokens::decode(params.get("client_assertion")?).ok()?;
    let issuer = decoded.claims["iss"].as_str()?.to_owned();
    let client_id = params
        .get("client_id")
        .map(str::to_owned)
        .or_else(|| decoded.claims["sub"].as_str().map(str::to_owned))?;
    if !is_external(&decoded.claims, &client_id) {
        return None;
    }
    let registered = world
        .read()
        .expect("world lock")
        .tenants
        .iter()
        .filter_map(|t| t.app(&client_id))
        .flat_map(|app| &app.federated_identity_credentials)
        .any(|fic| fic.issuer == issuer);
    if !registered {
        return None;
    }
    let kid = decoded.header["kid"].as_str();
    let keys = cache.get(&issuer, kid).await;
    Some(FetchedKeys { issuer, keys })
}

/// Authenticates `app` with the external token `assertion`, in the order Entra reports
/// failures: the issuer, its keys and signature, the validity period, the subject, then
/// the audience.
///
/// # Errors
/// AADSTS700211 (no credential for the issuer), 50166 (its keys could not be fetched),
/// 7000272 / 700027 (key, signature), 700024 (time), 7002138 / 700213 (subject), 700212
/// (audience).
pub fn authenticate(
    app: &Application,
    assertion: &str,
    decoded: &Decoded,
    fetched: Option<&FetchedKeys>,
) -> Result<(), AadError> {
    let c = &decoded.claims;
    let iss = c["iss"].as_str().unwrap_or_default();
    let sub = c["sub"].as_str().unwrap_or_default();
    let auds: Vec<&str> = match &c["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let by_issuer: Vec<_> = app
        .federated_identity_credentials
        .iter()
        .filter(|f| f.issuer == iss)
        .collect();
    if by_issuer.is_empty() {
        return Err(AadError::client(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. {FIC_DOCS}"
            ),
        ));
    }
    let keys = match fetched {
        Some(f) if f.issuer == iss => f.keys.as_ref().map_err(|why| {
            tracing::debug!(%why, "external issuer keys unavailable");
            oidc_endpoint_failed()
        })?,
        _ => return Err(oidc_endpoint_failed()),
    };
    verify_signature(assertion, &decoded.header, iss, keys)?;
    let now = now();
    let exp = c["exp"].as_i64().unwrap_or(0);
    let nbf = c["nbf"].as_i64().or_else(|| c["iat"].as_i64()).unwrap_or(0);
    if exp + SKEW_SECS < now || nbf - SKEW_SECS > now {
        return Err(AadError::outside_validity(now, nbf, exp));
    }
    let by_subject: Vec<_> = by_issuer.iter().filter(|f| f.subject == sub).collect();
    if by_subject.is_empty() {
        if by_issuer
            .iter()
            .any(|f| f.subject.eq_ignore_ascii_case(sub))
        {
            return Err(AadError::client(
                7002138,
                format!(
                    "No matching federated identity record found for presented assertion subject '{sub}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: {FIC_DOCS}. See breaking change notification and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024."
                ),
            ));
        }
        return Err(AadError::client(
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {FIC_DOCS}"
            ),
        ));
    }
    let audience_ok = by_subject.iter().any(|f| {
        f.audiences
            .iter()
            .any(|want| auds.iter().any(|got| audience_matches(want, got)))
    });
    if !audience_ok {
        return Err(AadError::client(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. {FIC_DOCS}",
                auds.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A credential's audience against a token's `aud`: equal, or for Microsoft's token exchange
/// audience the client id of its app, which v2 tokens carry instead of the URI (*unconfirmed*
/// how Entra relates the two; it accepts managed identities' tokens for this audience).
fn audience_matches(want: &str, got: &str) -> bool {
    use crate::well_known::{TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_AUDIENCE};
    want == got
        || (want == TOKEN_EXCHANGE_AUDIENCE && got.eq_ignore_ascii_case(TOKEN_EXCHANGE_APP_ID))
}

/// The issuer's keys or discovery could not be read (Entra's answer; 400).
fn oidc_endpoint_failed() -> AadError {
    AadError::request(50166, "Request to External OIDC endpoint failed.")
}

fn verify_signature(
    assertion: &str,
    header: &Value,
    iss: &str,
    keys: &JwkSet,
) -> Result<(), AadError> {
    // A signature that does not verify with the key found: Entra's wording is not public
    // (*unconfirmed*); this is its certificate-assertion answer.
    let failed = |reason: &str| {
        AadError::client(
            700027,
            format!("Client assertion contains an invalid signature. [Reason - {reason}]"),
        )
    };
    let kid = header["kid"].as_str().unwrap_or_default();
    let not_found = || {
        AadError::client(
            7000272,
            format!(
                "The certificate with identifier {kid} used to sign the federated credential could not be found in the metadata of identity provider {iss}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token."
            ),
        )
    };
    let alg = match header["alg"].as_str() {
        Some("RS256") => Algorithm::RS256,
        Some("PS256") => Algorithm::PS256,
        Some("ES256") => Algorithm::ES256,
        _ => return Err(not_found()),
    };
    let jwk = keys.find(kid).ok_or_else(not_found)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| not_found())?;
    let (msg, sig) = assertion.rsplit_once('.').ok_or_else(not_found)?;
    if jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &key, alg).unwrap_or(false) {
        Ok(())
    } else {
        Err(failed(
            "The provided signature value did not match the expected signature value.",
        ))
    }
}
