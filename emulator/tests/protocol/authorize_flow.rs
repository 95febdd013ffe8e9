//! The authorization-code flow with PKCE, driven over HTTP with a cookie jar and no redirect
//! following: the way back with code and state, redemption, single sign-on and prompts,
//! response modes, single-tenant apps on aliases, and each error at `/authorize` or redemption.

use crate::common::*;
use emulator::{RunningEmulator, World, well_known as wk};

/// axum answers HEAD with the GET handler: the query must be read for it as for a GET.
#[tokio::test]
async fn a_head_request_to_authorize_reads_the_query_as_a_get_does() {
    let emu = start().await;
    let url = authorize_url_at(&emu, wk::TENANT_ID, &[]);
    let get = client().get(&url).send().await.unwrap();
    let head = client().head(&url).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(head.status(), get.status());
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_and_sends_the_code_state_and_client_info_back() {
    let emu = start().await;
    let r = Browser::new(&emu).sign_in(wk::ADELE, &[]).await;
    assert!(
        r.headers().get("set-cookie").is_some(),
        "session cookie set"
    );
    let q = location_params(&r);
    assert_eq!(q["state"], "st-123");
    assert!(
        q.contains_key("code") && q.contains_key("client_info"),
        "{q:?}"
    );
}

/// Adele's sign-in through the pages, the code redeemed: the token response.
async fn adeles_code_redeemed(emu: &RunningEmulator) -> serde_json::Value {
    let q = Browser::new(emu).sign_in_back(wk::ADELE, &[]).await;
    redeem(emu, &q["code"]).await.success()
}

#[tokio::test]
async fn a_redeemed_code_gives_an_id_token_with_the_nonce_of_the_request() {
    let emu = start().await;
    let b = adeles_code_redeemed(&emu).await;
    let id = verified_v2(&emu, id_token(&b), wk::WEB_APP_CLIENT_ID).await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["preferred_username"], wk::ADELE);
}

#[tokio::test]
async fn the_access_token_of_a_code_is_the_right_obo_assertion() {
    let emu = start().await;
    let b = adeles_code_redeemed(&emu).await;
    let r = obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE).await;
    r.success();
}

#[tokio::test]
async fn a_code_is_good_for_one_redemption_then_54005() {
    let emu = start().await;
    let q = Browser::new(&emu).sign_in_back(wk::ADELE, &[]).await;
    redeem(&emu, &q["code"]).await.success();
    let again = redeem(&emu, &q["code"]).await;
    again.aadsts(400, "invalid_grant", 54005);
    assert_eq!(emu.stats().authorization_code, 2);
}

#[tokio::test]
async fn with_a_session_prompt_none_goes_straight_back_with_a_code() {
    let emu = start().await;
    let q = Browser::signed_in(&emu, wk::ADELE)
        .await
        .back(&[("prompt", "none")])
        .await;
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(
        emu.stats().authorize,
        4,
        "three sign-in requests and this one"
    );
}

#[tokio::test]
async fn with_a_session_prompt_login_shows_the_sign_in_page_again() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let html = browser.page(&[("prompt", "login")]).await;
    assert!(html.contains("id=\"username\""), "{html}");
}

