//! The answers to the sign-in pages, one function per page: the user name, the password,
//! the account picker, the MFA code, the consent. Each records what it established in the
//! pending sign-in's [`SignInProgress`] and moves the sign-in forward ([`super::advance`]).

use axum::{
    http::{HeaderMap, StatusCode},
    response::Response,
};

use super::{
    super::{TenantSeg, pick_tenant, tenant_seg, unknown_tenant},
    advance, load_session, load_txn,
    pages::{error_page, mfa_page, password_page, username_page},
    record_consent,
    request::{AuthorizeRequest, app_not_found, redirect_error, resolve_tenant, respond},
    save_txn, txn_session,
};
use crate::{
    errors::AadError,
    keys::now,
    params::Params,
    sign_in::AuthFacts,
    state::{Session, Shared, SignInProgress},
    well_known::MFA_CODE,
    world::{User, World},
};

/// The page a form was posted from (its `_step` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Username,
    Password,
    SelectAccount,
    Mfa,
    Consent,
    /// The "Need admin approval" page's way back to the app.
    AdminApproval,
}

impl Step {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "username" => Some(Self::Username),
            "password" => Some(Self::Password),
            "select_account" => Some(Self::SelectAccount),
            "mfa" => Some(Self::Mfa),
            "consent" => Some(Self::Consent),
            "admin_approval" => Some(Self::AdminApproval),
            _ => None,
        }
    }
}

/// The password that signs `user` in: a guest's is its home account's (a guest proves who it
/// is at home), a member's its own.
fn password_of<'w>(world: &'w World, user: &'w User) -> &'w str {
    user.home_tenant_id
        .as_deref()
        .zip(user.home_object_id.as_deref())
        .and_then(|(t, o)| world.user(t, o))
        .map_or(&user.password, |home| &home.password)
}

/// A pending sign-in as a page's answer finds it.
struct Pending<'a> {
    st: &'a Shared,
    headers: &'a HeaderMap,
    txn: String,
    request: Params,
    progress: SignInProgress,
}

impl Pending<'_> {
    fn seg(&self) -> &str {
        &self.progress.seg
    }

    fn save(&self) {
        save_txn(self.st, &self.txn, &self.progress);
    }

    fn advance(&self, new_session: Option<String>) -> Response {
        advance(self.st, self.headers, &self.txn, new_session)
    }
}

/// Handles a POST from one of the pages.
pub(super) fn answer(st: &Shared, headers: &HeaderMap, form: &Params) -> Response {
    let txn = form.get("_txn").unwrap_or_default().to_string();
    let Some((request, progress)) = load_txn(st, &txn) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(
                90011,
                "The sign-in request expired or is unknown. Start again.",
            ),
        );
    };
    let pending = Pending {
        st,
        headers,
        txn,
        request,
        progress,
    };
    match form.get("_step").and_then(Step::parse) {
        Some(Step::Username) => username(pending, form.get("username").unwrap_or_default()),
        Some(Step::Password) => password(
            pending,
            form.get("username").unwrap_or_default(),
            form.get("password").unwrap_or_default(),
        ),
        Some(Step::SelectAccount) => {
            select_account(pending, form.get("account").unwrap_or_default())
        }
        Some(Step::Mfa) => mfa(pending, form.get("otc")),
        Some(Step::Consent) => consent(pending, form.get("consent") == Some("accept")),
        Some(Step::AdminApproval) => back_without_consent(pending),
        None => error_page(
            StatusCode::BAD_REQUEST,
            &AadError::request(900144, "Unknown sign-in step."),
        ),
    }
}

fn username(mut pending: Pending<'_>, username: &str) -> Response {
    let st = pending.st;
    let world = st.world.read().expect("world lock");
    let seg = pending.seg().to_owned();
    // On an alias, the name's domain picks the tenant (home realm discovery).
    let on_alias = matches!(tenant_seg(&world, &seg), Ok(TenantSeg::Alias(_)));
    let tenant = if on_alias {
        pick_tenant(&world, &[Some(username)])
    } else {
        resolve_tenant(
            &world,
            &seg,
            &pending.request,
            pending.progress.tenant.as_deref(),
        )
        .ok()
    };
    let known = tenant.filter(|t| t.sign_in_user(username, on_alias).is_some());
    if let Some(t) = known
        && on_alias
    {
        pending.progress.tenant = Some(t.id.clone());
        pending.save();
    }
    if known.is_some() {
        password_page(&seg, &pending.txn, username, None)
    } else {
        username_page(
            &seg,
            &pending.txn,
            username,
            Some(
                "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.",
            ),
        )
    }
}

