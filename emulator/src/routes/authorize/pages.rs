//! The sign-in pages, as Entra shows them (username, then password; labelled inputs): the MFA
//! page, the consent page, the account picker, and the error page.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use super::super::esc;
use crate::{
    errors::{AadError, entra_timestamp},
    well_known::MFA_CODE,
};

pub(super) fn error_page(status: StatusCode, e: &AadError) -> Response {
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

pub(super) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><link rel=\"icon\" href=\"data:,\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0 .3rem}}input{{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem}}button{{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}}[role=alert]{{color:#a80000}}</style></head><body><main><p><strong>Microsoft Entra ID emulator</strong></p>{body}</main></body></html>",
        esc(title)
    ))
}

pub(super) fn form(seg: &str, txn: &str, step: &str, inner: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/{}/oauth2/v2.0/authorize\"><input type=\"hidden\" name=\"_txn\" value=\"{}\"><input type=\"hidden\" name=\"_step\" value=\"{step}\">{inner}</form>",
        esc(seg),
        esc(txn)
    )
}

pub(super) fn alert(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p role=\"alert\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default()
}

pub(super) fn username_page(seg: &str, txn: &str, hint: &str, error: Option<&str>) -> Response {
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

pub(super) fn password_page(seg: &str, txn: &str, username: &str, error: Option<&str>) -> Response {
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
pub(super) fn account_picker_page(seg: &str, txn: &str, user: &crate::world::User) -> Response {
    let inner = format!(
        "<h1>Pick an account</h1><ul id=\"accounts\"><li><button type=\"submit\" name=\"account\" value=\"{}\" id=\"signed-in-account\"><span class=\"name\">{}</span> <span class=\"upn\">{}</span> <span>Signed in</span></button></li></ul><button type=\"submit\" name=\"account\" value=\"other\" id=\"use-another-account\">Use another account</button>",
        esc(&user.id),
        esc(&user.display_name),
        esc(&user.user_principal_name)
    );
    page("Pick an account", &form(seg, txn, "select_account", &inner)).into_response()
}

pub(super) fn mfa_page(seg: &str, txn: &str, error: Option<&str>) -> Response {
    let inner = format!(
        "<h1>Enter code</h1><p>Enter the code displayed in your authenticator app (the emulator's code is {MFA_CODE}).</p>{}<label for=\"otc\">Code</label><input id=\"otc\" name=\"otc\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required autofocus><button type=\"submit\" id=\"verify\">Verify</button>",
        alert(error)
    );
    page("Enter code", &form(seg, txn, "mfa", &inner)).into_response()
}

pub(super) fn consent_page(
    seg: &str,
    txn: &str,
    app: &str,
    upn: &str,
    scopes: &[String],
) -> Response {
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

/// Entra's "Need admin approval" page: the sign-in asks for permissions only an administrator
/// may grant here. Its one way on is back to the app without them.
pub(super) fn admin_approval_page(seg: &str, txn: &str, app: &str) -> Response {
    let inner = format!(
        "<h1>Need admin approval</h1><p id=\"error\" role=\"alert\">{} needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.</p><button type=\"submit\" id=\"return\">Return to the application without granting consent</button>",
        esc(app)
    );
    page(
        "Need admin approval",
        &form(seg, txn, "admin_approval", &inner),
    )
    .into_response()
}
