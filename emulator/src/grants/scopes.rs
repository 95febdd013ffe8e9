//! Scope resolution: the request's scopes named against one resource (Microsoft Learn:
//! learn.microsoft.com/entra/identity-platform/scopes-oidc), the token's resource, and the
//! `scope` the response names.

use crate::{
    errors::AadError,
    well_known::GRAPH_APP_ID,
    world::{Application, OIDC_SCOPES, Tenant},
};

/// The request's scopes, resolved to one resource.
#[derive(Debug, Clone)]
pub struct Scopes {
    /// The resource app id, if any resource scope was asked for.
    pub resource: Option<String>,
    /// The audience as the client named the resource (v1 `aud`).
    pub aud_form: String,
    /// Scope values on the resource.
    pub values: Vec<String>,
    /// `.default` was asked for.
    pub default: bool,
    /// OIDC scopes asked for.
    pub oidc: Vec<String>,
    /// The resource scopes as the client named them (`api://…/x` or `<guid>/x`), which is how
    /// a refresh grant remembers them: a refresh without `scope` asks for them again.
    pub named: Vec<String>,
}

impl Scopes {
    /// Whether `s` was asked for.
    pub fn has_oidc(&self, s: &str) -> bool {
        self.oidc.iter().any(|x| x == s)
    }

    /// Whether the token's resource is `app` itself (an app asking for a token for itself).
    pub fn is_for(&self, app: &Application) -> bool {
        self.resource
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(&app.app_id))
    }
}

/// Splits a space-separated scope string.
pub fn split(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_string).collect()
}

/// The request's `scope`, or the grant's own scopes when the request names none (code and
/// refresh-token redemption, as the authorization code flow page describes).
pub fn requested_or_granted(p: &crate::params::Params, granted: &[String]) -> Vec<String> {
    p.get("scope")
        .map(split)
        .unwrap_or_else(|| granted.to_vec())
}

/// Resolves scopes to one resource of `tenant`, expanding `.default` for `client`.
///
/// # Errors
/// AADSTS28000 (several resources), AADSTS500011 (unknown resource), AADSTS70011 (unknown scope).
pub fn resolve(
    tenant: &Tenant,
    client: &Application,
    scopes: &[String],
) -> Result<Scopes, AadError> {
    let mut out = Scopes {
        resource: None,
        aud_form: String::new(),
        values: vec![],
        default: false,
        oidc: vec![],
        named: vec![],
    };
    for s in scopes {
        if OIDC_SCOPES.contains(&s.as_str()) {
            out.oidc.push(s.clone());
            continue;
        }
        if !out.named.contains(s) {
            out.named.push(s.clone());
        }
        let (res_name, value) = match s.rfind('/') {
            Some(i) if i > 0 => (&s[..i], &s[i + 1..]),
            _ => (GRAPH_APP_ID, s.as_str()),
        };
        let Some(resource) = tenant.resource(res_name) else {
            return Err(resource_not_found(tenant, res_name));
        };
        match &out.resource {
            Some(r) if !r.eq_ignore_ascii_case(&resource.app_id) => {
                return Err(AadError::new(
                    28000,
                    "invalid_scope",
                    format!(
                        "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope {} is not valid.",
                        scopes.join(" ")
                    ),
                ));
            }
            _ => {}
        }
        out.resource = Some(resource.app_id.clone());
        if out.aud_form.is_empty() {
            out.aud_form =
                if res_name == GRAPH_APP_ID || resource.app_id.eq_ignore_ascii_case(res_name) {
                    resource.app_id.clone()
                } else {
                    res_name.trim_end_matches('/').to_string()
                };
        }
        if value == ".default" {
            out.default = true;
            for v in client.required_scopes(resource) {
                if !out.values.contains(&v) {
                    out.values.push(v);
                }
            }
        } else if resource
            .api
            .oauth2_permission_scopes
            .iter()
            .any(|p| p.value.eq_ignore_ascii_case(value))
        {
            if !out.values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                out.values.push(value.to_string());
            }
        } else {
            return Err(AadError::new(
                70011,
                "invalid_scope",
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid. The scope {value} does not exist on the resource '{}'.",
                    resource.app_id
                ),
            ));
        }
    }
    Ok(out)
}

/// AADSTS500011: `name` is no resource of `tenant`.
pub fn resource_not_found(tenant: &Tenant, name: &str) -> AadError {
    AadError::new(
        500011,
        "invalid_resource",
        format!(
            "The resource principal named {name} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            tenant.domain()
        ),
    )
}

/// The resource a user token is issued for, with its scope values: the requested one, or for
/// OIDC scopes only Microsoft Graph with `User.Read`, as Entra does.
///
/// # Errors
/// AADSTS500011 when OIDC scopes alone were asked for and the tenant has no Microsoft Graph
/// (a custom world may leave it out).
pub fn token_resource<'t>(
    tenant: &'t Tenant,
    scopes: &Scopes,
) -> Result<(&'t Application, Vec<String>), AadError> {
    let id = scopes.resource.as_deref().unwrap_or(GRAPH_APP_ID);
    let resource = tenant
        .app(id)
        .ok_or_else(|| resource_not_found(tenant, id))?;
    let values = if scopes.resource.is_some() {
        scopes.values.clone()
    } else {
        vec!["User.Read".to_string()]
    };
    Ok((resource, values))
}

/// The full scope string of a value on a resource (Graph keeps short names).
pub fn scope_uri(resource: &Application, value: &str) -> String {
    if resource.app_id.eq_ignore_ascii_case(GRAPH_APP_ID) {
        value.to_string()
    } else {
        let prefix = resource
            .identifier_uris
            .first()
            .cloned()
            .unwrap_or_else(|| resource.app_id.clone());
        format!("{}/{value}", prefix.trim_end_matches('/'))
    }
}

/// A scope value on a resource, prefixed as the client named the resource (`aud_form`):
/// `api://…/x` or `<guid>/x`; Graph keeps short names.
pub fn scope_named(resource: &Application, aud_form: &str, value: &str) -> String {
    if resource.app_id.eq_ignore_ascii_case(GRAPH_APP_ID) || aud_form.is_empty() {
        scope_uri(resource, value)
    } else {
        format!("{}/{value}", aud_form.trim_end_matches('/'))
    }
}

pub(super) fn response_scope(
    resource: &Application,
    aud_form: &str,
    values: &[String],
    scopes: &Scopes,
) -> String {
    values
        .iter()
        .map(|v| scope_named(resource, aud_form, v))
        .chain(
            scopes
                .oidc
                .iter()
                .filter(|s| s.as_str() != "offline_access")
                .cloned(),
        )
        .collect::<Vec<_>>()
        .join(" ")
}
