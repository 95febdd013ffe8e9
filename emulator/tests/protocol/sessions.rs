//! The sign-in session a browser keeps: wrong user name or password said on the page, the
//! account picker of `prompt=select_account`, the `login_hint` claim and `logout_hint`, and
//! logout with its `post_logout_redirect_uri` check.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};

/// The page answering an unknown user name on a new sign-in in `browser`.
async fn after_a_wrong_username(browser: &Browser<'_>) -> String {
    let html = browser.page(&[]).await;
    let nobody = [("username", "nobody@contoso.onmicrosoft.com")];
    browser.submit_for_page(&html, "username", &nobody).await
}

#[tokio::test]
async fn a_wrong_username_is_said_on_the_page() {
    let emu = start().await;
    let html = after_a_wrong_username(&Browser::new(&emu)).await;
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("This username may be incorrect"), "{html}");
}

#[tokio::test]
async fn after_a_wrong_username_the_same_sign_in_goes_on_with_the_right_one() {
    let emu = start().await;
    let browser = Browser::new(&emu);
    let html = after_a_wrong_username(&browser).await;
    let adele = [("username", wk::ADELE)];
    let html = browser.submit_for_page(&html, "username", &adele).await;
    let wrong = [("username", wk::ADELE), ("password", "nope")];
    let html = browser.submit_for_page(&html, "password", &wrong).await;
    assert!(
        html.contains("Your account or password is incorrect"),
        "{html}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_said_on_the_page() {
    let emu = start().await;
    let browser = Browser::new(&emu);
    let html = browser.page(&[]).await;
    let wrong = [("username", wk::ADELE), ("password", "nope")];
    let html = browser.submit_for_page(&html, "password", &wrong).await;
    assert!(
        html.contains("Your account or password is incorrect"),
        "{html}"
    );
}

/// The account picker that `prompt=select_account` shows in `browser`.
async fn account_picker(browser: &Browser<'_>) -> String {
    browser.page(&[("prompt", "select_account")]).await
}

#[tokio::test]
async fn select_account_with_a_session_shows_an_account_picker() {
    let emu = start().await;
    let html = account_picker(&Browser::signed_in(&emu, wk::ADELE).await).await;
    assert!(html.contains("Pick an account"), "{html}");
    for part in [
        wk::ADELE,
        "id=\"signed-in-account\"",
        "id=\"use-another-account\"",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(!html.contains("id=\"password\"") && !html.contains("id=\"username\""));
}

#[tokio::test]
async fn choosing_the_signed_in_account_continues_without_a_password() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let html = account_picker(&browser).await;
    let chosen = [("account", wk::ADELE_OID)];
    let r = browser.submit(&html, "select_account", &chosen).await;
    let b = redeem(&emu, &location_params(&r)["code"]).await.success();
    assert_eq!(claims(access_token(&b))["oid"], wk::ADELE_OID);
}

#[tokio::test]
async fn use_another_account_goes_to_the_sign_in_pages_and_that_account_gets_the_code() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let html = account_picker(&browser).await;
    let other = [("account", "other")];
    let html = browser
        .submit_for_page(&html, "select_account", &other)
        .await;
    let r = browser.enter_credentials(&html, wk::MEGAN).await;
    let b = redeem(&emu, &location_params(&r)["code"]).await.success();
    assert_eq!(claims(access_token(&b))["oid"], wk::MEGAN_OID);
}

#[tokio::test]
async fn select_account_without_a_session_is_the_sign_in_page() {
    let emu = start().await;
    let html = Browser::new(&emu)
        .page(&[("prompt", "select_account")])
        .await;
    assert!(html.contains("<label for=\"username\">"), "{html}");
}

/// The `login_hint` claim of Adele's ID token from a sign-in in `browser`.
async fn login_hint_claim(emu: &RunningEmulator, browser: &Browser<'_>) -> String {
    let q = browser.sign_in_back(wk::ADELE, &[]).await;
    let b = redeem(emu, &q["code"]).await.success();
    let id = claims(id_token(&b));
    id["login_hint"]
        .as_str()
        .expect("the web app lists login_hint under optionalClaims.idToken")
        .to_owned()
}

