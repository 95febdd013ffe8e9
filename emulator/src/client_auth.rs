//! Client authentication at the token endpoint (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow, "Redeem a code"; certificate-credentials): `client_secret_post`,
//! `client_secret_basic` and `private_key_jwt` (RS256 with `x5t` or PS256 with `x5t#S256`).
//!
//! A client assertion must name this token endpoint as its `aud` (with the tenant segment the
//! request used, or the tenant's GUID or a domain of it, on the emulator's own host), and each
//! assertion is good for one request: its `jti` is remembered until the assertion expires, so a
//! captured assertion cannot be replayed. Secrets and passwords are compared in constant time.

use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::{pkcs8::DecodePublicKey, traits::PublicKeyParts};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::{
    errors::AadError,
    keys::now,
    params::Params,
    state::Store,
    tokens,
    world::{Application, Tenant},
};

/// The client assertion type Entra accepts.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client proved itself, as access tokens say it (`appidacr` / `azpacr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAcr {
    /// A public client: no credential (`0`).
    Public,
    /// A client secret (`1`).
    Secret,
    /// A signed client assertion (`2`): a certificate's, or a federated (external) token.
    Certificate,
}

impl ClientAcr {
    /// The claim's value.
    pub fn claim(self) -> &'static str {
        match self {
            Self::Public => "0",
            Self::Secret => "1",
            Self::Certificate => "2",
        }
    }
}

/// Seconds of clock skew allowed on a client assertion's `exp` and `nbf`.
const ASSERTION_SKEW_SECS: i64 = 300;

/// The token endpoint a request reached, as a client assertion's `aud` may name it.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    /// The accepted `aud` values; the first (the URL the request used) is shown in errors.
    pub accepted: Vec<String>,
}

impl TokenEndpoint {
    /// `{base}/{segment}/oauth2/v2.0/token` with the segment the request used (GUID, domain
    /// or alias), the tenant's GUID or any of its domains, on the emulator's base URL, or on
    /// the loopback name the request was addressed to (`Host`: `localhost`, `127.0.0.1` or
    /// `[::1]`, as the client reached it). Entra likewise accepts only its own host.
    pub fn new(base_url: &str, host: Option<&str>, seg: &str, tenant: &Tenant) -> Self {
        let mut bases = vec![base_url.to_string()];
        if let Some(h) = host.filter(|h| crate::routes::admin::is_loopback_host(h)) {
            let scheme = base_url.split_once("://").map_or("http", |(s, _)| s);
            bases.push(format!("{scheme}://{h}"));
        }
        let segs = std::iter::once(seg)
            .chain(std::iter::once(tenant.id.as_str()))
            .chain(tenant.domains.iter().map(String::as_str));
        let mut accepted = vec![];
        for seg in segs {
            for base in &bases {
                let url = format!("{base}/{seg}/oauth2/v2.0/token");
                if !accepted.contains(&url) {
                    accepted.push(url);
                }
            }
        }
        Self { accepted }
    }

    /// Whether `aud` names this endpoint: exactly, but for ASCII case (host names, tenant
    /// GUIDs and domains are case-insensitive).
    pub fn is(&self, aud: &str) -> bool {
        self.accepted.iter().any(|a| a.eq_ignore_ascii_case(aud))
    }
}

