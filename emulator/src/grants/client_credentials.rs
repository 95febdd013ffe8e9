//! `grant_type=client_credentials` (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow): app-only tokens with `roles`.

use serde_json::{Value, json};

use super::{TokenRequest, resolve, split};
use crate::{
    errors::AadError,
    keys::now,
    state::Shared,
    tokens,
    well_known::GRAPH_APP_ID,
    world::{Application, Tenant},
};

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
    let sp = tokens::derived_guid(&format!("sp|{}|{}", tenant.id, client.app_id));
    let principal = AppPrincipal {
        app_id: &client.app_id,
        object_id: &sp,
        acr: req.acr.claim(),
    };
    // Application permissions the client requires are taken as admin-consented (ledger G11).
    let roles = client.required_roles(resource);
    if roles.is_empty() && resource.app_role_assignment_required {
        return Err(AadError::grant(
            501051,
            format!(
                "Application '{}'({}) is not assigned to a role for the application '{}'({}).",
                client.app_id, client.display_name, resource.app_id, resource.display_name
            ),
        ));
    }
    let (token, exp_in) = app_token(state, tenant, &principal, resource, &scopes.aud_form, roles);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": exp_in,
        "ext_expires_in": exp_in,
        "access_token": token,
    }))
}

/// Who an app-only token is for: an app's service principal, or a managed identity.
pub struct AppPrincipal<'a> {
    /// `appid` / `azp`.
    pub app_id: &'a str,
    /// The service principal's object id: `oid` and `sub`.
    pub object_id: &'a str,
    /// `appidacr` / `azpacr`: how it proved itself.
    pub acr: &'a str,
}

/// An app-only access token of `tenant` for `resource` (`aud_form`: the resource as asked
/// for, which v1 tokens carry in `aud`), with `roles`; and its lifetime in seconds.
pub fn app_token(
    state: &Shared,
    tenant: &Tenant,
    principal: &AppPrincipal<'_>,
    resource: &Application,
    aud_form: &str,
    roles: Vec<String>,
) -> (String, u64) {
    let lt = *state.lifetimes.read().expect("lifetimes lock");
    let now = now();
    let exp_in = lt.access();
    let graph = resource.app_id.eq_ignore_ascii_case(GRAPH_APP_ID);
    let v2 = resource.wants_v2() && !graph;
    let mut at = json!({
        "aud": if v2 { resource.app_id.clone() } else { aud_form.to_owned() },
        "iss": if v2 { state.issuer_v2(&tenant.id) } else { format!("https://sts.windows.net/{}/", tenant.id) },
        "iat": now, "nbf": now, "exp": now + exp_in as i64,
        "aio": tokens::opaque(24),
        "idtyp": "app",
        "oid": principal.object_id,
        "sub": principal.object_id,
        "rh": tokens::opaque(16),
        "roles": roles,
        "tid": tenant.id,
        "uti": tokens::opaque(16),
        "ver": if v2 { "2.0" } else { "1.0" },
    });
    if v2 {
        at["azp"] = json!(principal.app_id);
        at["azpacr"] = json!(principal.acr);
    } else {
        at["appid"] = json!(principal.app_id);
        at["appidacr"] = json!(principal.acr);
    }
    let token = tokens::sign(
        state.keys.read().expect("keys lock").current(),
        &at,
        tokens::Header::access(v2, graph),
    );
    (token, exp_in)
}
