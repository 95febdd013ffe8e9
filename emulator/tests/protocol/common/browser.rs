//! The sign-in pages (authorization code with PKCE): `/authorize` URLs, a [`Browser`] that
//! walks the pages, and code redemption.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use emulator::{RunningEmulator, well_known as wk};
use reqwest::{Client, Response};

use super::{Reply, client, hidden, sign_in_scope, text, web_app_grant_at};

/// The web app's redirect URI.
pub const REDIRECT: &str = "http://localhost:3000/auth/callback";
/// The PKCE verifier of every default `/authorize` request.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The S256 PKCE challenge of verifier `v`.
pub fn challenge(v: &str) -> String {
    URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(v.as_bytes()))
}

/// The query of a URL.
pub type Params = HashMap<String, String>;

/// `defaults` but those that `overrides` names, then `overrides`.
fn with_overrides<'a>(
    defaults: &[(&'a str, &'a str)],
    overrides: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let overridden = |(k, _): &&(&str, &str)| overrides.iter().any(|(o, _)| o == k);
    let kept = defaults.iter().filter(|p| !overridden(p));
    kept.chain(overrides).copied().collect()
}

/// The web app's `/authorize` URL on tenant segment `seg`; `extra` overrides or adds parameters.
pub fn authorize_url_at(emu: &RunningEmulator, seg: &str, extra: &[(&str, &str)]) -> String {
    let (scope, challenge) = (sign_in_scope(), challenge(VERIFIER));
    let defaults = [
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge_method", "S256"),
        ("client_info", "1"),
        ("scope", &scope),
        ("code_challenge", &challenge),
    ];
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(with_overrides(&defaults, extra))
        .finish();
    format!("{}/oauth2/v2.0/authorize?{query}", emu.authority(seg))
}

/// The query of a redirect to the app.
#[track_caller]
pub fn location_params(r: &Response) -> Params {
    assert_eq!(r.status(), 302, "expected a redirect");
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with("http://localhost:"), "{loc}");
    let u = url::Url::parse(loc).unwrap();
    u.query_pairs().into_owned().collect()
}

/// Asserts a redirect back to the app with this `error`, its description beginning with
/// `prefix`.
#[track_caller]
pub fn assert_error_back(q: &Params, error: &str, prefix: &str) {
    assert_eq!(q["error"], error, "{q:?}");
    assert!(q["error_description"].starts_with(prefix), "{q:?}");
}

/// A browser on the emulator's sign-in pages for the web app, at one tenant segment: it keeps
/// the session cookie and follows no redirect, so a test sees each page and the way back.
pub struct Browser<'e> {
    pub client: Client,
    emu: &'e RunningEmulator,
    seg: &'e str,
}

impl<'e> Browser<'e> {
    /// A browser without a session, at the built-in tenant's GUID.
    pub fn new(emu: &'e RunningEmulator) -> Self {
        Self::at(emu, wk::TENANT_ID)
    }

    /// A browser without a session, at tenant segment `seg` (e.g. `common`).
    pub fn at(emu: &'e RunningEmulator, seg: &'e str) -> Self {
        Self {
            client: client(),
            emu,
            seg,
        }
    }

    /// A browser where `upn` signed in (the session cookie set), at the built-in tenant's GUID.
    pub async fn signed_in(emu: &'e RunningEmulator, upn: &str) -> Self {
        let browser = Self::new(emu);
        browser.sign_in_back(upn, &[]).await;
        browser
    }

