//! Claims requests (the `claims` parameter): an authentication context (`acrs`) asked for at
//! `/authorize`, at refresh and at On-Behalf-Of, met by the policy that protects it or issued
//! as it is when none does, and carried only by the tokens whose request asked for it (or
//! whose resource opted in to the claim); the client's capabilities (`xms_cc`) echoed to the
//! resources that opted in. The answers Entra's documentation leaves open follow the
//! emulator's `unconfirmed` switches, each tested here.

use crate::common::*;
use emulator::{
    RunningEmulator, Unconfirmed, World,
    unconfirmed::{StepUpClaims, StepUpError},
    well_known as wk,
    world::OptionalClaim,
};
use serde_json::{Value, json};

/// A claims request for authentication context `ctx`.
fn acrs_request(ctx: &str) -> String {
    json!({"access_token": {"acrs": {"essential": true, "value": ctx}}}).to_string()
}

/// The claims MSAL sends for a client that declares `cp1`.
const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

/// The `acrs` of a token, if any.
fn acrs(token: &str) -> Value {
    claims(token)["acrs"].clone()
}

#[tokio::test]
async fn a_context_a_policy_protects_with_mfa_shows_the_mfa_page() {
    let emu = start().await;
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    let html = Browser::new(&emu)
        .sign_in_to_page(wk::ADELE, &[("claims", &claims)])
        .await;
    assert!(html.contains("id=\"otc\""), "{html}");
}

#[tokio::test]
async fn a_context_no_policy_protects_is_issued_without_a_prompt() {
    let emu = start().await;
    let q = Browser::new(&emu)
        .sign_in_back(wk::ADELE, &[("claims", &acrs_request("c7"))])
        .await;
    let b = redeem(&emu, &q["code"]).await.success();
    assert_eq!(acrs(access_token(&b)), json!(["c7"]));
}

/// Adele signs in with a claims request for c1 and passes MFA: the browser and the tokens.
async fn adele_with_c1(emu: &RunningEmulator) -> (Browser<'_>, Value) {
    let browser = Browser::new(emu);
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    let html = browser
        .sign_in_to_page(wk::ADELE, &[("claims", &claims)])
        .await;
    let q = location_params(&browser.submit(&html, "mfa", &[("otc", wk::MFA_CODE)]).await);
    let b = redeem(emu, &q["code"]).await.success();
    (browser, b)
}

#[tokio::test]
async fn the_token_of_the_sign_in_that_asked_for_a_context_carries_it() {
    let emu = start().await;
    let (_, b) = adele_with_c1(&emu).await;
    assert_eq!(acrs(access_token(&b)), json!([wk::WEATHER_AUTH_CONTEXT]));
}

/// Tokens nobody asked the context for do not carry it: the loop a client meets when it
/// sends an API's challenge to `/authorize` only (the sign-in token gets `acrs`, the API's
/// token does not).
#[tokio::test]
async fn a_refresh_or_obo_without_the_claims_request_carries_no_acrs() {
    let emu = start().await;
    let (_, b) = adele_with_c1(&emu).await;
    let r = refresh(&emu, refresh_token(&b), None).await.success();
    assert!(claims(access_token(&r)).get("acrs").is_none());
    let w = obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE).await;
    assert!(claims(access_token(&w.success())).get("acrs").is_none());
}

#[tokio::test]
async fn obo_with_the_claims_request_after_mfa_carries_the_context() {
    let emu = start().await;
    let (_, b) = adele_with_c1(&emu).await;
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    let w = obo_with(
        &emu,
        access_token(&b),
        wk::WEATHER_API_SCOPE,
        &[("claims", &claims)],
    )
    .await;
    let w = access_token(&w.success()).to_owned();
    assert_eq!(acrs(&w), json!([wk::WEATHER_AUTH_CONTEXT]));
    assert_eq!(crate::common::claims(&w)["ver"], "2.0");
}

#[tokio::test]
async fn a_refresh_with_the_claims_request_after_mfa_carries_the_context() {
    let emu = start().await;
    let (_, b) = adele_with_c1(&emu).await;
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    let params = [("refresh_token", refresh_token(&b)), ("claims", &claims)];
    let r = web_app_grant(&emu, "refresh_token", &params)
        .await
        .success();
    assert_eq!(acrs(access_token(&r)), json!([wk::WEATHER_AUTH_CONTEXT]));
}

/// On-Behalf-Of for the context c1 from a sign-in without MFA: the refusal (defaults).
async fn obo_for_c1_without_mfa(emu: &RunningEmulator) -> Reply {
    let plain = user_token(emu, wk::ADELE).await;
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    obo_with(emu, &plain, wk::WEATHER_API_SCOPE, &[("claims", &claims)]).await
}

