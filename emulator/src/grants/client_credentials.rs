//! `grant_type=client_credentials` (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow): app-only tokens with `roles`.

use serde_json::{Value, json};

use super::{TokenRequest, resolve, split};
use crate::{errors::AadError, keys::now, tokens, well_known::GRAPH_APP_ID};

/// Issues an app-only token for `<resource>/.default`.
///
/// # Errors
/// AADSTS1002012 (not `.default`), 9001023 (on `common`), 7000218 (public client), scope errors.
pub fn grant(req: &TokenRequest<'_>, tenant_alias: bool) -> Result<Value, AadError> {
    let (state, tenant, client, p) = (req.state, req.tenant, req.client, req.params);
    if tenant_alias {
        return Err(AadError::request(
            9001023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    req.require_confidential()?;
    let raw = split(p.require("scope")?);
    if raw.iter().any(|s| !s.ends_with("/.default")) || raw.is_empty() {
        return Err(AadError::new(
            1002012,
            "invalid_scope",
            format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                raw.join(" ")
            ),
        ));
    }
    let scopes = resolve(tenant, client, &raw)?;
    let resource = scopes
        .resource
        .as_deref()
        .and_then(|r| tenant.app(r))
        .ok_or_else(|| AadError::request(90014, "The required field 'scope' is missing."))?;
    let lt = *state.lifetimes.read().expect("lifetimes lock");
    let now = now();
    let exp_in = lt.access();
    let graph = resource.app_id.eq_ignore_ascii_case(GRAPH_APP_ID);
    let v2 = resource.wants_v2() && !graph;
    let sp = tokens::derived_guid(&format!("sp|{}|{}", tenant.id, client.app_id));
    let mut at = json!({
        "aud": if v2 { resource.app_id.clone() } else { scopes.aud_form.clone() },
        "iss": if v2 { state.issuer_v2(&tenant.id) } else { format!("https://sts.windows.net/{}/", tenant.id) },
        "iat": now, "nbf": now, "exp": now + exp_in as i64,
        "aio": tokens::opaque(24),
        "idtyp": "app",
        "oid": sp,
        "sub": sp,
        "rh": tokens::opaque(16),
        "roles": client.required_roles(resource),
        "tid": tenant.id,
        "uti": tokens::opaque(16),
        "ver": if v2 { "2.0" } else { "1.0" },
    });
    if v2 {
        at["azp"] = json!(client.app_id);
        at["azpacr"] = json!(req.acr.claim());
    } else {
        at["appid"] = json!(client.app_id);
        at["appidacr"] = json!(req.acr.claim());
    }
    let token = tokens::sign(
        state.keys.read().expect("keys lock").current(),
        &at,
        tokens::Header::access(v2, graph),
    );
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": exp_in,
        "ext_expires_in": exp_in,
        "access_token": token,
    }))
}
