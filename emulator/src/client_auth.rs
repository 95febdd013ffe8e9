//! Client authentication at the token endpoint (reference §3.1): `client_secret_post`,
//! `client_secret_basic` and `private_key_jwt` (RS256 with `x5t` or PS256 with `x5t#S256`).

use axum::http::HeaderMap;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::{pkcs8::DecodePublicKey, traits::PublicKeyParts};
use sha2::Digest;

use crate::{
    errors::AadError,
    keys::now,
    params::Params,
    tokens,
    world::{Application, Tenant},
};

/// The client assertion type Entra accepts.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client proved itself: `appidacr` / `azpacr` value.
pub type ClientAcr = &'static str;

/// Authenticates the calling client of `tenant`.
///
/// # Errors
/// The AADSTS error Entra gives for the failure.
pub fn authenticate<'t>(
    tenant: &'t Tenant,
    params: &Params,
    headers: &HeaderMap,
    token_endpoint: &str,
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
        return Ok((app, "0"));
    }
    if let Some(secret) = secret {
        let now = now();
        let valid = app
            .password_credentials
            .iter()
            .any(|c| c.secret_text == secret && c.end_date_time.is_none_or(|end| end > now));
        if valid {
            return Ok((app, "1"));
        }
        if app
            .password_credentials
            .iter()
            .any(|c| c.secret_text == secret)
        {
            return Err(AadError::client(
                7000222,
                format!(
                    "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app.",
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
        verify_client_assertion(app, assertion, token_endpoint)?;
        return Ok((app, "2"));
    }
    Err(AadError::client(
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ))
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

fn sig_failed(reason: &str) -> AadError {
    AadError::client(
        700027,
        format!("Client assertion failed signature validation. [Reason - {reason}]"),
    )
}

fn verify_client_assertion(
    app: &Application,
    assertion: &str,
    token_endpoint: &str,
) -> Result<(), AadError> {
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
    let aud_ok = match &c["aud"] {
        serde_json::Value::String(a) => aud_matches(a, token_endpoint),
        serde_json::Value::Array(a) => a
            .iter()
            .any(|x| x.as_str().is_some_and(|s| aud_matches(s, token_endpoint))),
        _ => false,
    };
    if !aud_ok {
        return Err(AadError::client(
            700027,
            format!(
                "Client assertion contains an invalid audience. The expected audience is '{token_endpoint}'."
            ),
        ));
    }
    let now = now();
    let exp = c["exp"].as_i64().unwrap_or(0);
    let nbf = c["nbf"].as_i64().unwrap_or(0);
    if exp + 300 < now || nbf - 300 > now {
        return Err(AadError::client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."
            ),
        ));
    }
    Ok(())
}

/// The token endpoint with the tenant GUID or domain, or a different host alias, all count.
fn aud_matches(aud: &str, token_endpoint: &str) -> bool {
    aud.trim_end_matches('/') == token_endpoint
        || (aud.ends_with("/oauth2/v2.0/token") && token_endpoint.ends_with("/oauth2/v2.0/token"))
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
