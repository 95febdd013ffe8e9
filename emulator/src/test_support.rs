//! A browser for tests: walks the emulator's sign-in pages as a person would (user name,
//! password, the MFA code, consent accepted), for the tests of this crate and of apps that
//! sign in through it; and, in [`forge`], the keys and hand-made tokens their validators'
//! tests need. Behind the `test-support` feature.

pub mod forge;

use crate::well_known::{MFA_CODE, USER_PASSWORD};

/// The value of a hidden form field on one of the emulator's pages.
///
/// # Panics
/// When the page has no such field (the test is on another page than it thinks).
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated {name} in {html}"));
    html[start..start + end].to_owned()
}

/// The claims request (JSON text) a `WWW-Authenticate` claims challenge carries in its quoted,
/// standard-base64 `claims` (as this crate's Graph and the Weather API write it).
///
/// # Panics
/// When the header has no such `claims`.
pub fn challenge_claims(www_authenticate: &str) -> String {
    use base64::Engine as _;
    let encoded = www_authenticate
        .split("claims=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no claims in {www_authenticate}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("claims not base64 ({e}): {www_authenticate}"));
    String::from_utf8(bytes).expect("claims are UTF-8")
}

/// The form a person sends from this page as `upn`: the page's transaction and step, and its
/// answer (accept, for consent; back to the app, on the admin-approval page).
///
/// # Panics
/// On a page that is not a sign-in step.
pub fn answer(html: &str, upn: &str) -> Vec<(&'static str, String)> {
    let step = hidden(html, "_step");
    let mut form = vec![("_txn", hidden(html, "_txn")), ("_step", step.clone())];
    match step.as_str() {
        "username" => form.push(("username", upn.to_owned())),
        "password" => {
            form.push(("username", upn.to_owned()));
            form.push(("password", USER_PASSWORD.to_owned()));
        }
        "mfa" => form.push(("otc", MFA_CODE.to_owned())),
        "consent" => form.push(("consent", "accept".to_owned())),
        "admin_approval" => {}
        other => panic!("unexpected emulator page {other}: {html}"),
    }
    form
}

/// From an authorize URL, answers the emulator's pages in `client` (which keeps the
/// emulator's cookie) until the emulator answers something else than a page: the redirect to
/// the app, usually. Every page seen is pushed to `seen`.
///
/// # Panics
/// When a request fails, or after six pages (a loop).
pub async fn walk(
    client: &reqwest::Client,
    authorize: &str,
    upn: &str,
    seen: &mut Vec<String>,
) -> reqwest::Response {
    let action = authorize.split('?').next().unwrap_or(authorize).to_owned();
    let mut response = client.get(authorize).send().await.expect("authorize");
    for _ in 0..6 {
        if response.status() != reqwest::StatusCode::OK {
            return response;
        }
        let html = response.text().await.expect("a page");
        let form = answer(&html, upn);
        seen.push(html);
        response = client
            .post(&action)
            .form(&form)
            .send()
            .await
            .expect("a page's answer");
    }
    response
}
