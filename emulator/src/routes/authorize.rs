//! `/{tenant}/oauth2/v2.0/authorize` (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow): the sign-in pages (username, then
//! password, as Entra does; labelled inputs), the MFA page, the consent page, the account
//! picker (`prompt=select_account` with a session), SSO through a session cookie, `prompt`,
//! `login_hint`, `claims`, PKCE, and `response_mode` query, fragment and form_post. Errors
//! before the client and redirect URI are trusted are shown on an error page; the others go
//! back to the redirect URI. Pending sign-ins and sessions live in the bounded
//! [`crate::state::Store`].

// A handler's early exit is a whole response; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

use super::{TenantSeg, esc, pick_tenant, tenant_seg};
use crate::{
    errors::{AadError, entra_timestamp},
    grants::{self, split},
    keys::now,
    params::Params,
    state::{AppState, AuthFacts, CodeGrant, Counters, Session, Shared},
    tokens,
    well_known::MFA_CODE,
    world::{ConsentGrant, Tenant},
};

/// The session cookie (Entra's is also called ESTSAUTH).
pub const SESSION_COOKIE: &str = "ESTSAUTH";

/// Authorize routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/{tenant}/oauth2/v2.0/authorize",
        get(authorize_get).post(authorize_post),
    )
}

async fn authorize_get(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    Counters::bump(&st.stats.authorize);
    let p = Params::parse(q.unwrap_or_default().as_bytes());
    start(&st, &seg, &headers, p)
}

async fn authorize_post(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Counters::bump(&st.stats.authorize);
    let p = Params::parse(&body);
    match p.get("_txn") {
        Some(_) => step(&st, &seg, &headers, p),
        None => start(&st, &seg, &headers, p),
    }
}

fn error_page(status: StatusCode, e: &AadError) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    let body = format!(
        "<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p role=\"alert\" id=\"error\">AADSTS{}: {}</p><dl><dt>Request Id</dt><dd>{trace}</dd><dt>Correlation Id</dt><dd>{corr}</dd><dt>Timestamp</dt><dd>{}</dd></dl>",
        e.code,
        esc(&e.message),
        entra_timestamp()
    );
    (status, page("Sign in - error", &body)).into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0 .3rem}}input{{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem}}button{{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}}[role=alert]{{color:#a80000}}</style></head><body><main><p><strong>Microsoft Entra ID emulator</strong></p>{body}</main></body></html>",
        esc(title)
    ))
}

/// A validated authorize request, rebuilt from the stored transaction at each step.
struct Req<'a> {
    p: &'a Params,
    tenant: &'a Tenant,
    client_id: String,
    redirect_uri: String,
    mode: String,
    state: Option<String>,
}

fn start(st: &Shared, seg: &str, headers: &HeaderMap, p: Params) -> Response {
    let txn = uuid::Uuid::new_v4().to_string();
    let mut p = p;
    p.0.retain(|k, _| !k.starts_with('_'));
    p.0.insert("_seg".into(), seg.into());
    {
        let world = st.world.read().expect("world lock");
        // A `login_hint` claim value (opaque) stands for its user: continue with the UPN.
        if let Some((oid, tid)) = p.get("login_hint").and_then(tokens::parse_login_hint)
            && let Some(u) = world.user(&tid, &oid)
        {
            p.0.insert("login_hint".into(), u.user_principal_name.clone());
            p.0.insert("_tenant".into(), tid);
        }
        if let Err(r) = validate(st, &world, seg, &p) {
            return r;
        }
    }
    st.store.lock().expect("store lock").insert_txn(
        txn.clone(),
        p.0.clone().into_iter().collect(),
        now(),
    );
    advance(st, headers, &txn, None, None)
}

