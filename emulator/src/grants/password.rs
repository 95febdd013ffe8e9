//! `grant_type=password` (ROPC). Entra keeps it for test automation; so does the emulator. It is
//! test-only: never use it in a product (RFC 9700 forbids it).

use serde_json::Value;

use super::{GrantType, TokenRequest};
use crate::{errors::AadError, sign_in::AuthFacts};

/// Redeems a username and password.
///
/// # Errors
/// AADSTS50126 for bad credentials, 90008 (a token for itself), plus scope, consent and MFA
/// errors. On `/common` and `/organizations` (`alias`) a guest record is no sign-in name (the
/// guest signs in at home, as on the sign-in page).
pub fn grant(req: &TokenRequest<'_>, alias: bool) -> Result<Value, AadError> {
    let username = req.params.require("username")?;
    let password = req.params.require("password")?;
    let scopes = req.requested_scopes()?;
    let tenant = req.tenant;
    let user = tenant
        .sign_in_user(username, alias)
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
    req.issue_for(
        user,
        &scopes,
        auth,
        &req.claims()?,
        None,
        GrantType::Password,
    )
}