#[tokio::test]
async fn obo_for_a_context_the_sign_in_did_not_meet_is_50076_with_the_request_handed_back() {
    let emu = start().await;
    let e = obo_for_c1_without_mfa(&emu)
        .await
        .aadsts(400, "interaction_required", 50076);
    assert_eq!(e["suberror"], "basic_action");
    let back: Value = serde_json::from_str(text_of(&e, "claims")).unwrap();
    assert_eq!(
        back["access_token"]["acrs"]["value"],
        wk::WEATHER_AUTH_CONTEXT
    );
}

#[tokio::test]
async fn the_unconfirmed_shape_of_that_refusal_can_be_invalid_grant_with_policy_ids() {
    let emu = start().await;
    emu.set_unconfirmed(Unconfirmed {
        obo_step_up_error: StepUpError::InvalidGrant,
        obo_step_up_claims: StepUpClaims::PolicyIds,
        ..Unconfirmed::default()
    });
    let e = obo_for_c1_without_mfa(&emu)
        .await
        .aadsts(400, "invalid_grant", 50076);
    let back: Value = serde_json::from_str(text_of(&e, "claims")).unwrap();
    assert_eq!(
        back["access_token"]["capolids"]["values"],
        json!([wk::AUTH_CONTEXT_POLICY_ID])
    );
}

#[tokio::test]
async fn the_unconfirmed_shape_of_that_refusal_can_carry_no_claims() {
    let emu = start().await;
    emu.set_unconfirmed(Unconfirmed {
        obo_step_up_claims: StepUpClaims::Absent,
        ..Unconfirmed::default()
    });
    let e = obo_for_c1_without_mfa(&emu)
        .await
        .aadsts(400, "interaction_required", 50076);
    assert!(e.get("claims").is_none(), "{e}");
}

/// A refresh for the context from a sign-in without MFA is refused too.
#[tokio::test]
async fn a_refresh_for_a_context_the_sign_in_did_not_meet_is_50076() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    let b = b.success();
    let claims = acrs_request(wk::WEATHER_AUTH_CONTEXT);
    let params = [("refresh_token", refresh_token(&b)), ("claims", &claims)];
    let r = web_app_grant(&emu, "refresh_token", &params).await;
    r.aadsts(400, "interaction_required", 50076);
}

/// The Weather API registration, opted in to `acrs` too.
fn world_with_weather_opting_in_to_acrs() -> World {
    world_with_app(wk::WEATHER_API_CLIENT_ID, |api| {
        api.optional_claims.access_token.push(OptionalClaim {
            name: "acrs".into(),
            essential: false,
            source: None,
            additional_properties: vec![],
        });
    })
}

/// "Conditional Access tries to add ACRS to the token claims opportunistically".
#[tokio::test]
async fn a_resource_that_opted_in_to_acrs_gets_the_contexts_a_sign_in_meets_unasked() {
    let emu = start_with(world_with_weather_opting_in_to_acrs()).await;
    let (_, b) = adele_with_c1(&emu).await;
    let w = obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE).await;
    assert_eq!(
        acrs(access_token(&w.success())),
        json!([wk::WEATHER_AUTH_CONTEXT])
    );
    // Without MFA, the protected context is not met: none.
    let plain = user_token(&emu, wk::ADELE).await;
    let w = obo(&emu, &plain, wk::WEATHER_API_SCOPE).await;
    assert!(claims(access_token(&w.success())).get("acrs").is_none());
}

#[tokio::test]
async fn xms_cc_reaches_only_the_resources_that_opted_in_and_only_when_declared() {
    let emu = start().await;
    let params = [
        ("username", wk::ADELE),
        ("password", wk::USER_PASSWORD),
        ("scope", &sign_in_scope()),
        ("claims", CP1),
    ];
    let b = web_app_grant(&emu, "password", &params).await.success();
    // The web app's own API did not opt in.
    assert!(claims(access_token(&b)).get("xms_cc").is_none());
    // The Weather API did (the well-known world): cp1 when declared, nothing otherwise.
    let with = obo_with(
        &emu,
        access_token(&b),
        wk::WEATHER_API_SCOPE,
        &[("claims", CP1)],
    )
    .await;
    assert_eq!(
        claims(access_token(&with.success()))["xms_cc"],
        json!(["cp1"])
    );
    let without = obo(&emu, access_token(&b), wk::WEATHER_API_SCOPE).await;
    assert!(
        claims(access_token(&without.success()))
            .get("xms_cc")
            .is_none()
    );
}

#[tokio::test]
async fn claims_that_are_not_a_json_object_are_90019() {
    let emu = start().await;
    let plain = user_token(&emu, wk::ADELE).await;
    let r = obo_with(
        &emu,
        &plain,
        wk::WEATHER_API_SCOPE,
        &[("claims", "acrs=c1")],
    )
    .await;
    r.aadsts(400, "invalid_request", 90019);
}
