//! Multi-factor authentication on the sign-in pages: the MFA page that satisfies a Conditional
//! Access claims challenge (v1 assertions with `amr`, v2 with the facts in `aio`). The
//! authentication contexts (`acrs`) a claims request asks for are in `step_up.rs`.

use crate::common::*;
use emulator::{RunningEmulator, World, well_known as wk};
use serde_json::Value;

/// Megan's OBO to the Weather API fails with a claims challenge: the challenge.
async fn megans_claims_challenge(emu: &RunningEmulator) -> String {
    let megan = user_token(emu, wk::MEGAN).await;
    let e = obo(emu, &megan, wk::WEATHER_API_SCOPE).await;
    text_of(&e.body, "claims").to_owned()
}

/// The app sends Megan back to `/authorize` with the challenge: the MFA page, in `browser`.
async fn megan_at_the_mfa_page(browser: &Browser<'_>, emu: &RunningEmulator) -> String {
    let challenge = megans_claims_challenge(emu).await;
    let html = browser
        .sign_in_to_page(wk::MEGAN, &[("claims", &challenge)])
        .await;
    assert!(html.contains("<label for=\"otc\">"), "{html}");
    html
}

/// Megan answers the MFA page for the challenge and redeems the code: the token response.
async fn megan_after_mfa(emu: &RunningEmulator) -> Value {
    let browser = Browser::new(emu);
    let html = megan_at_the_mfa_page(&browser, emu).await;
    let r = browser.submit(&html, "mfa", &[("otc", wk::MFA_CODE)]).await;
    redeem(emu, &location_params(&r)["code"]).await.success()
}

/// Whether the `amr` claim lists `mfa`.
fn amr_has_mfa(claims: &Value) -> bool {
    claims["amr"].as_array().unwrap().iter().any(|a| a == "mfa")
}

/// A wrong code is said on the page, and the same sign-in goes on with the right one.
async fn a_wrong_mfa_code_is_said_and_can_be_retried(emu: &RunningEmulator) {
    let browser = Browser::new(emu);
    let html = megan_at_the_mfa_page(&browser, emu).await;
    let again = browser
        .submit_for_page(&html, "mfa", &[("otc", "000000")])
        .await;
    assert!(again.contains("role=\"alert\""), "{again}");
    let r = browser
        .submit(&again, "mfa", &[("otc", wk::MFA_CODE)])
        .await;
    redeem(emu, &location_params(&r)["code"]).await.success();
}

#[tokio::test]
async fn a_wrong_mfa_code_is_said_on_the_page_and_the_right_one_then_signs_in() {
    a_wrong_mfa_code_is_said_and_can_be_retried(&start().await).await;
}

#[tokio::test]
async fn a_wrong_mfa_code_can_be_retried_with_a_v2_web_app_too() {
    a_wrong_mfa_code_is_said_and_can_be_retried(
        &start_with(World::well_known_with_v2_web_app()).await,
    )
    .await;
}

#[tokio::test]
async fn the_mfa_page_satisfies_the_claims_challenge_with_a_v1_assertion_that_says_mfa() {
    let emu = start().await;
    let b = megan_after_mfa(&emu).await;
    let at = claims(access_token(&b));
    assert_eq!(at["ver"], "1.0");
    assert!(amr_has_mfa(&at), "{at}");
    assert!(
        at.get("acrs").is_none(),
        "no authentication context was asked for"
    );
    obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE)
        .await
        .success();
}

#[tokio::test]
async fn the_mfa_page_satisfies_the_claims_challenge_with_a_v2_assertion_through_aio() {
    let emu = start_with(World::well_known_with_v2_web_app()).await;
    let b = megan_after_mfa(&emu).await;
    let at = claims(access_token(&b));
    assert_eq!(at["ver"], "2.0");
    assert!(at.get("amr").is_none(), "no amr in v2 access tokens: {at}");
    assert!(
        at.get("acrs").is_none(),
        "no authentication context was asked for"
    );
    let r = obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE).await;
    r.success();
}

/// The ID token claims reference lists no `amr` for v2 ID tokens; the v1 access token keeps it.
#[tokio::test]
async fn after_mfa_v2_id_tokens_carry_no_amr_and_v1_access_tokens_say_mfa() {
    let emu = start().await;
    let b = megan_after_mfa(&emu).await;
    let id = claims(id_token(&b));
    assert!(id.get("amr").is_none(), "no amr in a v2 ID token: {id}");
    assert!(amr_has_mfa(&claims(access_token(&b))));
}

#[tokio::test]
async fn asking_for_an_api_under_the_mfa_policy_at_authorize_requires_mfa_straight_away() {
    let emu = start().await;
    let html = Browser::new(&emu)
        .sign_in_to_page(wk::MEGAN, &[("scope", wk::WEATHER_API_SCOPE)])
        .await;
    assert!(html.contains("id=\"otc\""), "{html}");
}
