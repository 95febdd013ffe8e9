//! `grant_type=refresh_token` (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow, "Refresh the access token"). Each use returns a new refresh token; as in
//! Entra, the old one is not revoked by rotation. Expired (AADSTS700082) and revoked
//! (AADSTS50173) grants fail; use slides the expiry.
//!
//! AADSTS90009 answers a refresh that names no `scope` when the grant is for the client itself
//! named by an App ID URI. That is what the public reports show (a refresh without `scope`:
//! DuendeArchive/IdentityModel#528, open-webui/open-webui#22356,
//! Azure-Samples/ms-identity-msal-java-samples#43, grafana/grafana#95379) and their fix: send
//! the scope again, `api://<client-id>/...` included. A grant obtained in the GUID form
//! refreshes without `scope` (Softeria/ms-365-mcp-server#508).

use serde_json::Value;

use super::{
    GrantType, TokenRequest, check_self_token, granted_user, requested_or_granted, resolve,
};
use crate::{errors::AadError, keys::now};

/// Redeems a refresh token.
///
/// # Errors
/// AADSTS9002313 (unknown), 700082 (expired), 50173 (revoked), 70000 (other client),
/// 90009 (a scope-less refresh for itself by App ID URI), 90008 (a token for itself without
/// the sign-in permission), plus scope, consent and MFA errors.
pub fn grant(req: &TokenRequest<'_>) -> Result<Value, AadError> {
    let (state, tenant, client, p) = (req.state, req.tenant, req.client, req.params);
    let rt = p.require("refresh_token")?;
    let grant = {
        let store = state.store.lock().expect("store lock");
        store.refresh.get(rt).cloned().ok_or_else(|| {
            AadError::grant(9002313, "Invalid request. Request is malformed or invalid.")
        })?
    };
    if grant.revoked {
        return Err(AadError::grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        )
        .with_suberror("bad_token"));
    }
    if grant.expires < now() {
        return Err(AadError::grant(
            700082,
            "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for the configured lifetime.",
        )
        .with_suberror("bad_token"));
    }
    if !grant.client_id.eq_ignore_ascii_case(&client.app_id) || grant.tid != tenant.id {
        return Err(AadError::grant(
            70000,
            "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
        ));
    }
    let requested = requested_or_granted(p, &grant.scopes);
    let scopes = resolve(tenant, client, &requested)?;
    check_self_token(tenant, client, &scopes)?;
    if p.get("scope").is_none()
        && scopes.is_for(client)
        && !scopes.aud_form.eq_ignore_ascii_case(&client.app_id)
    {
        return Err(AadError::request(
            90009,
            format!(
                "Application '{}'({}) is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.",
                client.app_id, scopes.aud_form
            ),
        ));
    }
    let user = granted_user(tenant, &grant.oid)?;
    req.issue_for(
        user,
        &scopes,
        grant.auth.clone(),
        &req.claims()?,
        None,
        GrantType::RefreshToken,
    )
}
