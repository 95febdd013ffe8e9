//! The authorize request: checked once when the sign-in starts, and where its answer goes
//! (the redirect URI, by its response mode), errors included.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    super::{TenantSeg, check_multi_tenant, esc, pick_tenant, tenant_seg, unknown_tenant},
    pages::{error_page, page},
};
use crate::{
    claims::ClaimsRequest,
    errors::AadError,
    grants::{self, split},
    params::Params,
    world::{Application, Tenant},
};

/// How the answer reaches the redirect URI (`response_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    /// The mode a `response_mode` value names (`query` when absent); `None` for one the
    /// emulator does not serve.
    fn parse(raw: Option<&str>) -> Option<Self> {
        match raw.unwrap_or("query") {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// Where and how an authorize request is answered: the redirect URI it named (else the
/// app's first), its response mode and its `state`. Built the same way at every step.
pub(super) struct AuthorizeRequest {
    pub(super) redirect_uri: String,
    pub(super) mode: ResponseMode,
    pub(super) state: Option<String>,
}

impl AuthorizeRequest {
    pub(super) fn of(app: &Application, p: &Params) -> Self {
        Self {
            redirect_uri: p
                .get("redirect_uri")
                .map(str::to_string)
                .or_else(|| app.web.redirect_uris.first().cloned())
                .unwrap_or_default(),
            // An unknown mode is refused (AADSTS900144), by query.
            mode: ResponseMode::parse(p.get("response_mode")).unwrap_or(ResponseMode::Query),
            state: p.get("state").map(str::to_string),
        }
    }
}

/// Checks the request once, when the sign-in starts; `Err` is the response to send (an error
/// page, or an error redirect once the client and its redirect URI are trusted).
pub(super) fn validate(
    world: &crate::world::World,
    seg: &str,
    p: &Params,
    known_tenant: Option<&str>,
) -> Result<(), Response> {
    let tenant = resolve_tenant(world, seg, p, known_tenant)
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, &e))?;
    let client_id = p
        .get("client_id")
        .ok_or_else(|| error_page(StatusCode::BAD_REQUEST, &AadError::missing("client_id")))?;
    let app = tenant.app(client_id).ok_or_else(|| {
        error_page(
            StatusCode::BAD_REQUEST,
            &app_not_found(client_id, tenant.domain()),
        )
    })?;
    let req = AuthorizeRequest::of(app, p);
    let redirect_uri = &req.redirect_uri;
    if !app.redirect_uri_allowed(redirect_uri) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
                ),
            ),
        ));
    }
    let fail = |e: AadError| Err(redirect_error(&req, &e));
    if ResponseMode::parse(p.get("response_mode")).is_none() {
        return fail(AadError::request(
            900144,
            format!(
                "The 'response_mode' value '{}' is not supported.",
                p.get("response_mode").unwrap_or_default()
            ),
        ));
    }
    let Some(response_type) = p.get("response_type") else {
        return fail(AadError::missing("response_type"));
    };
    let types: Vec<&str> = response_type.split_whitespace().collect();
    if types != ["code"] {
        // Tokens straight from /authorize need the registration's implicit-grant switches
        // (Entra's codes); with them on, the emulator still has no implicit or hybrid flow.
        let implicit = app.web.implicit_grant_settings;
        let e = if types.contains(&"id_token") && !implicit.enable_id_token_issuance {
            AadError::new(
                700054,
                "unsupported_response_type",
                "response_type 'id_token' is not enabled for the application.",
            )
        } else if types.contains(&"token") && !implicit.enable_access_token_issuance {
            AadError::new(
                700051,
                "unsupported_response_type",
                "response_type 'token' is not enabled for the application.",
            )
        } else {
            AadError::new(
                700051,
                "unsupported_response_type",
                format!(
                    "response_type '{response_type}' is not supported by the emulator: it implements the authorization code flow only."
                ),
            )
        };
        return fail(e);
    }
    if let Err(e) = tenant_seg(world, seg).and_then(|t| check_multi_tenant(&t, app)) {
        return fail(e);
    }
    let Some(scope) = p.get("scope") else {
        return fail(AadError::missing("scope"));
    };
    let scopes = split(scope);
    // `.default` stands for every permission of its resource: Entra refuses it next to
    // other resource scopes at sign-in (AADSTS70011).
    let resources = scopes
        .iter()
        .filter(|s| !crate::world::OIDC_SCOPES.contains(&s.as_str()))
        .count();
    if resources > 1 && scopes.iter().any(|s| s.ends_with("/.default")) {
        return fail(AadError::new(
            70011,
            "invalid_scope",
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid. .default scope can't be combined with resource-specific scopes."
            ),
        ));
    }
    // OIDC scopes alone mean a Microsoft Graph token at redemption: refuse now if the tenant
    // has no Graph (a custom world), rather than after the user signed in.
    if resources == 0 && tenant.app(crate::well_known::GRAPH_APP_ID).is_none() {
        return fail(grants::resource_not_found(
            tenant,
            crate::well_known::GRAPH_APP_ID,
        ));
    }
    for s in scopes {
        // A resource of another tenant is refused once the user has signed in (AADSTS650052,
        // in the sign-in flow), as Entra does.
        if missing_service_principal(world, tenant, app, &s).is_some() {
            continue;
        }
        let checked = grants::resolve(tenant, app, &[s])
            .and_then(|r| grants::check_self_token(tenant, app, &r));
        if let Err(mut e) = checked {
            if e.code == 90008 {
                // `invalid_grant` is not an authorization-endpoint error (RFC 6749 §4.1.2.1).
                e.error = "invalid_request";
            }
            return fail(e);
        }
    }
    if let Some(method) = p.get("code_challenge_method")
        && !matches!(method, "S256" | "plain")
    {
        return fail(AadError::request(
            501491,
            format!(
                "Invalid code_challenge_method '{method}'. Supported values are S256 and plain."
            ),
        ));
    }
    if let Err(e) = ClaimsRequest::of(p) {
        return fail(e);
    }
    if p.get("prompt").is_some_and(|pr| {
        !matches!(
            pr,
            "login" | "none" | "consent" | "select_account" | "create"
        )
    }) {
        return fail(AadError::request(
            90023,
            "Invalid request. The 'prompt' parameter value is not supported.",
        ));
    }
    Ok(())
}