/// Checks the request; `Err` is the response to send (an error page or an error redirect).
fn validate(
    st: &Shared,
    world: &crate::world::World,
    seg: &str,
    p: &Params,
) -> Result<(), Response> {
    let _ = st;
    let tenant =
        resolve_tenant(world, seg, p).map_err(|e| error_page(StatusCode::BAD_REQUEST, &e))?;
    let client_id = p
        .get("client_id")
        .ok_or_else(|| error_page(StatusCode::BAD_REQUEST, &AadError::missing("client_id")))?;
    let app = tenant.app(client_id).ok_or_else(|| {
        error_page(
            StatusCode::BAD_REQUEST,
            &app_not_found(client_id, tenant.domain()),
        )
    })?;
    let redirect_uri = p
        .get("redirect_uri")
        .map(str::to_string)
        .or_else(|| app.web.redirect_uris.first().cloned())
        .unwrap_or_default();
    if !app.redirect_uri_allowed(&redirect_uri) {
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
    let req = Req {
        p,
        tenant,
        client_id: client_id.into(),
        redirect_uri,
        mode: p.get("response_mode").unwrap_or("query").into(),
        state: p.get("state").map(str::to_string),
    };
    let fail = |e: AadError| Err(redirect_error(&req, &e));
    if !matches!(req.mode.as_str(), "query" | "fragment" | "form_post") {
        return fail(AadError::request(
            900144,
            format!("The 'response_mode' value '{}' is not supported.", req.mode),
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
    if let Err(e) = tenant_seg(world, seg).and_then(|t| super::check_multi_tenant(&t, app)) {
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
        let checked = grants::resolve(tenant, app, &[s])
            .and_then(|r| grants::check_self_token(tenant, app, &r, grants::SelfToken::SignIn));
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
    if let Some(claims) = p.get("claims")
        && serde_json::from_str::<serde_json::Value>(claims).is_err()
    {
        return fail(AadError::request(
            90019,
            "The 'claims' parameter is not valid JSON.",
        ));
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
fn app_not_found(client_id: &str, domain: &str) -> AadError {
    AadError::new(
        700016,
        "unauthorized_client",
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{domain}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

fn resolve_tenant<'w>(
    world: &'w crate::world::World,
    seg: &str,
    p: &Params,
) -> Result<&'w Tenant, AadError> {
    match tenant_seg(world, seg)? {
        TenantSeg::Tenant(id) => world.tenant(&id),
        // On an alias, the tenant where the user who signs in lives (`_tenant`, set once the
        // username is known), else the hint's.
        TenantSeg::Alias(_) => pick_tenant(
            world,
            &[p.get("_tenant"), p.get("login_hint"), p.get("client_id")],
        ),
    }
    .ok_or_else(|| super::unknown_tenant(seg))
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The session of a sign-in step: this transaction's own sign-in first, else the cookie.
fn txn_session(headers: &HeaderMap, p: &Params) -> Option<String> {
    p.get("_sid")
        .map(str::to_string)
        .or_else(|| session_id(headers))
}

/// A pending sign-in's parameters; `None` once it expired (15 minutes) or was dropped.
fn load_txn(st: &Shared, txn: &str) -> Option<Params> {
    let store = st.store.lock().expect("store lock");
    store
        .txn(txn, now())
        .map(|t| Params(t.params.iter().cloned().collect()))
}

fn save_txn(st: &Shared, txn: &str, p: &Params) {
    st.store
        .lock()
        .expect("store lock")
        .update_txn(txn, p.0.clone().into_iter().collect());
}

/// The live SSO session `sid` (using it keeps it alive), cloned.
fn load_session(st: &Shared, sid: &str) -> Option<Session> {
    st.store
        .lock()
        .expect("store lock")
        .session(sid, now())
        .cloned()
}

/// Moves the sign-in forward: sign-in page, MFA page, consent page, or the code.
fn advance(
    st: &Shared,
    headers: &HeaderMap,
    txn: &str,
    new_session: Option<String>,
    notice: Option<&str>,
) -> Response {
    let Some(mut p) = load_txn(st, txn) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(
                90011,
                "The sign-in request expired or is unknown. Start again.",
            ),
        );
    };
    let _ = notice;
    let world = st.world.read().expect("world lock");
    let seg = p.get("_seg").unwrap_or("common").to_string();
    let sid = new_session.clone().or_else(|| txn_session(headers, &p));
    // On an alias with nothing naming the user yet, an existing session's tenant is the one.
    if p.get("_tenant").is_none()
        && p.get("login_hint").is_none()
        && matches!(tenant_seg(&world, &seg), Ok(TenantSeg::Alias(_)))
        && let Some(tid) = sid
            .as_deref()
            .and_then(|s| load_session(st, s))
            .map(|s| s.tid)
    {
        p.0.insert("_tenant".into(), tid);
    }
    let Ok(tenant) = resolve_tenant(&world, &seg, &p) else {
        return error_page(StatusCode::BAD_REQUEST, &super::unknown_tenant(&seg));
    };
    let client_id = p.get("client_id").unwrap_or_default();
    let Some(app) = tenant.app(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &app_not_found(client_id, tenant.domain()),
        );
    };
    let req = Req {
        p: &p,
        tenant,
        client_id: app.app_id.clone(),
        redirect_uri: p
            .get("redirect_uri")
            .map(str::to_string)
            .or_else(|| app.web.redirect_uris.first().cloned())
            .unwrap_or_default(),
        mode: p.get("response_mode").unwrap_or("query").into(),
        state: p.get("state").map(str::to_string),
    };
    let prompt = p.get("prompt").unwrap_or_default();
    let session = sid
        .as_deref()
        .and_then(|s| load_session(st, s))
        .filter(|s| s.tid == tenant.id);
    // Signed in during this sign-in, or picked the session's account on the account picker.
    let authed_here = p.get("_authed").is_some() || p.get("_picked").is_some();
    let session_user = session.as_ref().and_then(|s| tenant.user_by_oid(&s.oid));
    let with_cookie = |r: Response| set_cookie(st, r, new_session.as_deref());
    if prompt == "select_account"
        && !authed_here
        && let Some(u) = session_user
    {
        return with_cookie(account_picker_page(&seg, txn, u));
    }
    let user = session_user
        .filter(|_| authed_here || !matches!(prompt, "login" | "select_account"))
        .filter(|u| {
            authed_here
                || p.get("login_hint")
                    .is_none_or(|h| h.eq_ignore_ascii_case(&u.user_principal_name))
        });
    let Some(user) = user else {
        if prompt == "none" {
            return redirect_error(
                &req,
                &AadError::new(
                    50058,
                    "login_required",
                    "A silent sign-in request was sent but no user is signed in.",
                ),
            );
        }
        return username_page(&seg, txn, p.get("login_hint").unwrap_or_default(), None);
    };
    let session = session.expect("a user implies a session");
    let scopes = split(p.get("scope").unwrap_or_default());
    // Group the requested scopes by resource (several resources are allowed at /authorize).
    let mut groups: Vec<(String, Vec<String>)> = vec![];
    for s in &scopes {
        if let Ok(r) = grants::resolve(tenant, app, std::slice::from_ref(s))
            && let Some(res) = r.resource
        {
            match groups.iter_mut().find(|(g, _)| *g == res) {
                Some((_, v)) => v.extend(r.values),
                None => groups.push((res, r.values)),
            }
        }
    }
    let mut session = session;
    let has_mfa = session.auth.has_mfa();
    let mut policies: Vec<String> = vec![];
    for (res, _) in &groups {
        for pol in tenant.mfa_policies(user, res) {
            policies.push(pol.id.clone());
        }
    }
    let wanted_acrs = p.get("claims").map(requested_acrs).unwrap_or_default();
    let missing_acrs: Vec<String> = wanted_acrs
        .into_iter()
        .filter(|a| !session.auth.acrs.contains(a))
        .collect();
    if has_mfa && !missing_acrs.is_empty() {
        // The emulator's authentication contexts all mean "MFA": a session that did MFA
        // satisfies them without another prompt.
        session.auth.acrs.extend(missing_acrs.iter().cloned());
        if let Some(s) = sid.as_ref()
            && let Some(stored) = st.store.lock().expect("store lock").session(s, now())
        {
            stored.auth.acrs = session.auth.acrs.clone();
        }
    }
    let claims_step_up = !missing_acrs.is_empty()
        || p.get("claims")
            .is_some_and(|c| c.contains("capolids") || c.contains("polids"));
    if !has_mfa && (user.require_mfa || !policies.is_empty() || claims_step_up) {
        if prompt == "none" {
            let res = groups.first().map(|g| g.0.clone()).unwrap_or_default();
            return redirect_error(&req, &grants::mfa_required(&res, &policies));
        }
        return with_cookie(mfa_page(&seg, txn, None));
    }
    let missing: Vec<(String, Vec<String>)> = groups
        .iter()
        .map(|(res, vals)| {
            (
                res.clone(),
                tenant.missing_consent(Some(user), &app.app_id, res, vals),
            )
        })
        .filter(|(_, m)| !m.is_empty())
        .collect();
    // A user cannot consent to an admin-only scope: no consent page then, but AADSTS90094.
    let admin_only: Vec<String> = missing
        .iter()
        .filter_map(|(res, vals)| Some((tenant.app(res)?, vals)))
        .flat_map(|(r, vals)| {
            vals.iter()
                .filter(|v| r.is_admin_scope(v))
                .map(|v| grants::scope_uri(r, v))
        })
        .collect();
    if !admin_only.is_empty() {
        return with_cookie(redirect_error(
            &req,
            &AadError::new(
                90094,
                "consent_required",
                format!(
                    "The grant requires admin permission. Administrator consent is required for {}: a user cannot consent to these permissions of '{}'.",
                    admin_only.join(" "),
                    app.display_name
                ),
            ),
        ));
    }
    let force_consent = prompt == "consent" && p.get("_consented").is_none();
    if !missing.is_empty() || force_consent {
        if prompt == "none" {
            let mut e = grants::no_consent(app);
            e.error = "consent_required";
            return redirect_error(&req, &e);
        }
        let all: Vec<String> = groups
            .iter()
            .flat_map(|(res, vals)| {
                let r = tenant.app(res);
                vals.iter().map(move |v| {
                    r.map(|r| grants::scope_uri(r, v))
                        .unwrap_or_else(|| v.clone())
                })
            })
            .collect();
        return with_cookie(consent_page(
            &seg,
            txn,
            &app.display_name,
            &user.user_principal_name,
            &all,
        ));
    }
    // Success: issue the code.
    let code = format!("1.{}", tokens::opaque(64));
    let lt = *st.lifetimes.read().expect("lifetimes lock");
    let pkce = p.get("code_challenge").map(|c| {
        (
            c.to_string(),
            p.get("code_challenge_method")
                .unwrap_or("plain")
                .to_string(),
        )
    });
    let sid_value = session.auth.sid.clone();
    {
        let mut store = st.store.lock().expect("store lock");
        store.maybe_housekeeping(now());
        store.codes.insert(
            code.clone(),
            CodeGrant {
                tid: tenant.id.clone(),
                client_id: app.app_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                scopes,
                oid: user.id.clone(),
                nonce: p.get("nonce").map(str::to_string),
                pkce,
                expires: now() + lt.code_secs as i64,
                redeemed: false,
                auth: session.auth.clone(),
            },
        );
        store.txns.remove(txn);
        if let Some(s) = store.sessions.get_mut(&sid_value)
            && !s.apps.contains(&app.app_id)
        {
            s.apps.push(app.app_id.clone());
        }
    }
    let mut fields = vec![("code".to_string(), code)];
    if let Some(s) = &req.state {
        fields.push(("state".into(), s.clone()));
    }
    if p.get("client_info") == Some("1") {
        // The account's home identity (a guest's home tenant and object id), as Entra gives it.
        let (uid, utid) = match (&user.home_object_id, &user.home_tenant_id) {
            (Some(o), Some(t)) => (o.as_str(), t.as_str()),
            _ => (user.id.as_str(), tenant.id.as_str()),
        };
        fields.push(("client_info".into(), tokens::client_info(uid, utid)));
    }
    fields.push(("session_state".into(), sid_value));
    with_cookie(respond(&req, fields))
}

fn set_cookie(st: &Shared, mut r: Response, sid: Option<&str>) -> Response {
    if let Some(sid) = sid {
        let secure = if st.tls { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax{secure}"
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// Sends `fields` to the redirect URI by the request's response mode.
fn respond(req: &Req<'_>, fields: Vec<(String, String)>) -> Response {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter())
        .finish();
    match req.mode.as_str() {
        "form_post" => {
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
            let sep = if mode == "fragment" {
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

fn redirect_error(req: &Req<'_>, e: &AadError) -> Response {
    let _ = (req.p, &req.client_id, req.tenant);
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

fn form(seg: &str, txn: &str, step: &str, inner: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/{}/oauth2/v2.0/authorize\"><input type=\"hidden\" name=\"_txn\" value=\"{}\"><input type=\"hidden\" name=\"_step\" value=\"{step}\">{inner}</form>",
        esc(seg),
        esc(txn)
    )
}

fn alert(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p role=\"alert\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default()
}

fn username_page(seg: &str, txn: &str, hint: &str, error: Option<&str>) -> Response {
    let inner = format!(
        "<h1>Sign in</h1>{}<label for=\"username\">Email, phone, or Skype</label><input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{}\"><button type=\"submit\" id=\"next\">Next</button>",
        alert(error),
        esc(hint)
    );
    page(
        "Sign in to your account",
        &form(seg, txn, "username", &inner),
    )
    .into_response()
}

fn password_page(seg: &str, txn: &str, username: &str, error: Option<&str>) -> Response {
    let inner = format!(
        "<h1>Enter password</h1><p id=\"display-name\">{}</p>{}<input type=\"hidden\" name=\"username\" value=\"{}\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus><button type=\"submit\" id=\"sign-in\">Sign in</button>",
        esc(username),
        alert(error),
        esc(username)
    );
    page("Enter password", &form(seg, txn, "password", &inner)).into_response()
}

/// `prompt=select_account` with a session: the session's account, or another one. (A session
/// holds one account here, so that is the list.)
fn account_picker_page(seg: &str, txn: &str, user: &crate::world::User) -> Response {
    let inner = format!(
        "<h1>Pick an account</h1><ul id=\"accounts\"><li><button type=\"submit\" name=\"account\" value=\"{}\" id=\"signed-in-account\"><span class=\"name\">{}</span> <span class=\"upn\">{}</span> <span>Signed in</span></button></li></ul><button type=\"submit\" name=\"account\" value=\"other\" id=\"use-another-account\">Use another account</button>",
        esc(&user.id),
        esc(&user.display_name),
        esc(&user.user_principal_name)
    );
    page("Pick an account", &form(seg, txn, "select_account", &inner)).into_response()
}

fn mfa_page(seg: &str, txn: &str, error: Option<&str>) -> Response {
    let inner = format!(
        "<h1>Enter code</h1><p>Enter the code displayed in your authenticator app (the emulator's code is {MFA_CODE}).</p>{}<label for=\"otc\">Code</label><input id=\"otc\" name=\"otc\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus><button type=\"submit\" id=\"verify\">Verify</button>",
        alert(error)
    );
    page("Enter code", &form(seg, txn, "mfa", &inner)).into_response()
}

fn consent_page(seg: &str, txn: &str, app: &str, upn: &str, scopes: &[String]) -> Response {
    let items: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", esc(s)))
        .collect();
    let inner = format!(
        "<h1>Permissions requested</h1><p>{} ({})</p><p>This app would like to:</p><ul id=\"scopes\">{items}</ul><button type=\"submit\" name=\"consent\" value=\"accept\" id=\"accept\">Accept</button> <button type=\"submit\" name=\"consent\" value=\"decline\" id=\"decline\">Cancel</button>",
        esc(app),
        esc(upn)
    );
    page("Permissions requested", &form(seg, txn, "consent", &inner)).into_response()
}

/// Handles a POST from one of the pages.
fn step(st: &Shared, seg: &str, headers: &HeaderMap, form: Params) -> Response {
    let txn = form.get("_txn").unwrap_or_default().to_string();
    let Some(mut p) = load_txn(st, &txn) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(
                90011,
                "The sign-in request expired or is unknown. Start again.",
            ),
        );
    };
    let seg = p.get("_seg").unwrap_or(seg).to_string();
    match form.get("_step").unwrap_or_default() {
        "username" => {
            let username = form.get("username").unwrap_or_default();
            let world = st.world.read().expect("world lock");
            // On an alias, the name's domain picks the tenant (home realm discovery).
            let on_alias = matches!(tenant_seg(&world, &seg), Ok(TenantSeg::Alias(_)));
            let tenant = if on_alias {
                pick_tenant(&world, &[Some(username)])
            } else {
                resolve_tenant(&world, &seg, &p).ok()
            };
            let known = tenant.filter(|t| t.user_for_sign_in(username).is_some());
            if let Some(t) = known
                && on_alias
            {
                p.0.insert("_tenant".into(), t.id.clone());
                save_txn(st, &txn, &p);
            }
            if known.is_some() {
                password_page(&seg, &txn, username, None)
            } else {
                username_page(
                    &seg,
                    &txn,
                    username,
                    Some(
                        "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.",
                    ),
                )
            }
        }
        "password" => {
            let username = form.get("username").unwrap_or_default();
            let password = form.get("password").unwrap_or_default();
            let (oid, tid) = {
                let world = st.world.read().expect("world lock");
                let t = resolve_tenant(&world, &seg, &p).ok();
                match t.and_then(|t| t.user_for_sign_in(username).map(|u| (u, t))) {
                    Some((u, t)) if crate::client_auth::secret_matches(password, &u.password) => {
                        (u.id.clone(), t.id.clone())
                    }
                    _ => {
                        return password_page(
                            &seg,
                            &txn,
                            username,
                            Some(
                                "Your account or password is incorrect. If you don't remember your password, reset it now.",
                            ),
                        );
                    }
                }
            };
            let sid = uuid::Uuid::new_v4().to_string();
            st.store.lock().expect("store lock").insert_session(
                sid.clone(),
                Session {
                    oid,
                    tid,
                    auth: AuthFacts {
                        sid: sid.clone(),
                        ..AuthFacts::password_now()
                    },
                    last_used: now(),
                    apps: vec![],
                },
                now(),
            );
            p.0.insert("_authed".into(), "1".into());
            // The session also rides on the transaction, for clients that drop cookies.
            p.0.insert("_sid".into(), sid.clone());
            save_txn(st, &txn, &p);
            advance(st, headers, &txn, Some(sid), None)
        }
        "select_account" => {
            if form.get("account") == Some("other") {
                return username_page(&seg, &txn, "", None);
            }
            // The picked account must still be the session's; otherwise (signed out in the
            // meantime) the sign-in starts over from what the session now says.
            let picked = form.get("account").unwrap_or_default();
            let session = txn_session(headers, &p).and_then(|s| load_session(st, &s));
            if session.is_some_and(|s| s.oid.eq_ignore_ascii_case(picked)) {
                p.0.insert("_picked".into(), "1".into());
                save_txn(st, &txn, &p);
            }
            advance(st, headers, &txn, None, None)
        }
        "mfa" => {
            if form.get("otc") != Some(MFA_CODE) {
                return mfa_page(
                    &seg,
                    &txn,
                    Some("You didn't enter the expected verification code. Please try again."),
                );
            }
            if let Some(sid) = txn_session(headers, &p)
                && let Some(s) = st.store.lock().expect("store lock").session(&sid, now())
            {
                if !s.auth.has_mfa() {
                    s.auth.amr.push("mfa".into());
                }
                // The authentication contexts this sign-in asked for are now satisfied.
                for a in p.get("claims").map(requested_acrs).unwrap_or_default() {
                    if !s.auth.acrs.contains(&a) {
                        s.auth.acrs.push(a);
                    }
                }
            }
            advance(st, headers, &txn, None, None)
        }
        "consent" => {
            if form.get("consent") != Some("accept") {
                let world = st.world.read().expect("world lock");
                let Ok(tenant) = resolve_tenant(&world, &seg, &p) else {
                    return error_page(StatusCode::BAD_REQUEST, &super::unknown_tenant(&seg));
                };
                let req = Req {
                    p: &p,
                    tenant,
                    client_id: p.get("client_id").unwrap_or_default().into(),
                    redirect_uri: p.get("redirect_uri").unwrap_or_default().into(),
                    mode: p.get("response_mode").unwrap_or("query").into(),
                    state: p.get("state").map(str::to_string),
                };
                st.store.lock().expect("store lock").txns.remove(&txn);
                return redirect_error(
                    &req,
                    &AadError::new(
                        65004,
                        "access_denied",
                        "User declined to consent to access the app.",
                    ),
                );
            }
            record_consent(st, headers, &seg, &p);
            p.0.insert("_consented".into(), "1".into());
            save_txn(st, &txn, &p);
            advance(st, headers, &txn, None, None)
        }
        _ => error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(900144, "Unknown sign-in step."),
        ),
    }
}

/// The authentication-context ids a `claims` request asks for in `access_token.acrs`
/// (`value` or `values`).
pub fn requested_acrs(claims: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(claims) else {
        return vec![];
    };
    let acrs = &v["access_token"]["acrs"];
    let mut out: Vec<String> = acrs["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(one) = acrs["value"].as_str() {
        out.push(one.to_string());
    }
    out.dedup();
    out
}

fn record_consent(st: &Shared, headers: &HeaderMap, seg: &str, p: &Params) {
    let Some(session) = txn_session(headers, p).and_then(|s| load_session(st, &s)) else {
        return;
    };
    let mut world = st.world.write().expect("world lock");
    let Ok(tenant) = resolve_tenant(&world, seg, p).map(|t| t.id.clone()) else {
        return;
    };
    let Some(t) = world.tenant_mut(&tenant) else {
        return;
    };
    let Some(upn) = t
        .user_by_oid(&session.oid)
        .map(|u| u.user_principal_name.clone())
    else {
        return;
    };
    let Some(app) = t.app(p.get("client_id").unwrap_or_default()).cloned() else {
        return;
    };
    let mut grants_to_add = vec![];
    for s in split(p.get("scope").unwrap_or_default()) {
        if let Ok(r) = grants::resolve(t, &app, &[s])
            && let Some(res) = r.resource
        {
            // Combined consent: a known client asking for the middle tier's `.default` also
            // consents to the middle tier's own static permissions (the On-Behalf-Of page's "Default and combined consent").
            if r.default
                && let Some(middle) = t.app(&res)
                && middle
                    .api
                    .known_client_applications
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&app.app_id))
            {
                for rra in &middle.required_resource_access {
                    if let Some(downstream) = t.app(&rra.resource_app_id) {
                        grants_to_add.push(ConsentGrant {
                            client_id: middle.app_id.clone(),
                            resource_app_id: downstream.app_id.clone(),
                            scopes: middle.required_scopes(downstream),
                            principal: Some(upn.clone()),
                        });
                    }
                }
            }
            grants_to_add.push(ConsentGrant {
                client_id: app.app_id.clone(),
                resource_app_id: res,
                scopes: r.values,
                principal: Some(upn.clone()),
            });
        }
    }
    t.consents.extend(grants_to_add);
}
