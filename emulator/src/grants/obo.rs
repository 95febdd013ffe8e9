//! The On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`, Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow), with Entra's real checks:
//!
//! | check | error |
//! |---|---|
//! | signed by a published tenant key (a Graph token with a header `nonce` never is) | AADSTS50013 |
//! | not expired | AADSTS500133 |
//! | audience = the caller's client id or one of its App ID URIs | AADSTS500131 |
//! | an access token, not an ID token | AADSTS240002 |
//! | a user-delegated token, not app-only | AADSTS50027 (emulator's choice) |
//! | consent for the downstream scopes | AADSTS65001 |
//! | Conditional Access (MFA) | AADSTS50076 + `claims` |
//! | an authentication context the request's `claims` ask for, not satisfied | AADSTS50076 (see [`crate::unconfirmed`]) |
//! | issued before the user's sign-in sessions were revoked | AADSTS50173 (see [`crate::unconfirmed`]) |
//!
//! Whether the user did MFA comes from the assertion's `aio` (see [`crate::tokens::aio`]), or
//! from a v1 assertion's `amr`. The request's `claims` are honoured, as MSAL sends them: an
//! authentication context asked for is checked against that sign-in and then carried in the
//! token's `acrs`; `xms_cc` is echoed to a resource that opted in.
//!
//! On `/common` and `/organizations` Entra runs the exchange in the user's **home** tenant: a
//! guest's assertion (issued by the resource tenant) gives a token of the home tenant, for the
//! home account. [`crate::routes::token`] picks that tenant; this module accepts the guest's
//! assertion there.

use serde_json::Value;

use super::{GrantType, TokenRequest};
use crate::{
    errors::AadError,
    keys::now,
    sign_in::AuthFacts,
    tokens::{self, VerifyError},
    unconfirmed::AfterRevocation,
    world::{Tenant, User, World},
};

/// The OBO grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn key_not_found(kid: &str) -> AadError {
    AadError::grant(
        50013,
        format!(
            "Assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{kid}']"
        ),
    )
}

/// The user a guest record of another tenant stands for in `tenant` (its home tenant), when
/// the request came through `/common` or `/organizations`.
pub fn home_user<'w>(world: &'w World, tenant: &Tenant, tid: &str, oid: &str) -> Option<&'w User> {
    let guest = world.user(tid, oid)?;
    let home_tid = guest.home_tenant_id.as_deref()?;
    if !home_tid.eq_ignore_ascii_case(&tenant.id) {
        return None;
    }
    world.user(home_tid, guest.home_object_id.as_deref()?)
}