#[tokio::test]
async fn with_a_session_a_login_hint_for_another_user_asks_that_user_to_sign_in() {
    let emu = start().await;
    let html = Browser::signed_in(&emu, wk::ADELE)
        .await
        .page(&[("login_hint", wk::ALEX)])
        .await;
    let prefilled = format!("value=\"{}\"", wk::ALEX);
    assert!(html.contains(&prefilled), "prefilled: {html}");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_501481_and_spends_the_code() {
    let emu = start().await;
    let q = Browser::new(&emu).sign_in_back(wk::ADELE, &[]).await;
    let wrong = [(
        "code_verifier",
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )];
    let r = redeem_with(&emu, wk::TENANT_ID, &q["code"], &wrong).await;
    r.aadsts(400, "invalid_grant", 501481);
    let spent = redeem(&emu, &q["code"]).await;
    spent.aadsts(400, "invalid_grant", 54005);
}

#[tokio::test]
async fn a_redirect_uri_other_than_the_one_at_authorize_is_500112() {
    let emu = start().await;
    let q = Browser::new(&emu).sign_in_back(wk::ADELE, &[]).await;
    let other = [("redirect_uri", "http://127.0.0.1:3000/auth/callback")];
    let r = redeem_with(&emu, wk::TENANT_ID, &q["code"], &other).await;
    r.aadsts(400, "invalid_grant", 500112);
}

#[tokio::test]
async fn an_expired_code_is_70008() {
    let emu = start().await;
    expire_after_one_second(&emu, |l| &mut l.code);
    let q = Browser::new(&emu).sign_in_back(wk::ADELE, &[]).await;
    wait_past_one_second().await;
    let r = redeem(&emu, &q["code"]).await;
    r.aadsts(400, "invalid_grant", 70008);
}

refused! {
    an_unknown_code_is_9002313: |emu| redeem(emu, "1.nope") => 400 "invalid_grant" 9002313;
}

#[tokio::test]
async fn a_redemption_without_the_pkce_verifier_is_900144() {
    let emu = start().await;
    let q = Browser::new(&emu).sign_in_back(wk::ADELE, &[]).await;
    let params = [("code", q["code"].as_str()), ("redirect_uri", REDIRECT)];
    let r = web_app_grant(&emu, "authorization_code", &params).await;
    r.aadsts(400, "invalid_request", 900144);
}

/// `/authorize` with `extra`, refused on a page of its own (it cannot trust the way back).
async fn refused_on_a_page(extra: &[(&str, &str)]) -> String {
    let emu = start().await;
    let r = Browser::new(&emu).authorize(extra).await;
    assert_eq!(r.status(), 400);
    text(r).await
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_refused_on_a_page_with_50011() {
    let html = refused_on_a_page(&[("redirect_uri", "https://evil.example/cb")]).await;
    assert!(html.contains("AADSTS50011"), "{html}");
}

#[tokio::test]
async fn an_unknown_client_id_is_refused_on_a_page_with_700016() {
    let html = refused_on_a_page(&[("client_id", "11111111-2222-3333-4444-555555555555")]).await;
    assert!(html.contains("AADSTS700016"), "{html}");
}

#[tokio::test]
async fn prompt_none_without_a_session_goes_back_with_login_required_50058() {
    let emu = start().await;
    let q = Browser::new(&emu).back(&[("prompt", "none")]).await;
    assert_error_back(&q, "login_required", "AADSTS50058: ");
    assert_eq!(q["state"], "st-123");
    assert!(q["error_uri"].ends_with("code=50058"), "{q:?}");
}

/// Access tokens from `/authorize` are a switch of the registration, off here.
#[tokio::test]
async fn response_type_token_goes_back_unsupported_with_700051() {
    let emu = start().await;
    let q = Browser::new(&emu).back(&[("response_type", "token")]).await;
    let message = "AADSTS700051: response_type 'token' is not enabled for the application.";
    assert_error_back(&q, "unsupported_response_type", message);
}

#[tokio::test]
async fn response_type_id_token_without_implicit_id_tokens_goes_back_with_700054() {
    let emu = start().await;
    let browser = Browser::new(&emu);
    let message = "AADSTS700054: response_type 'id_token' is not enabled for the application.";
    for response_type in ["id_token", "code id_token", "id_token token"] {
        let q = browser.back(&[("response_type", response_type)]).await;
        assert_error_back(&q, "unsupported_response_type", message);
    }
}

#[tokio::test]
async fn a_scope_of_an_unknown_resource_at_authorize_goes_back_with_invalid_resource() {
    let emu = start().await;
    let q = Browser::new(&emu).back(&[("scope", "api://nope/x")]).await;
    assert_eq!(q["error"], "invalid_resource", "{q:?}");
}

/// MSAL's `extraScopesToConsent` mistake: `.default` next to another resource's scope.
#[tokio::test]
async fn dot_default_next_to_another_resources_scope_goes_back_with_70011() {
    let emu = start().await;
    let mixed = format!(
        "openid {} https://graph.microsoft.com/.default",
        wk::WEB_APP_SCOPE
    );
    let q = Browser::new(&emu).back(&[("scope", &mixed)]).await;
    assert_error_back(&q, "invalid_scope", "AADSTS70011: ");
    assert!(
        q["error_description"].contains(".default scope can't be combined"),
        "{q:?}"
    );
}

#[tokio::test]
async fn a_loopback_redirect_uri_may_use_any_port() {
    let emu = start().await;
    let other = "http://localhost:4567/auth/callback";
    let browser = Browser::new(&emu);
    let q = browser
        .sign_in_back(wk::ADELE, &[("redirect_uri", other)])
        .await;
    let r = redeem_with(&emu, wk::TENANT_ID, &q["code"], &[("redirect_uri", other)]).await;
    r.success();
}

#[tokio::test]
async fn response_mode_form_post_posts_the_code_and_state_to_the_redirect_uri() {
    let emu = start().await;
    let form_post = [("prompt", "none"), ("response_mode", "form_post")];
    let html = Browser::signed_in(&emu, wk::ADELE)
        .await
        .page(&form_post)
        .await;
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    assert_eq!(hidden(&html, "state"), "st-123");
    redeem(&emu, &hidden(&html, "code")).await.success();
}

#[tokio::test]
async fn response_mode_fragment_puts_the_code_in_the_fragment() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    let r = browser
        .authorize(&[("prompt", "none"), ("response_mode", "fragment")])
        .await;
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.contains("#code="), "{location}");
}