fn password(mut pending: Pending<'_>, username: &str, password: &str) -> Response {
    let st = pending.st;
    let (oid, tid) = {
        let world = st.world.read().expect("world lock");
        let on_alias = matches!(tenant_seg(&world, pending.seg()), Ok(TenantSeg::Alias(_)));
        let t = resolve_tenant(
            &world,
            pending.seg(),
            &pending.request,
            pending.progress.tenant.as_deref(),
        )
        .ok();
        match t.and_then(|t| t.sign_in_user(username, on_alias).map(|u| (u, t))) {
            Some((u, t))
                if crate::client_auth::secret_matches(password, password_of(&world, u)) =>
            {
                (u.id.clone(), t.id.clone())
            }
            _ => {
                return password_page(
                    pending.seg(),
                    &pending.txn,
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
    pending.progress.identified_here = true;
    pending.progress.sid = Some(sid.clone());
    pending.save();
    pending.advance(Some(sid))
}

fn select_account(mut pending: Pending<'_>, picked: &str) -> Response {
    if picked == "other" {
        return username_page(pending.seg(), &pending.txn, "", None);
    }
    // The picked account must still be the session's; otherwise (signed out in the
    // meantime) the sign-in starts over from what the session now says.
    let session =
        txn_session(pending.headers, &pending.progress).and_then(|s| load_session(pending.st, &s));
    if session.is_some_and(|s| s.oid.eq_ignore_ascii_case(picked)) {
        pending.progress.identified_here = true;
        pending.save();
    }
    pending.advance(None)
}

fn mfa(pending: Pending<'_>, code: Option<&str>) -> Response {
    if code != Some(MFA_CODE) {
        return mfa_page(
            pending.seg(),
            &pending.txn,
            Some("You didn't enter the expected verification code. Please try again."),
        );
    }
    if let Some(sid) = txn_session(pending.headers, &pending.progress)
        && let Some(s) = pending
            .st
            .store
            .lock()
            .expect("store lock")
            .session(&sid, now())
        && !s.auth.has_mfa()
    {
        s.auth.amr.push("mfa".into());
    }
    pending.advance(None)
}

/// The "Need admin approval" page's *Return to the application without granting consent*:
/// `access_denied` with `error_subcode=cancel` and no AADSTS code, the shape public threads
/// report (xorbitsai/xagent#2510).
fn back_without_consent(pending: Pending<'_>) -> Response {
    back_to_app(pending, |req| {
        let mut fields = vec![
            ("error".to_string(), "access_denied".to_string()),
            ("error_subcode".to_string(), "cancel".to_string()),
        ];
        if let Some(s) = &req.state {
            fields.push(("state".into(), s.clone()));
        }
        respond(req, fields)
    })
}

/// Ends the pending sign-in and answers the app at its redirect URI with `answer`.
fn back_to_app(
    pending: Pending<'_>,
    answer: impl FnOnce(&AuthorizeRequest) -> Response,
) -> Response {
    let st = pending.st;
    let world = st.world.read().expect("world lock");
    let Ok(tenant) = resolve_tenant(
        &world,
        pending.seg(),
        &pending.request,
        pending.progress.tenant.as_deref(),
    ) else {
        return error_page(StatusCode::BAD_REQUEST, &unknown_tenant(pending.seg()));
    };
    let client_id = pending.request.get("client_id").unwrap_or_default();
    let Some(app) = tenant.app(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &app_not_found(client_id, tenant.domain()),
        );
    };
    st.store
        .lock()
        .expect("store lock")
        .txns
        .remove(&pending.txn);
    answer(&AuthorizeRequest::of(app, &pending.request))
}

fn consent(mut pending: Pending<'_>, accepted: bool) -> Response {
    let st = pending.st;
    if !accepted {
        return back_to_app(pending, |req| {
            redirect_error(
                req,
                &AadError::new(
                    65004,
                    "access_denied",
                    "User declined to consent to access the app.",
                ),
            )
        });
    }
    record_consent(st, pending.headers, &pending.request, &pending.progress);
    pending.progress.consented = true;
    pending.save();
    pending.advance(None)
}