/// Authenticates the calling client of `tenant`.
///
/// # Errors
/// The AADSTS error Entra gives for the failure.
pub fn authenticate<'t>(
    tenant: &'t Tenant,
    params: &Params,
    headers: &HeaderMap,
    token_endpoint: &TokenEndpoint,
    store: &Mutex<Store>,
    federated: Option<&crate::federation::FetchedKeys>,
) -> Result<(&'t Application, ClientAcr), AadError> {
    let basic = basic_credentials(headers);
    let assertion = params.get("client_assertion");
    let client_id = params
        .get("client_id")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|b| b.0.clone()))
        .or_else(|| {
            assertion
                .and_then(|a| tokens::decode(a).ok())
                .and_then(|d| d.claims["sub"].as_str().map(str::to_string))
        })
        .ok_or_else(|| AadError::missing("client_id"))?;
    let app = tenant.app(&client_id).ok_or_else(|| {
        AadError::new(
            700016,
            "unauthorized_client",
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant.domain()
            ),
        )
    })?;
    let secret = params
        .get("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|b| b.1));
    if !app.is_confidential() {
        if secret.is_some() || assertion.is_some() {
            return Err(AadError::client(
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            ));
        }
        return Ok((app, ClientAcr::Public));
    }
    if let Some(secret) = secret {
        let now = now();
        // Every credential is compared (no early exit), each in constant time.
        let matched: Vec<_> = app
            .password_credentials
            .iter()
            .filter(|c| secret_matches(&secret, &c.secret_text))
            .collect();
        if matched
            .iter()
            .any(|c| c.end_date_time.is_none_or(|end| end > now))
        {
            return Ok((app, ClientAcr::Secret));
        }
        if !matched.is_empty() {
            return Err(AadError::client(
                7000222,
                format!(
                    "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                    app.app_id
                ),
            ));
        }
        return Err(AadError::client(
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.app_id
            ),
        ));
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(AadError::request(
                90014,
                "The required field 'client_assertion_type' is missing or invalid in the credential.",
            ));
        }
        if let Some(external) = external_token(app, assertion) {
            let decoded = external?;
            crate::federation::authenticate(app, assertion, &decoded, federated)?;
            store
                .lock()
                .expect("store lock")
                .saw_federated(&app.app_id, &decoded.claims);
            return Ok((app, ClientAcr::Certificate));
        }
        let (jti, exp) = verify_client_assertion(app, assertion, token_endpoint)?;
        // Checked last, so that only an otherwise valid assertion spends its `jti`; it is
        // remembered as long as the assertion would be accepted.
        let fresh = store.lock().expect("store lock").remember_jti(
            format!("{}\n{jti}", app.app_id.to_ascii_lowercase()),
            exp + ASSERTION_SKEW_SECS,
            now(),
        );
        if !fresh {
            return Err(AadError::client(
                50027,
                format!(
                    "Invalid JWT token. The client assertion's 'jti' ({jti}) has already been used; each assertion is good for one request."
                ),
            ));
        }
        return Ok((app, ClientAcr::Certificate));
    }
    Err(AadError::client(
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ))
}

