//! `grant_type=password` (ROPC). Entra keeps it for test automation; so does the emulator. It is
//! test-only: never use it in a product (RFC 9700 forbids it).

use serde_json::Value;

use super::{
    GrantType, SelfToken, UserIssue, check_and_issue, check_self_token, resolve, split,
    wants_client_info,
};
use crate::{
    client_auth::ClientAcr,
    errors::AadError,
    params::Params,
    state::{AuthFacts, Shared},
    world::{Application, Tenant},
};

/// Redeems a username and password.
///
/// # Errors
/// AADSTS50126 for bad credentials, 90009/90008 (a token for itself), plus scope, consent
/// and MFA errors.
pub fn grant(
    state: &Shared,
    tenant: &Tenant,
    client: &Application,
    acr: ClientAcr,
    p: &Params,
) -> Result<Value, AadError> {
    let username = p.require("username")?;
    let password = p.require("password")?;
    let scopes = resolve(tenant, client, &split(p.require("scope")?))?;
    check_self_token(tenant, client, &scopes, SelfToken::Later)?;
    let user = tenant
        .user_for_sign_in(username)
        .filter(|u| crate::client_auth::secret_matches(password, &u.password))
        .ok_or_else(|| {
            AadError::grant(
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        })?;
    let auth = AuthFacts::password_now();
    if user.require_mfa {
        return Err(super::mfa_required(
            scopes
                .resource
                .as_deref()
                .unwrap_or("00000003-0000-0000-c000-000000000000"),
            &[],
        ));
    }
    check_and_issue(
        state,
        UserIssue {
            tenant,
            client,
            client_acr: acr,
            user,
            scopes: &scopes,
            auth,
            nonce: None,
            grant: GrantType::Password,
            client_info: wants_client_info(p),
        },
    )
}
