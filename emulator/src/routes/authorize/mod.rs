//! `/{tenant}/oauth2/v2.0/authorize` (Microsoft Learn:
//! learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow): a sign-in as a flow.
//! The request is checked once when it starts (`request.rs`: errors before the client and
//! redirect URI are trusted go to an error page, the others back to the redirect URI by its
//! response mode); it is kept as a pending sign-in with its typed
//! [`SignInProgress`]; each page's answer (`steps.rs`: user name,
//! password, account picker, MFA code, consent) records what it established; and `advance`
//! decides what comes next from the request, the progress and the SSO session: a page
//! (`pages.rs`), an error, or the code. SSO through a session cookie, `prompt`, `login_hint`,
//! `claims` and PKCE are handled along the way. Pending sign-ins and sessions live in the
//! bounded [`crate::state::Store`].

// A handler's early exit is a whole response; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::Response,
    routing::get,
};

mod consent;
mod pages;
mod request;
mod steps;

use consent::record_consent;
use pages::{
    account_picker_page, admin_approval_page, consent_page, error_page, mfa_page, username_page,
};
use request::{AuthorizeRequest, app_not_found, redirect_error, resolve_tenant, respond, validate};

use super::{TenantSeg, tenant_seg};
use crate::{
    claims::ClaimsRequest,
    errors::AadError,
    grants::{self, split},
    keys::now,
    params::Params,
    state::{AppState, CodeGrant, Counters, Session, Shared, SignInProgress},
    tokens,
    unconfirmed::{AssignmentRefusal, ConsentWall},
};

/// The session cookie (Entra's is also called ESTSAUTH).
pub const SESSION_COOKIE: &str = "ESTSAUTH";

/// Authorize routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/{tenant}/oauth2/v2.0/authorize",
        get(authorize).post(authorize),
    )
}

/// A new sign-in (GET, or a POST from an app), or the answer to one of the sign-in pages
/// (a POST with the page's `_txn`).
async fn authorize(
    State(st): State<AppState>,
    Path(seg): Path<String>,
    method: Method,
    headers: HeaderMap,
    p: Params,
) -> Response {
    Counters::bump(&st.stats.authorize);
    match p.get("_txn") {
        Some(_) if method == Method::POST => steps::answer(&st, &headers, &p),
        _ => start(&st, &seg, &headers, p),
    }
}

fn start(st: &Shared, seg: &str, headers: &HeaderMap, p: Params) -> Response {
    let txn = uuid::Uuid::new_v4().to_string();
    let mut p = p;
    // The pages' own fields (`_txn`, `_step`) are never part of the request.
    p.0.retain(|k, _| !k.starts_with('_'));
    let mut progress = SignInProgress {
        seg: seg.into(),
        ..SignInProgress::default()
    };
    {
        let world = st.world.read().expect("world lock");
        // A `login_hint` claim value (opaque) stands for its user: continue with the UPN. At
        // an alias a guest record's hint means the account at home: the claim "defaults to
        // the user's home tenant when used" (the optional claims reference).
        if let Some((oid, tid)) = p.get("login_hint").and_then(tokens::parse_login_hint)
            && let Some(u) = world.user(&tid, &oid)
        {
            let on_alias = matches!(tenant_seg(&world, seg), Ok(TenantSeg::Alias(_)));
            let home = u
                .home_tenant_id
                .as_deref()
                .zip(u.home_object_id.as_deref())
                .filter(|_| on_alias)
                .and_then(|(ht, ho)| Some((world.user(ht, ho)?, ht.to_string())));
            let (u, tid) = home.unwrap_or((u, tid));
            p.0.insert("login_hint".into(), u.user_principal_name.clone());
            progress.tenant = Some(tid);
        }
        if let Err(r) = validate(&world, seg, &p, progress.tenant.as_deref()) {
            return r;
        }
    }
    st.store.lock().expect("store lock").insert_txn(
        txn.clone(),
        p.0.clone().into_iter().collect(),
        progress,
        now(),
    );
    advance(st, headers, &txn, None)
}

/// The browser's SSO session id (the emulator's session cookie), if it sent one.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<String> {
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
fn txn_session(headers: &HeaderMap, progress: &SignInProgress) -> Option<String> {
    progress.sid.clone().or_else(|| session_id(headers))
}

/// A pending sign-in's request and progress; `None` once it expired (15 minutes) or was
/// dropped.
fn load_txn(st: &Shared, txn: &str) -> Option<(Params, SignInProgress)> {
    let store = st.store.lock().expect("store lock");
    store.txn(txn, now()).map(|t| {
        (
            Params(t.params.iter().cloned().collect()),
            t.progress.clone(),
        )
    })
}