/// Exchanges a user's access token for one to a downstream API. `alias` says the request came
/// through `/common` or `/organizations` (then a guest's assertion may come from another tenant
/// than `tenant`, the user's home).
///
/// # Errors
/// See the module table.
pub fn grant(req: &TokenRequest<'_>, world: &World, alias: bool) -> Result<Value, AadError> {
    let (state, tenant, client, p) = (req.state, req.tenant, req.client, req.params);
    if p.get("requested_token_use") != Some("on_behalf_of") {
        return Err(AadError::request(
            50027,
            "Invalid JWT token. The 'requested_token_use' parameter must be 'on_behalf_of' for this grant.",
        ));
    }
    req.require_confidential()?;
    let assertion = p.require("assertion")?;
    let scopes = req.requested_scopes()?;
    let claims = req.claims()?;

    let decoded = tokens::decode(assertion)
        .map_err(|_| AadError::request(50027, "JWT token is invalid or is malformed."))?;
    let kid = decoded.header["kid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if decoded.header.get("nonce").is_some() {
        // A Microsoft Graph token: only Graph can verify it.
        return Err(key_not_found(&kid));
    }
    let verified = {
        let keys = state.keys.read().expect("keys lock");
        tokens::verify(assertion, &keys, false)
    };
    let d = match verified {
        Ok(d) => d,
        Err(VerifyError::KeyNotFound(k)) => return Err(key_not_found(&k)),
        Err(VerifyError::Malformed) => {
            return Err(AadError::request(
                50027,
                "JWT token is invalid or is malformed.",
            ));
        }
        Err(VerifyError::BadSignature) => {
            return Err(AadError::grant(
                50013,
                format!(
                    "Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{kid}', Found key 'Start=..., End=...']"
                ),
            ));
        }
    };
    let c = &d.claims;
    let iss = c["iss"].as_str().unwrap_or_default();
    let tid = c["tid"].as_str().unwrap_or_default();
    let oid = c["oid"].as_str().unwrap_or_default();
    // A guest's assertion from its resource tenant is good on /common for its home tenant.
    let home = (alias && !tid.eq_ignore_ascii_case(&tenant.id))
        .then(|| home_user(world, tenant, tid, oid))
        .flatten();
    if (!tid.eq_ignore_ascii_case(&tenant.id) && home.is_none())
        || (iss != state.issuer_v2(tid) && iss != format!("https://sts.windows.net/{tid}/"))
    {
        return Err(AadError::grant(
            50013,
            format!(
                "Assertion failed signature validation. [Reason - The issuer '{iss}' is not valid for tenant '{}'.]",
                tenant.id
            ),
        ));
    }
    let now = now();
    let exp = c["exp"].as_i64().unwrap_or(0);
    if exp + 300 < now {
        return Err(AadError::grant(
            500133,
            format!(
                "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: {now}, expiry time of assertion {exp}."
            ),
        ));
    }
    let aud = c["aud"].as_str().unwrap_or_default();
    if !client.is_audience(aud) {
        let expected = client
            .identifier_uris
            .first()
            .map(|u| format!("{}' or '{}", client.app_id, u))
            .unwrap_or_else(|| client.app_id.clone());
        return Err(AadError::grant(
            500131,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' and the expected audience is '{expected}'."
            ),
        ));
    }
    if c.get("appid").is_none() && c.get("azp").is_none() {
        return Err(AadError::grant(
            240002,
            "Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant.",
        ));
    }
    if c.get("scp").is_none() || c["idtyp"] == "app" {
        return Err(AadError::grant(
            50027,
            "Invalid JWT token. The assertion is an app-only token: On-Behalf-Of needs a user-delegated access token (with 'scp'). Use the client credentials grant for app-only calls.",
        ));
    }
    let user = home.or_else(|| tenant.user_by_oid(oid)).ok_or_else(|| {
        AadError::grant(
            50034,
            format!(
                "The user account {oid} does not exist in the {} directory.",
                tenant.id
            ),
        )
    })?;
    let revoked =
        state
            .store
            .lock()
            .expect("store lock")
            .revoked_after(tid, oid, tokens::issued_ms(c));
    if let Some(revoked) = revoked
        && state.unconfirmed().obo_after_revocation == AfterRevocation::Refused
    {
        return Err(AadError::grant(
            50173,
            format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{revoked}'.",
                c["iat"].as_i64().unwrap_or_default()
            ),
        )
        .with_suberror("bad_token"));
    }
    let facts = sign_in_facts(c, now);
    let auth = AuthFacts {
        auth_time: facts.auth_time,
        amr: facts.amr,
        sid: uuid::Uuid::new_v4().to_string(),
    };
    req.issue_for(user, &scopes, auth, &claims, None, GrantType::OnBehalfOf)
}

/// The sign-in facts of a verified assertion: its `aio` when the emulator made it, else a v1
/// token's `amr` and `auth_time`.
fn sign_in_facts(c: &Value, now: i64) -> tokens::AioFacts {
    if let Some(f) = c["aio"].as_str().and_then(tokens::read_aio) {
        return f;
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    tokens::AioFacts {
        auth_time: c["auth_time"].as_i64().unwrap_or(now),
        amr: strings(&c["amr"]),
        issued_ms: 0,
    }
}