/// AADSTS700016.
pub(super) fn app_not_found(client_id: &str, domain: &str) -> AadError {
    AadError::new(
        700016,
        "unauthorized_client",
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// The tenant of a sign-in: the path's, or on an alias (`common`, `organizations`) the one
/// where the user who signs in lives (`known`, once the user is known), else the hint's.
pub(super) fn resolve_tenant<'w>(
    world: &'w crate::world::World,
    seg: &str,
    p: &Params,
    known: Option<&str>,
) -> Result<&'w Tenant, AadError> {
    match tenant_seg(world, seg)? {
        TenantSeg::Tenant(id) => world.tenant(&id),
        TenantSeg::Alias(_) => {
            pick_tenant(world, &[known, p.get("login_hint"), p.get("client_id")])
        }
    }
    .ok_or_else(|| unknown_tenant(seg))
}

/// Sends `fields` to the redirect URI by the request's response mode.
pub(super) fn respond(req: &AuthorizeRequest, fields: Vec<(String, String)>) -> Response {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter())
        .finish();
    match req.mode {
        ResponseMode::FormPost => {
            let inputs: String = fields
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                        esc(k),
                        esc(v)
                    )
                })
                .collect();
            let body = format!(
                "<form method=\"post\" action=\"{}\" id=\"form_post\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form><script>document.getElementById('form_post').submit()</script>",
                esc(&req.redirect_uri)
            );
            page("Working...", &body).into_response()
        }
        mode => {
            let sep = if mode == ResponseMode::Fragment {
                '#'
            } else if req.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            let location = format!("{}{sep}{encoded}", req.redirect_uri);
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
    }
}

pub(super) fn redirect_error(req: &AuthorizeRequest, e: &AadError) -> Response {
    let body = e.body();
    let mut fields = vec![
        ("error".to_string(), e.error.to_string()),
        (
            "error_description".into(),
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "error_uri".into(),
            body["error_uri"].as_str().unwrap_or_default().to_string(),
        ),
    ];
    if let Some(s) = &req.state {
        fields.push(("state".into(), s.clone()));
    }
    if let Some(c) = &e.claims {
        fields.push(("claims".into(), c.clone()));
    }
    if let Some(s) = e.suberror {
        fields.push(("suberror".into(), s.into()));
    }
    respond(req, fields)
}

/// AADSTS650052 when `scope` names a resource that has no service principal in `tenant` but
/// exists elsewhere (an API registered in another tenant, single-tenant or not yet consented
/// there). Entra refuses the whole sign-in then, even for a scope named only for consent
/// (PostHog/posthog#43486, microsoft/GraphNotificationBroker#5: `error=invalid_client`). A
/// resource that exists nowhere is left to the scope checks (AADSTS500011).
pub(super) fn missing_service_principal(
    world: &crate::world::World,
    tenant: &Tenant,
    app: &Application,
    scope: &str,
) -> Option<AadError> {
    let Err(e) = grants::resolve(tenant, app, &[scope.to_string()]) else {
        return None;
    };
    if e.code != 500011 {
        return None;
    }
    let name = scope.rfind('/').map_or(scope, |i| &scope[..i]);
    let resource = world.tenants.iter().find_map(|t| t.resource(name))?;
    Some(AadError::new(
        650052,
        "invalid_client",
        format!(
            "The app is trying to access a service '{}'({}) that your organization '{}' lacks a service principal for. Contact your IT Admin to review the configuration of your service subscriptions or consent to the application in order to create the required service principal.",
            resource.app_id, resource.display_name, tenant.id
        ),
    ))
}