fn save_txn(st: &Shared, txn: &str, progress: &SignInProgress) {
    st.store
        .lock()
        .expect("store lock")
        .update_txn(txn, progress.clone());
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
fn advance(st: &Shared, headers: &HeaderMap, txn: &str, new_session: Option<String>) -> Response {
    let Some((p, mut progress)) = load_txn(st, txn) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(
                90011,
                "The sign-in request expired or is unknown. Start again.",
            ),
        );
    };
    let world = st.world.read().expect("world lock");
    let seg = progress.seg.clone();
    let sid = new_session
        .clone()
        .or_else(|| txn_session(headers, &progress));
    // On an alias with nothing naming the user yet, an existing session's tenant is the one.
    if progress.tenant.is_none()
        && p.get("login_hint").is_none()
        && matches!(tenant_seg(&world, &seg), Ok(TenantSeg::Alias(_)))
        && let Some(tid) = sid
            .as_deref()
            .and_then(|s| load_session(st, s))
            .map(|s| s.tid)
    {
        progress.tenant = Some(tid);
    }
    let Ok(tenant) = resolve_tenant(&world, &seg, &p, progress.tenant.as_deref()) else {
        return error_page(StatusCode::BAD_REQUEST, &super::unknown_tenant(&seg));
    };
    let client_id = p.get("client_id").unwrap_or_default();
    let Some(app) = tenant.app(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &app_not_found(client_id, tenant.domain()),
        );
    };
    let req = AuthorizeRequest::of(app, &p);
    let prompt = p.get("prompt").unwrap_or_default();
    let session = sid
        .as_deref()
        .and_then(|s| load_session(st, s))
        .filter(|s| s.tid == tenant.id);
    // Signed in during this sign-in, or picked the session's account on the account picker.
    let authed_here = progress.identified_here;
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
    // Every resource named must have a service principal in the user's tenant, or the whole
    // sign-in is refused (AADSTS650052), consent-only scopes included.
    if let Some(e) = scopes
        .iter()
        .find_map(|s| request::missing_service_principal(&world, tenant, app, s))
    {
        return with_cookie(redirect_error(&req, &e));
    }
    // *Assignment required*: a user without an assignment, directly or through a group they
    // are a direct member of, is refused after signing in (ledger G10).
    if app.app_role_assignment_required && !tenant.is_assigned(user, app) {
        let refusal = AadError::new(
            50105,
            "access_denied",
            format!(
                "Your administrator has configured the application {} ('{}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '{}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application.",
                app.display_name, app.app_id, user.user_principal_name
            ),
        );
        return with_cookie(match st.unconfirmed().assignment_refusal {
            AssignmentRefusal::ErrorPage => error_page(StatusCode::BAD_REQUEST, &refusal),
            AssignmentRefusal::ErrorRedirect => redirect_error(&req, &refusal),
        });
    }
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
    let has_mfa = session.auth.has_mfa();
    let mut policies: Vec<String> = vec![];
    for (res, _) in &groups {
        for pol in tenant.mfa_policies(user, res) {
            policies.push(pol.id.clone());
        }
    }
    // Validated when the sign-in started.
    let claims = ClaimsRequest::of(&p).unwrap_or_default();
    // An authentication context asked for is met by the policies protecting it (MFA here);
    // one no policy protects is met as it is.
    let unmet_contexts = claims
        .acrs
        .iter()
        .any(|c| !tenant.satisfies_context(user, c, has_mfa));
    let claims_step_up = unmet_contexts || !claims.policies.is_empty();
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
    // A user cannot consent to an admin-only scope, nor to anything in a tenant that lets
    // no user consent: no consent page then, but the admin-approval wall (AADSTS90094).
    let admin_only: Vec<String> = missing
        .iter()
        .filter_map(|(res, vals)| Some((tenant.app(res)?, vals)))
        .flat_map(|(r, vals)| {
            vals.iter()
                .filter(|v| !tenant.users_may_consent || r.is_admin_scope(v))
                .map(|v| grants::scope_uri(r, v))
        })
        .collect();
    if !admin_only.is_empty() {
        let message = if tenant.users_may_consent {
            format!(
                "The grant requires admin permission. Administrator consent is required for {}: a user cannot consent to these permissions of '{}'.",
                admin_only.join(" "),
                app.display_name
            )
        } else {
            format!(
                "An administrator of {} has set a policy that prevents you from granting {} the permissions it is requesting ({}). Contact an administrator of {}, who can grant permissions to this application on your behalf.",
                tenant.domain(),
                app.display_name,
                admin_only.join(" "),
                tenant.domain()
            )
        };
        let wall = AadError::new(90094, "consent_required", message);
        return with_cookie(match st.unconfirmed().consent_wall {
            ConsentWall::ErrorRedirect => redirect_error(&req, &wall),
            ConsentWall::ApprovalPage => admin_approval_page(&seg, txn, &app.display_name),
        });
    }
    let force_consent = prompt == "consent" && !progress.consented;
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
                claims: claims.raw.clone(),
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
