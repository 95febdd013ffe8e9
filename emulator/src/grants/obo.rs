//! The On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`, reference §3.4, §4.4, §5), with Entra's real checks:
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

use serde_json::Value;

use super::{UserIssue, check_user_access, issue_user, resolve, split};
use crate::{
    client_auth::ClientAcr,
    errors::AadError,
    keys::now,
    params::Params,
    state::{AuthFacts, Shared},
    tokens::{self, VerifyError},
    world::{Application, Tenant},
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

/// Exchanges a user's access token for one to a downstream API.
///
/// # Errors
/// See the module table.
pub fn grant(
    state: &Shared,
    tenant: &Tenant,
    client: &Application,
    acr: ClientAcr,
    p: &Params,
) -> Result<Value, AadError> {
    if p.get("requested_token_use") != Some("on_behalf_of") {
        return Err(AadError::request(
            50027,
            "Invalid JWT token. The 'requested_token_use' parameter must be 'on_behalf_of' for this grant.",
        ));
    }
    if acr == "0" {
        return Err(AadError::client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    let assertion = p.require("assertion")?;
    let scopes = resolve(tenant, client, &split(p.require("scope")?))?;

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
    if tid != tenant.id
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
    let oid = c["oid"].as_str().unwrap_or_default();
    let user = tenant.user_by_oid(oid).ok_or_else(|| {
        AadError::grant(
            50034,
            format!(
                "The user account {oid} does not exist in the {} directory.",
                tenant.id
            ),
        )
    })?;
    let amr: Vec<String> = c["amr"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    check_user_access(tenant, client, user, &scopes, &amr)?;
    Ok(issue_user(
        state,
        UserIssue {
            tenant,
            client,
            client_acr: acr,
            user,
            scopes: &scopes,
            auth: AuthFacts {
                auth_time: c["auth_time"].as_i64().unwrap_or(now),
                amr,
                sid: uuid::Uuid::new_v4().to_string(),
            },
            nonce: None,
            obtained_by: "on_behalf_of",
            always_refresh: true,
            client_info: p.get("client_info") == Some("1"),
        },
    ))
}