    /// The emulator this browser speaks to.
    pub fn emulator(&self) -> &'e RunningEmulator {
        self.emu
    }

    /// GETs `/authorize` with `extra` over the default parameters.
    pub async fn authorize(&self, extra: &[(&str, &str)]) -> Response {
        let url = authorize_url_at(self.emu, self.seg, extra);
        self.client.get(url).send().await.unwrap()
    }

    /// GETs `/authorize` and expects a page: its HTML.
    pub async fn page(&self, extra: &[(&str, &str)]) -> String {
        let r = self.authorize(extra).await;
        assert_eq!(r.status(), 200);
        text(r).await
    }

    /// GETs `/authorize` and expects a redirect back to the app: its query.
    pub async fn back(&self, extra: &[(&str, &str)]) -> Params {
        location_params(&self.authorize(extra).await)
    }

    /// Answers the page `html` (its transaction) at step `step` with `fields`.
    pub async fn submit(&self, html: &str, step: &str, fields: &[(&str, &str)]) -> Response {
        let txn = hidden(html, "_txn");
        let mut form = vec![("_txn", txn.as_str()), ("_step", step)];
        form.extend_from_slice(fields);
        let url = format!("{}/oauth2/v2.0/authorize", self.emu.authority(self.seg));
        self.client.post(url).form(&form).send().await.unwrap()
    }

    /// Answers the page `html` at step `step` with `fields` and expects another page: its HTML.
    pub async fn submit_for_page(&self, html: &str, step: &str, fields: &[(&str, &str)]) -> String {
        text(self.submit(html, step, fields).await).await
    }

    /// Answers the consent page `html`: `accept` or `decline`.
    pub async fn consent(&self, html: &str, answer: &str) -> Response {
        self.submit(html, "consent", &[("consent", answer)]).await
    }

    /// On the user-name page `html`, `upn` then the password; the response after the password
    /// (the redirect back, or the MFA or consent page).
    pub async fn enter_credentials(&self, html: &str, upn: &str) -> Response {
        assert!(html.contains("<label for=\"username\">"), "{html}");
        let html = self
            .submit_for_page(html, "username", &[("username", upn)])
            .await;
        assert!(
            html.contains("<label for=\"password\">Password</label>"),
            "{html}"
        );
        let fields = [("username", upn), ("password", wk::USER_PASSWORD)];
        self.submit(&html, "password", &fields).await
    }

    /// Signs `upn` in at `/authorize` with `extra`; the response after the password.
    pub async fn sign_in(&self, upn: &str, extra: &[(&str, &str)]) -> Response {
        let html = self.page(extra).await;
        self.enter_credentials(&html, upn).await
    }

    /// Signs `upn` in and expects another page after the password (MFA, consent): its HTML.
    pub async fn sign_in_to_page(&self, upn: &str, extra: &[(&str, &str)]) -> String {
        let r = self.sign_in(upn, extra).await;
        assert_eq!(r.status(), 200);
        text(r).await
    }

    /// Signs `upn` in and expects the redirect back to the app: its query.
    pub async fn sign_in_back(&self, upn: &str, extra: &[(&str, &str)]) -> Params {
        location_params(&self.sign_in(upn, extra).await)
    }
}

/// Redeems `code` (from [`REDIRECT`] with [`VERIFIER`]) on the built-in tenant for
/// [`sign_in_scope`].
pub async fn redeem(emu: &RunningEmulator, code: &str) -> Reply {
    redeem_with(emu, wk::TENANT_ID, code, &[]).await
}

/// Redeems `code` on tenant segment `seg` with `overrides` over the default parameters
/// (redirect URI, verifier, scope).
pub async fn redeem_with(
    emu: &RunningEmulator,
    seg: &str,
    code: &str,
    overrides: &[(&str, &str)],
) -> Reply {
    let scope = sign_in_scope();
    let defaults = [
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("scope", &scope),
        ("client_info", "1"),
    ];
    let form = with_overrides(&defaults, overrides);
    web_app_grant_at(emu, seg, "authorization_code", &form).await
}

/// Signs `upn` in through the pages on the built-in tenant asking for `scope`: the code.
pub async fn code_for(emu: &RunningEmulator, upn: &str, scope: &str) -> String {
    let q = Browser::new(emu)
        .sign_in_back(upn, &[("scope", scope)])
        .await;
    q["code"].clone()
}

/// Signs `upn` in through the pages on `seg` asking for `scope` and redeems the code there.
pub async fn sign_in_and_redeem(emu: &RunningEmulator, seg: &str, upn: &str, scope: &str) -> Reply {
    let q = Browser::at(emu, seg)
        .sign_in_back(upn, &[("scope", scope)])
        .await;
    redeem_with(emu, seg, &q["code"], &[("scope", scope)]).await
}