/// Whether a presented secret (client secret or user password) equals the registered one, in
/// time that depends on neither value: both are hashed to 32 bytes first, so neither the
/// position of the first difference nor the registered secret's length shows in the timing.
pub fn secret_matches(presented: &str, registered: &str) -> bool {
    let a = sha2::Sha256::digest(presented.as_bytes());
    let b = sha2::Sha256::digest(registered.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

/// A client assertion that is an external token (federated credentials), not one the app
/// signed with a certificate: its issuer is not the app itself. `None` for a certificate
/// assertion. An app without federated credentials gets
/// Entra's older answer naming the token's issuer, subject and audience (AADSTS70021).
fn external_token(app: &Application, assertion: &str) -> Option<Result<tokens::Decoded, AadError>> {
    let decoded = tokens::decode(assertion).ok()?;
    if !crate::federation::is_external(&decoded.claims, &app.app_id) {
        return None;
    }
    let c = &decoded.claims;
    let iss = c["iss"].as_str().unwrap_or_default();
    if app.federated_identity_credentials.is_empty() {
        let aud = match &c["aud"] {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            other => other.as_str().unwrap_or_default().to_owned(),
        };
        return Some(Err(AadError::client(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{}'. Assertion Audience: '{aud}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                c["sub"].as_str().unwrap_or_default()
            ),
        )));
    }
    Some(Ok(decoded))
}

fn sig_failed(reason: &str) -> AadError {
    AadError::client(
        700027,
        format!("Client assertion failed signature validation. [Reason - {reason}]"),
    )
}

/// Verifies the assertion (key, signature, `iss`/`sub`, `aud`, lifetime); returns its `jti`
/// and `exp`.
fn verify_client_assertion(
    app: &Application,
    assertion: &str,
    token_endpoint: &TokenEndpoint,
) -> Result<(String, i64), AadError> {
    let d = tokens::decode(assertion)
        .map_err(|_| AadError::client(50027, "JWT token is invalid or is malformed."))?;
    let (alg, thumb, sha256) = match (
        d.header["alg"].as_str(),
        d.header["x5t#S256"].as_str(),
        d.header["x5t"].as_str(),
    ) {
        (Some("PS256"), Some(t), _) => (Algorithm::PS256, t, true),
        (Some("RS256"), Some(t), _) => (Algorithm::RS256, t, true),
        (Some("RS256"), None, Some(t)) => (Algorithm::RS256, t, false),
        (Some("PS256"), None, Some(t)) => (Algorithm::PS256, t, false),
        _ => return Err(sig_failed("The key was not found.")),
    };
    let cert = app
        .key_credentials
        .iter()
        .filter_map(|k| STANDARD.decode(&k.key).ok())
        .find(|der| {
            let t = if sha256 {
                URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der))
            } else {
                URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der))
            };
            t == thumb.trim_end_matches('=')
        })
        .ok_or_else(|| {
            sig_failed(&format!(
                "The key was not found., Thumbprint of key used by client: '{thumb}'"
            ))
        })?;
    let key = cert_public_key(&cert).ok_or_else(|| sig_failed("The key was not found."))?;
    let Some((msg, sig)) = assertion.rsplit_once('.') else {
        return Err(sig_failed("The key was not found."));
    };
    if !jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &key, alg).unwrap_or(false) {
        return Err(sig_failed(
            "The provided signature value did not match the expected signature value.",
        ));
    }
    let c = &d.claims;
    let iss = c["iss"].as_str().unwrap_or_default();
    let sub = c["sub"].as_str().unwrap_or_default();
    if iss != sub {
        return Err(AadError::client(
            50048,
            "Subject mismatches Issuer claim in the client assertion.",
        ));
    }
    if !sub.eq_ignore_ascii_case(&app.app_id) {
        return Err(AadError::client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    // One audience only: Entra refuses more (zitadel/oidc#887 quotes its answer). Whether a
    // one-element array passes is not known; it is read as its element.
    let aud_ok = match &c["aud"] {
        serde_json::Value::String(a) => token_endpoint.is(a),
        serde_json::Value::Array(a) if a.len() > 1 => {
            return Err(AadError::client(
                5002741,
                format!(
                    "Number of audience values in the provided client credential exceed maximum allowed. {} audience values provided, maximum allowed is 1.",
                    a.len()
                ),
            ));
        }
        serde_json::Value::Array(a) => a
            .iter()
            .any(|x| x.as_str().is_some_and(|s| token_endpoint.is(s))),
        _ => false,
    };
    if !aud_ok {
        return Err(AadError::client(
            700027,
            format!(
                "Client assertion contains an invalid audience. The expected audience is '{}'.",
                token_endpoint.accepted.first().map_or("", String::as_str)
            ),
        ));
    }
    let now = now();
    let exp = c["exp"].as_i64().unwrap_or(0);
    let nbf = c["nbf"].as_i64().unwrap_or(0);
    if exp + ASSERTION_SKEW_SECS < now || nbf - ASSERTION_SKEW_SECS > now {
        return Err(AadError::outside_validity(now, nbf, exp));
    }
    // Without a `jti` an assertion could not be told from its replay (Entra's documentation
    // lists `jti` among the required claims).
    let jti = c["jti"].as_str().filter(|j| !j.is_empty()).ok_or_else(|| {
        AadError::client(
            50027,
            "Invalid JWT token. The client assertion has no 'jti' claim.",
        )
    })?;
    Ok((jti.to_string(), exp))
}

/// The RSA public key inside a DER certificate (walks the few DER levels it needs).
pub fn cert_public_key(der: &[u8]) -> Option<DecodingKey> {
    // Certificate ::= SEQ { tbs SEQ { [0] version?, serial, sigAlg, issuer, validity, subject, spki ...
    let (cert, _) = der_tlv(der)?;
    let (tbs, _) = der_tlv(cert.1)?;
    let mut rest = tbs.1;
    let mut fields = vec![];
    while !rest.is_empty() && fields.len() < 7 {
        let ((tag, _), next) = der_tlv(rest)?;
        let whole = &rest[..rest.len() - next.len()];
        fields.push((tag, whole));
        rest = next;
    }
    let skip = usize::from(fields.first()?.0 == 0xa0);
    let spki = fields.get(skip + 5)?.1;
    let pk = rsa::PublicKey::from_public_key_der(spki).ok()?;
    Some(DecodingKey::from_rsa_raw_components(
        &pk.n_bytes(),
        &pk.e_bytes(),
    ))
}

type Tlv<'a> = ((u8, &'a [u8]), &'a [u8]);