/// The built-in world with the web app single-tenant (`AzureADMyOrg`).
fn world_with_a_single_tenant_web_app() -> World {
    world_with_app(wk::WEB_APP_CLIENT_ID, |a| {
        a.sign_in_audience = "AzureADMyOrg".into();
    })
}

#[tokio::test]
async fn a_single_tenant_app_signing_in_at_common_or_organizations_goes_back_with_50194() {
    let emu = start_with(world_with_a_single_tenant_web_app()).await;
    let id = wk::WEB_APP_CLIENT_ID;
    let message = format!(
        "AADSTS50194: Application '{id}'(Entra BFF (web app)) is not configured as a multi-tenant application."
    );
    for seg in ["common", "organizations"] {
        let q = Browser::at(&emu, seg).back(&[]).await;
        assert_error_back(&q, "invalid_request", &message);
    }
}

#[tokio::test]
async fn a_single_tenant_apps_password_grant_at_common_or_organizations_is_50194() {
    let emu = start_with(world_with_a_single_tenant_web_app()).await;
    for seg in ["common", "organizations"] {
        let r = password_at(&emu, seg, wk::ADELE, wk::WEB_APP_SCOPE).await;
        r.aadsts(400, "invalid_request", 50194);
    }
}

#[tokio::test]
async fn a_single_tenant_app_signs_in_at_its_tenants_domain() {
    let emu = start_with(world_with_a_single_tenant_web_app()).await;
    let r = sign_in_and_redeem(&emu, wk::TENANT_DOMAIN, wk::ADELE, wk::WEB_APP_SCOPE).await;
    r.success();
}

#[test]
fn the_built_in_web_app_is_multi_tenant_and_its_weather_api_single_tenant() {
    let world = World::well_known();
    let contoso = world.tenant(wk::TENANT_ID).unwrap();
    let audience = |app_id| &contoso.app(app_id).unwrap().sign_in_audience;
    assert_eq!(audience(wk::WEB_APP_CLIENT_ID), "AzureADMultipleOrgs");
    assert_eq!(audience(wk::WEATHER_API_CLIENT_ID), "AzureADMyOrg");
}
