//! Tokens for a signed-in user, from the password grant and from sign-in: the answer's shape,
//! v1 and v2 access tokens verified with an independent JWT library against the published JWKS,
//! ID tokens, pairwise `sub`, and the tenant segments the token endpoint answers on.

use crate::common::*;
use emulator::{World, well_known as wk};
use serde_json::json;

/// Adele's password grant for the web app's own API (by GUID) and the OIDC scopes, `email` too.
async fn adeles_tokens(emu: &emulator::RunningEmulator) -> serde_json::Value {
    let scope = format!("{} openid profile email offline_access", wk::WEB_APP_SCOPE);
    password(emu, wk::ADELE, &scope).await.success()
}

#[tokio::test]
async fn a_password_grant_answers_bearer_tokens_with_refresh_and_id_tokens_for_60_to_90_minutes() {
    let emu = start().await;
    let b = adeles_tokens(&emu).await;
    assert_eq!(b["token_type"], "Bearer");
    assert!(
        b["refresh_token"].is_string() && b["id_token"].is_string(),
        "{b}"
    );
    let expires_in = b["expires_in"].as_u64().unwrap();
    assert!(
        (3600..5400).contains(&expires_in),
        "Entra's default 60-90 minutes: {expires_in}"
    );
}

#[tokio::test]
async fn client_info_names_the_users_home_account() {
    let emu = start().await;
    let b = adeles_tokens(&emu).await;
    let (info, id) = (client_info(&b), claims(id_token(&b)));
    assert_eq!((&info["uid"], &info["utid"]), (&id["oid"], &id["tid"]));
    assert_eq!(info["uid"], wk::ADELE_OID);
    assert_eq!(info["utid"], wk::TENANT_ID);
}

/// The web app's registration leaves requestedAccessTokenVersion null: v1 tokens, with `aud` as
/// requested (the GUID form here).
#[tokio::test]
async fn a_token_for_the_web_apps_own_api_is_a_verifiable_v1_token() {
    let emu = start().await;
    let b = adeles_tokens(&emu).await;
    assert_x5t_is_kid(access_token(&b));
    let at = verified_v1(&emu, access_token(&b), wk::WEB_APP_CLIENT_ID).await;
    let expected = json!({"scp": "access_as_user", "appid": wk::WEB_APP_CLIENT_ID,
        "appidacr": "1", "amr": ["pwd"], "upn": wk::ADELE, "unique_name": wk::ADELE,
        "oid": wk::ADELE_OID, "ver": "1.0"});
    assert_claims(&at, expected);
    assert!(at.get("azp").is_none() && at.get("acrs").is_none(), "{at}");
}

#[tokio::test]
async fn the_id_token_names_the_user_with_the_same_sub_as_the_access_token() {
    let emu = start().await;
    let b = adeles_tokens(&emu).await;
    let id = verified_v2(&emu, id_token(&b), wk::WEB_APP_CLIENT_ID).await;
    assert_claims(
        &id,
        json!({"preferred_username": wk::ADELE, "email": wk::ADELE}),
    );
    assert_eq!(
        id["sub"],
        claims(access_token(&b))["sub"],
        "same app, same pairwise sub"
    );
}

#[tokio::test]
async fn sub_is_pairwise_per_app() {
    let emu = start().await;
    let web_app = claims(id_token(&adeles_tokens(&emu).await));
    let graph = password(&emu, wk::ADELE, "User.Read").await.success();
    assert_ne!(claims(access_token(&graph))["sub"], web_app["sub"]);
    assert_eq!(emu.stats().password, 2);
}

