//! On-Behalf-Of: the web app trades a user's token for its API for a token to the Weather API or
//! Graph. What each token holds, which assertions are refused with which AADSTS code, and the
//! consent and Conditional Access answers.

use crate::common::*;
use emulator::{RunningEmulator, World, well_known as wk};
use serde_json::{Value, json};

/// Adele's OBO to `scope` with a fresh assertion, expecting success.
async fn adeles_obo(emu: &RunningEmulator, scope: &str) -> Value {
    let assertion = user_token(emu, wk::ADELE).await;
    obo(emu, &assertion, scope).await.success()
}

#[tokio::test]
async fn obo_to_the_weather_api_gives_a_verifiable_v2_token_for_its_scope() {
    let emu = start().await;
    let w = adeles_obo(&emu, wk::WEATHER_API_SCOPE).await;
    let at = verified_v2(&emu, access_token(&w), wk::WEATHER_API_CLIENT_ID).await;
    assert_eq!(at["scp"], "Weather.Read");
    assert_eq!(at["azp"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(emu.stats().obo, 1);
}

#[tokio::test]
async fn obo_with_oidc_scopes_answers_refresh_id_token_and_client_info_like_msal_expects() {
    let emu = start().await;
    let scope = format!("{} openid profile offline_access", wk::WEATHER_API_SCOPE);
    let w = adeles_obo(&emu, &scope).await;
    for k in ["refresh_token", "id_token", "client_info"] {
        assert!(w[k].is_string(), "{k} in {w}");
    }
    let granted = format!("{} openid profile", wk::WEATHER_API_SCOPE);
    assert_eq!(w["scope"], granted);
}

/// "The refresh token is only provided if the offline_access scope was requested" (the
/// On-Behalf-Of page).
#[tokio::test]
async fn obo_without_offline_access_gives_no_refresh_token() {
    let emu = start().await;
    let w = adeles_obo(&emu, wk::WEATHER_API_SCOPE).await;
    assert!(w.get("refresh_token").is_none(), "{w}");
}

/// `idtyp` is emitted for app-only tokens by default; a user token carries it only when the
/// resource asks for it with `include_user_token` (the optional claims reference).
#[tokio::test]
async fn a_user_token_carries_idtyp_only_when_its_resource_asks_for_it() {
    let emu = start().await;
    let w = adeles_obo(&emu, wk::WEATHER_API_SCOPE).await;
    assert!(claims(access_token(&w)).get("idtyp").is_none());
    let world = world_with_app(wk::WEATHER_API_CLIENT_ID, |api| {
        api.optional_claims
            .access_token
            .push(emulator::world::OptionalClaim {
                name: "idtyp".into(),
                essential: false,
                source: None,
                additional_properties: vec!["include_user_token".into()],
            });
    });
    let emu = start_with(world).await;
    let w = adeles_obo(&emu, wk::WEATHER_API_SCOPE).await;
    assert_eq!(claims(access_token(&w))["idtyp"], "user");
}

#[tokio::test]
async fn obo_to_graph_gives_a_v1_graph_token_with_a_nonce_in_its_header() {
    let emu = start().await;
    let g = adeles_obo(&emu, "https://graph.microsoft.com/User.Read").await;
    let gt = access_token(&g);
    assert!(header(gt)["nonce"].is_string());
    assert_x5t_is_kid(gt);
    let expected = json!({"aud": "https://graph.microsoft.com", "iss": V1_ISSUER,
        "appid": wk::WEB_APP_CLIENT_ID, "ver": "1.0", "upn": wk::ADELE});
    assert_claims(&claims(gt), expected);
    assert_eq!(emu.stats().obo, 1);
}

/// Graph's signature covers the nonce's hash, so nobody but Graph can verify its tokens.
#[tokio::test]
async fn a_graph_token_does_not_verify_against_the_published_keys() {
    let emu = start().await;
    let g = adeles_obo(&emu, "User.Read").await;
    let err = verify(
        &emu,
        access_token(&g),
        "https://graph.microsoft.com",
        V1_ISSUER,
    )
    .await
    .unwrap_err();
    let kind = err.kind();
    assert!(
        matches!(kind, jsonwebtoken::errors::ErrorKind::InvalidSignature),
        "{err:?}"
    );
}

#[tokio::test]
async fn obo_accepts_a_v1_assertion_addressed_by_guid() {
    let emu = start().await;
    adeles_obo(&emu, wk::WEATHER_API_SCOPE).await;
}

#[tokio::test]
async fn obo_accepts_a_v1_assertion_addressed_by_app_id_uri() {
    let emu = start().await;
    let scope = format!("{} openid offline_access", wk::WEB_APP_SCOPE_URI);
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    let r = obo(&emu, access_token(&b.success()), wk::WEATHER_API_SCOPE).await;
    r.success();
}

/// A v2 assertion has no `amr`: the sign-in facts ride in `aio`.
#[tokio::test]
async fn obo_accepts_a_v2_assertion() {
    let emu = start_with(World::well_known_with_v2_web_app()).await;
    let scope = format!("{} openid profile offline_access", wk::WEB_APP_SCOPE_URI);
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    let assertion = b.success();
    obo(&emu, access_token(&assertion), wk::WEATHER_API_SCOPE)
        .await
        .success();
}

/// OBO to the Weather API with `assertion`, expected to fail as `invalid_grant` with `code`.
async fn refused(emu: &RunningEmulator, assertion: &str, code: u64) -> Value {
    let r = obo(emu, assertion, wk::WEATHER_API_SCOPE).await;
    r.aadsts(400, "invalid_grant", code)
}

#[tokio::test]
async fn obo_with_a_graph_token_is_50013() {
    let emu = start().await;
    let scope = "User.Read openid profile offline_access";
    let b = password(&emu, wk::ADELE, scope).await.success();
    let graph_token = access_token(&b);
    assert!(header(graph_token)["nonce"].is_string());
    let e = refused(&emu, graph_token, 50013).await;
    assert_description_starts_with(&e, "AADSTS50013: Assertion failed signature validation.");
}

#[tokio::test]
async fn obo_with_a_token_signed_by_another_emulators_key_is_50013() {
    let (emu, other) = (start().await, start().await);
    let foreign = user_token(&other, wk::ADELE).await;
    let e = refused(&emu, &foreign, 50013).await;
    assert_description_contains(&e, "The key was not found.");
}

#[tokio::test]
async fn obo_with_a_tampered_signature_is_50013() {
    let emu = start().await;
    let mut tampered = user_token(&emu, wk::ADELE).await;
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    refused(&emu, &tampered, 50013).await;
}

#[tokio::test]
async fn obo_with_a_token_for_another_api_is_500131_naming_that_api() {
    let emu = start().await;
    let w = password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let r = obo(&emu, access_token(&w.success()), "User.Read").await;
    let e = r.aadsts(400, "invalid_grant", 500131);
    assert_description_contains(&e, wk::WEATHER_API_CLIENT_ID);
}

#[tokio::test]
async fn obo_with_an_id_token_is_240002() {
    let emu = start().await;
    let scope = format!("{} openid", wk::WEB_APP_SCOPE);
    let b = password(&emu, wk::ADELE, &scope).await.success();
    refused(&emu, id_token(&b), 240002).await;
}

#[tokio::test]
async fn obo_with_an_app_only_token_for_the_web_app_is_50027() {
    let emu = start().await;
    let scope = format!("{}/.default", wk::WEB_APP_ID_URI);
    let cc = client_credentials(&emu, &scope).await.success();
    refused(&emu, access_token(&cc), 50027).await;
}

#[tokio::test]
async fn obo_with_an_expired_assertion_is_500133() {
    let emu = start().await;
    let now = emulator::keys::now();
    let expired = json!({
        "aud": wk::WEB_APP_CLIENT_ID, "iss": v2_issuer(&emu), "tid": wk::TENANT_ID,
        "oid": wk::ADELE_OID, "azp": wk::WEB_APP_CLIENT_ID, "scp": "access_as_user",
        "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600, "ver": "2.0"
    });
    let signed = {
        let keys = emu.state().keys.read().unwrap();
        emulator::tokens::sign(keys.current(), &expired, emulator::tokens::Header::V2)
    };
    refused(&emu, &signed, 500133).await;
}

refused! {
    obo_with_something_that_is_not_a_jwt_is_an_invalid_request_50027:
        |emu| obo(emu, "not-a-jwt", wk::WEATHER_API_SCOPE) => 400 "invalid_request" 50027;
}

#[tokio::test]
async fn obo_for_a_user_who_has_not_consented_to_the_api_is_65001_consent_required() {
    let emu = start().await;
    let alex = user_token(&emu, wk::ALEX).await;
    let e = refused(&emu, &alex, 65001).await;
    assert_eq!(e["suberror"], "consent_required");
}

#[tokio::test]
async fn obo_to_graph_works_for_that_user_through_admin_consent() {
    let emu = start().await;
    let alex = user_token(&emu, wk::ALEX).await;
    obo(&emu, &alex, "User.Read").await.success();
}

#[tokio::test]
async fn obo_for_a_user_under_the_mfa_policy_is_50076_with_a_claims_challenge() {
    let emu = start().await;
    let megan = user_token(&emu, wk::MEGAN).await;
    let r = obo(&emu, &megan, wk::WEATHER_API_SCOPE).await;
    let e = r.aadsts(400, "interaction_required", 50076);
    let challenge: Value = serde_json::from_str(text_of(&e, "claims")).unwrap();
    let policies = &challenge["access_token"]["capolids"]["values"];
    assert_eq!(policies[0], wk::MFA_POLICY_ID);
}