/// A password grant's ID token for Adele: its claims.
async fn adeles_id_token_claims(emu: &RunningEmulator) -> serde_json::Value {
    let scope = format!("{} openid", wk::WEB_APP_SCOPE);
    claims(id_token(&password(emu, wk::ADELE, &scope).await.success()))
}

#[tokio::test]
async fn the_login_hint_claim_is_opaque_and_stable_per_user() {
    let emu = start().await;
    let hint = login_hint_claim(&emu, &Browser::new(&emu)).await;
    assert!(!hint.contains(wk::ADELE), "opaque, not the UPN: {hint}");
    let again = adeles_id_token_claims(&emu).await;
    assert_eq!(again["login_hint"], hint.as_str(), "stable per user");
}

#[tokio::test]
async fn the_login_hint_claim_as_a_login_hint_at_authorize_names_the_user() {
    let emu = start().await;
    let hint = login_hint_claim(&emu, &Browser::new(&emu)).await;
    let html = Browser::new(&emu).page(&[("login_hint", &hint)]).await;
    let prefilled = format!("value=\"{}\"", wk::ADELE);
    assert!(html.contains(&prefilled), "{html}");
}

/// The web app's logout in `browser` at tenant segment `seg`: back to `redirect` (with the
/// client id) if any, with `extra` parameters.
async fn log_out(
    browser: &Browser<'_>,
    seg: &str,
    redirect: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let url = format!("{}/oauth2/v2.0/logout", browser.emulator().authority(seg));
    let mut query = vec![];
    if let Some(uri) = redirect {
        query.extend([
            ("post_logout_redirect_uri", uri),
            ("client_id", wk::WEB_APP_CLIENT_ID),
        ]);
    }
    query.extend_from_slice(extra);
    browser.client.get(url).query(&query).send().await.unwrap()
}

#[tokio::test]
async fn logout_hint_signs_that_account_out_without_a_picker() {
    let emu = start().await;
    let browser = Browser::new(&emu);
    let hint = login_hint_claim(&emu, &browser).await;
    let r = log_out(
        &browser,
        "common",
        Some(REDIRECT),
        &[("logout_hint", &hint)],
    )
    .await;
    assert_eq!(r.status(), 302);
    let q = browser.back(&[("prompt", "none")]).await;
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn an_app_without_optional_claims_gets_no_login_hint_claim() {
    let mut world = emulator::World::well_known();
    for a in world
        .tenants
        .iter_mut()
        .flat_map(|t| t.applications.iter_mut())
    {
        a.optional_claims = Default::default();
    }
    let emu = start_with(world).await;
    assert!(
        adeles_id_token_claims(&emu)
            .await
            .get("login_hint")
            .is_none()
    );
}

#[tokio::test]
async fn logout_to_an_unregistered_post_logout_redirect_uri_is_400() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let r = log_out(&browser, wk::TENANT_ID, Some("https://evil.example/"), &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(emu.stats().logout, 1);
}

#[tokio::test]
async fn logout_goes_back_to_the_registered_post_logout_redirect_uri_with_the_state() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let r = log_out(&browser, wk::TENANT_ID, Some(REDIRECT), &[("state", "bye")]).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], format!("{REDIRECT}?state=bye"));
}

#[tokio::test]
async fn after_logout_the_session_is_gone_and_prompt_none_is_login_required() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    log_out(&browser, wk::TENANT_ID, Some(REDIRECT), &[]).await;
    let q = browser.back(&[("prompt", "none")]).await;
    assert_eq!(q["error"], "login_required", "{q:?}");
}

#[tokio::test]
async fn logout_without_a_redirect_uri_says_you_signed_out() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let html = text(log_out(&browser, wk::TENANT_ID, None, &[]).await).await;
    assert!(html.contains("You signed out"), "{html}");
}