/// Adele signed in through the pages, asking for the web app's API by App ID URI.
async fn signed_in_by_app_id_uri(emu: &emulator::RunningEmulator) -> serde_json::Value {
    let scope = format!("{} openid offline_access", wk::WEB_APP_SCOPE_URI);
    let b = sign_in_and_redeem(emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    b.success()
}

#[tokio::test]
async fn a_v2_web_app_gets_v2_access_tokens_for_its_guid_without_amr() {
    let emu = start_with(World::well_known_with_v2_web_app()).await;
    let b = signed_in_by_app_id_uri(&emu).await;
    let at = verified_v2(&emu, access_token(&b), wk::WEB_APP_CLIENT_ID).await;
    assert_eq!(at["ver"], "2.0");
    assert_eq!(at["aud"], wk::WEB_APP_CLIENT_ID, "v2: always the GUID");
    assert_eq!(at["azp"], wk::WEB_APP_CLIENT_ID);
    assert!(at.get("amr").is_none(), "amr is a v1 claim: {at}");
    assert!(at["aio"].is_string(), "{at}");
}

/// v2 ID tokens carry no `amr` whatever the access tokens' version (the ID token claims
/// reference lists none).
#[tokio::test]
async fn id_tokens_carry_no_amr() {
    for world in [World::well_known(), World::well_known_with_v2_web_app()] {
        let emu = start_with(world).await;
        let b = signed_in_by_app_id_uri(&emu).await;
        assert!(claims(id_token(&b)).get("amr").is_none());
    }
}

#[tokio::test]
async fn signing_in_by_app_id_uri_gives_a_v1_token_whose_aud_is_that_uri() {
    let emu = start().await;
    let b = signed_in_by_app_id_uri(&emu).await;
    let assertion = access_token(&b);
    let expected = json!({"aud": wk::WEB_APP_ID_URI, "iss": V1_ISSUER, "ver": "1.0",
        "amr": ["pwd"], "appid": wk::WEB_APP_CLIENT_ID});
    assert_claims(&claims(assertion), expected);
    assert_x5t_is_kid(assertion);
    verified_v1(&emu, assertion, wk::WEB_APP_ID_URI).await;
    let echoed = format!("{} openid", wk::WEB_APP_SCOPE_URI);
    assert_eq!(b["scope"], echoed, "scope echoes the form the client named");
}

#[tokio::test]
async fn signing_in_by_guid_gives_a_token_whose_aud_is_the_guid() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    let b = b.success();
    assert_eq!(claims(access_token(&b))["aud"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(b["scope"], format!("{} openid profile", wk::WEB_APP_SCOPE));
    // The password grant does the same.
    let ropc = user_token(&emu, wk::ADELE).await;
    assert_eq!(claims(&ropc)["aud"], wk::WEB_APP_CLIENT_ID);
}

/// Adele's password grant for Graph with the password `secret`.
async fn adele_with_password(emu: &emulator::RunningEmulator, secret: &str) -> Reply {
    let params = [
        ("username", wk::ADELE),
        ("password", secret),
        ("scope", "User.Read"),
    ];
    web_app_grant(emu, "password", &params).await
}

refused! {
    a_password_grant_for_an_api_under_the_mfa_policy_is_50076:
        |emu| password(emu, wk::MEGAN, wk::WEATHER_API_SCOPE) => 400 "interaction_required" 50076;
    a_wrong_password_is_50126:
        |emu| adele_with_password(emu, "nope") => 400 "invalid_grant" 50126;
}

/// As MSAL Node calls it: SKU in the query, a `client-request-id` header, version in the form.
#[tokio::test]
async fn the_token_endpoint_answers_by_domain_and_at_the_organizations_and_common_aliases() {
    let emu = start().await;
    let mut form = BY_SECRET.to_vec();
    form.extend([
        ("grant_type", "password"),
        ("username", wk::ADELE),
        ("password", wk::USER_PASSWORD),
        ("scope", "User.Read"),
        ("x-client-VER", "1"),
    ]);
    for seg in [wk::TENANT_DOMAIN, "organizations", "common"] {
        let r = client()
            .post(format!(
                "{}?x-client-SKU=msal.js.node",
                token_url_at(&emu, seg)
            ))
            .header("client-request-id", "6b1e3c2a-0000-4000-8000-000000000001")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{seg}");
        let b = r.json().await.unwrap();
        assert_eq!(claims(access_token(&b))["tid"], wk::TENANT_ID, "{seg}");
    }
}

#[tokio::test]
async fn an_error_answer_echoes_client_request_id_as_its_correlation_id() {
    let emu = start().await;
    let id = "6b1e3c2a-0000-4000-8000-000000000002";
    let r = client()
        .post(token_url(&emu))
        .header("client-request-id", id)
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["correlation_id"], id);
}