fn der_tlv(b: &[u8]) -> Option<Tlv<'_>> {
    let tag = *b.first()?;
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let body = b.get(hdr..hdr + len)?;
    Some(((tag, body), &b[hdr + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{well_known as wk, world::World};

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(secret_matches(wk::WEB_APP_SECRET, wk::WEB_APP_SECRET));
        // Same length, one byte off (first, last), and other lengths.
        assert_eq!(wk::WEB_APP_SECRET.len(), "dev-web-app-secreT".len());
        for wrong in [
            "dev-web-app-secreT",
            "Dev-web-app-secret",
            "dev-web-app-secre",
            "dev-web-app-secret ",
            "",
            wk::WEB_APP_SECRET_ID,
        ] {
            assert!(!secret_matches(wrong, wk::WEB_APP_SECRET), "{wrong}");
        }
    }

    #[test]
    fn wrong_client_secrets_of_equal_and_different_length_are_refused() {
        let world = World::well_known();
        let tenant = world.tenant(wk::TENANT_ID).unwrap();
        let auth = |secret: &str| {
            let p = Params::parse(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", wk::WEB_APP_CLIENT_ID)
                    .append_pair("client_secret", secret)
                    .finish()
                    .as_bytes(),
            );
            let endpoint = TokenEndpoint::new("http://127.0.0.1:1", None, wk::TENANT_ID, tenant);
            authenticate(
                tenant,
                &p,
                &HeaderMap::new(),
                &endpoint,
                &Mutex::new(Store::default()),
                None,
            )
            .map(|(_, acr)| acr)
            .map_err(|e| e.code)
        };
        assert_eq!(auth(wk::WEB_APP_SECRET), Ok(ClientAcr::Secret));
        assert_eq!(auth("dev-web-app-secreT"), Err(7000215));
        assert_eq!(auth("short"), Err(7000215));
        assert_eq!(auth("dev-web-app-secret-and-more"), Err(7000215));
    }

    #[test]
    fn assertion_audiences_name_this_token_endpoint_on_this_host_only() {
        let world = World::well_known();
        let tenant = world.tenant(wk::TENANT_ID).unwrap();
        let base = "http://127.0.0.1:3100";
        let at_common = TokenEndpoint::new(base, Some("localhost:3100"), "common", tenant);
        let url = |b: &str, seg: &str| format!("{b}/{seg}/oauth2/v2.0/token");
        for ok in [
            url(base, "common"),
            url(base, wk::TENANT_ID),
            url(base, &wk::TENANT_ID.to_uppercase()),
            url(base, wk::TENANT_DOMAIN),
            url("http://localhost:3100", wk::TENANT_ID),
        ] {
            assert!(at_common.is(&ok), "{ok}");
        }
        for bad in [
            url(base, "organizations"),
            url(base, wk::FABRIKAM_TENANT_ID),
            url("https://login.microsoftonline.com", wk::TENANT_ID),
            url("http://127.0.0.1:3101", wk::TENANT_ID),
            url(base, wk::TENANT_ID) + "/",
            url(base, wk::TENANT_ID) + "?x=1",
            format!("{base}/{}/oauth2/token", wk::TENANT_ID),
            format!("{base}/evil/{}/oauth2/v2.0/token", wk::TENANT_ID),
        ] {
            assert!(!at_common.is(&bad), "{bad}");
        }
        // Only a loopback `Host` adds a base; the alias is only the one the request used.
        let at_guid = TokenEndpoint::new(base, Some("evil.example:3100"), wk::TENANT_ID, tenant);
        assert!(!at_guid.is(&url("http://evil.example:3100", wk::TENANT_ID)));
        assert!(!at_guid.is(&url(base, "common")));
        assert_eq!(at_guid.accepted[0], url(base, wk::TENANT_ID));
    }
}
