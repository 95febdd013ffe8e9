//! `grant_type=authorization_code` (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow): PKCE, exact redirect URI, single use, expiry.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::Digest;

use super::{
    GrantType, TokenRequest, check_self_token, granted_user, requested_or_granted, resolve,
};
use crate::{claims::ClaimsRequest, errors::AadError, keys::now, world::OIDC_SCOPES};

/// Redeems a code.
///
/// # Errors
/// AADSTS54005 (reused), 70008 (expired), 9002313 (unknown), 500112 (redirect URI),
/// 501481 (PKCE), 70000 (another client's code), 90008 (a token for itself without a sign-in
/// permission), 90019 (`claims` not JSON).
pub fn grant(req: &TokenRequest<'_>) -> Result<Value, AadError> {
    let (state, tenant, client, p) = (req.state, req.tenant, req.client, req.params);
    let code = p.require("code")?;
    let redirect_uri = p.require("redirect_uri")?;
    let grant = {
        let mut store = state.store.lock().expect("store lock");
        let g = store.codes.get_mut(code).ok_or_else(|| {
            AadError::grant(9002313, "Invalid request. Request is malformed or invalid.")
        })?;
        if g.redeemed {
            return Err(AadError::grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        g.redeemed = true;
        g.clone()
    };
    if grant.expires < now() {
        return Err(AadError::grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !grant.client_id.eq_ignore_ascii_case(&client.app_id) || grant.tid != tenant.id {
        return Err(AadError::grant(
            70000,
            "Provided grant is invalid or malformed. The code was issued to a different client.",
        ));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(AadError::grant(
            500112,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                grant.redirect_uri
            ),
        ));
    }
    if let Some((challenge, method)) = &grant.pkce {
        let verifier = p.require("code_verifier")?;
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.to_string()
        };
        if &computed != challenge {
            return Err(AadError::grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let requested = requested_or_granted(p, &grant.scopes);
    let mut scopes = resolve(tenant, client, &requested)?;
    // OIDC scopes come from the sign-in, not from the redemption request. The sign-in may
    // have named several resources (incremental consent, MSAL's extraScopesToConsent);
    // the token is for the one resource of the redemption's `scope`.
    for s in grant
        .scopes
        .iter()
        .filter(|s| OIDC_SCOPES.contains(&s.as_str()))
    {
        if !scopes.oidc.contains(s) {
            scopes.oidc.push(s.clone());
        }
    }
    check_self_token(tenant, client, &scopes)?;
    let user = granted_user(tenant, &grant.oid)?;
    // The sign-in's `claims` (an authentication context, the client's capabilities) shape
    // the token it redeems for, with whatever the redemption adds (MSAL sends them again).
    let claims = match &grant.claims {
        Some(raw) => ClaimsRequest::parse(raw)?,
        None => ClaimsRequest::default(),
    }
    .merge(req.claims()?);
    req.issue_for(
        user,
        &scopes,
        grant.auth.clone(),
        &claims,
        grant.nonce.clone(),
        GrantType::AuthorizationCode,
    )
}
