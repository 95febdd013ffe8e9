//! Which resource a token may be for, and the AADSTS answer when it may not: scope errors, the
//! web app refreshing a token for itself without naming the scope (90009), an app without
//! Graph's sign-in permission (90008), and a tenant without Microsoft Graph (500011 for OIDC
//! scopes only).

use crate::common::*;
use emulator::{RunningEmulator, World, well_known as wk};
use serde_json::json;

/// Weather's `Weather.Write`, which the Weather API does not expose.
fn weather_write() -> String {
    format!("{}/Weather.Write", wk::WEATHER_API_ID_URI)
}

/// Graph's and the Weather API's scopes in one request.
fn graph_and_weather() -> String {
    format!("User.Read {}", wk::WEATHER_API_SCOPE)
}

refused! {
    scopes_of_two_resources_at_once_are_28000:
        |emu| password(emu, wk::ADELE, &graph_and_weather()) => 400 "invalid_scope" 28000;
    a_scope_of_an_unknown_resource_is_500011:
        |emu| password(emu, wk::ADELE, "api://unknown-api/read") => 400 "invalid_resource" 500011;
    a_scope_the_resource_does_not_expose_is_70011:
        |emu| password(emu, wk::ADELE, &weather_write()) => 400 "invalid_scope" 70011;
}

/// The message Entra gives for AADSTS90009 when the web app names itself by its App ID URI.
fn for_itself_message() -> String {
    let (id, uri) = (wk::WEB_APP_CLIENT_ID, wk::WEB_APP_ID_URI);
    format!(
        "AADSTS90009: Application '{id}'({uri}) is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.\r\n"
    )
}

/// Only a refresh that names no scope is refused (below): the password grant and
/// On-Behalf-Of name their scope, in either form.
#[tokio::test]
async fn a_password_grant_or_obo_for_itself_works_in_either_form() {
    let emu = start().await;
    for scope in [wk::WEB_APP_SCOPE, wk::WEB_APP_SCOPE_URI] {
        password(&emu, wk::ADELE, scope).await.success();
        let assertion = user_token(&emu, wk::ADELE).await;
        obo(&emu, &assertion, scope).await.success();
    }
}

/// The refresh token of Adele's sign-in for the web app's API by App ID URI (which works).
async fn refresh_token_of_a_sign_in_by_app_id_uri(emu: &RunningEmulator) -> String {
    let scope = format!("{} openid profile offline_access", wk::WEB_APP_SCOPE_URI);
    let b = sign_in_and_redeem(emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    refresh_token(&b.success()).to_owned()
}

/// Asserts AADSTS90009 with Entra's message, and nothing but that code.
#[track_caller]
fn assert_for_itself(r: Reply) {
    let e = r.aadsts(400, "invalid_request", 90009);
    assert_eq!(e["error_codes"], json!([90009]));
    assert_description_starts_with(&e, &for_itself_message());
}

/// The fix the public reports give for AADSTS90009: name the scope again, App ID URI and all.
#[tokio::test]
async fn refreshing_a_sign_in_by_app_id_uri_naming_that_scope_works() {
    let emu = start().await;
    let rt = refresh_token_of_a_sign_in_by_app_id_uri(&emu).await;
    let scope = format!("{} openid profile offline_access", wk::WEB_APP_SCOPE_URI);
    let b = refresh(&emu, &rt, Some(&scope)).await.success();
    assert_eq!(claims(access_token(&b))["aud"], wk::WEB_APP_ID_URI);
}

/// What the reports show failing: a refresh without `scope` (DuendeArchive/IdentityModel#528).
#[tokio::test]
async fn refreshing_a_sign_in_by_app_id_uri_without_scope_is_90009() {
    let emu = start().await;
    let rt = refresh_token_of_a_sign_in_by_app_id_uri(&emu).await;
    assert_for_itself(refresh(&emu, &rt, None).await);
}

/// A grant obtained in the GUID form refreshes without `scope` (Softeria/ms-365-mcp-server#508).
#[tokio::test]
async fn refreshing_a_sign_in_by_guid_without_scope_works() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    let r = refresh(&emu, refresh_token(&b.success()), None).await;
    assert_eq!(
        claims(access_token(&r.success()))["aud"],
        wk::WEB_APP_CLIENT_ID
    );
}

#[tokio::test]
async fn the_refresh_token_of_a_sign_in_by_app_id_uri_serves_graph_and_the_guid_form() {
    let emu = start().await;
    let rt = refresh_token_of_a_sign_in_by_app_id_uri(&emu).await;
    for scope in ["User.Read", wk::WEB_APP_SCOPE] {
        let b = refresh(&emu, &rt, Some(scope)).await.success();
        assert!(b["access_token"].is_string(), "{scope}: {b}");
    }
}

/// The built-in world whose web app does not require Graph's sign-in permission.
fn world_without_graph_permission() -> World {
    world_with_app(wk::WEB_APP_CLIENT_ID, |web| {
        web.required_resource_access
            .retain(|r| r.resource_app_id != wk::GRAPH_APP_ID);
    })
}

/// The message Entra gives for AADSTS90008 when the web app lacks Graph's sign-in permission.
fn misconfigured_message() -> String {
    let id = wk::WEB_APP_CLIENT_ID;
    format!(
        "AADSTS90008: The user or administrator has not consented to use the application with ID '{id}'. This happened because application is misconfigured: it must require access to Windows Azure Active Directory by specifying at least 'Sign in and read user profile' permission.\r\n"
    )
}

#[tokio::test]
async fn an_app_without_graphs_sign_in_permission_gets_90008_for_itself() {
    let emu = start_with(world_without_graph_permission()).await;
    for scope in [wk::WEB_APP_SCOPE, wk::WEB_APP_SCOPE_URI] {
        let e = password(&emu, wk::ADELE, scope).await;
        assert_description_starts_with(
            &e.aadsts(400, "invalid_grant", 90008),
            &misconfigured_message(),
        );
    }
}

#[tokio::test]
async fn an_app_without_graphs_sign_in_permission_is_sent_back_with_90008_at_sign_in() {
    let emu = start_with(world_without_graph_permission()).await;
    let q = Browser::new(&emu).back(&[]).await;
    assert_error_back(&q, "invalid_request", "AADSTS90008: ");
}

#[tokio::test]
async fn an_app_without_graphs_sign_in_permission_still_gets_tokens_for_other_resources() {
    let emu = start_with(world_without_graph_permission()).await;
    let r = password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    r.success();
}

/// The built-in world with Microsoft Graph removed from Contoso (app and consents).
fn world_without_graph() -> World {
    let mut world = World::well_known();
    let contoso = &mut world.tenants[0];
    contoso
        .applications
        .retain(|a| a.app_id != wk::GRAPH_APP_ID);
    contoso
        .consents
        .retain(|c| c.resource_app_id != wk::GRAPH_APP_ID);
    world
}

/// With OIDC scopes only, Entra issues a Graph token: here there is no Graph to issue it for.
#[tokio::test]
async fn without_graph_a_password_grant_for_oidc_scopes_only_is_500011() {
    let emu = start_with(world_without_graph()).await;
    let r = password(&emu, wk::ADELE, "openid profile offline_access").await;
    let e = r.aadsts(400, "invalid_resource", 500011);
    assert_description_contains(&e, wk::GRAPH_APP_ID);
    assert_description_contains(&e, wk::TENANT_DOMAIN);
}

#[tokio::test]
async fn without_graph_a_code_for_a_resource_redeemed_for_oidc_scopes_only_is_500011() {
    let emu = start_with(world_without_graph()).await;
    let code = code_for(
        &emu,
        wk::ADELE,
        &format!("{} openid profile", wk::WEB_APP_SCOPE),
    )
    .await;
    let r = redeem_with(&emu, wk::TENANT_ID, &code, &[("scope", "openid profile")]).await;
    r.aadsts(400, "invalid_resource", 500011);
}

#[tokio::test]
async fn without_graph_signing_in_for_oidc_scopes_only_is_sent_back_with_500011_at_once() {
    let emu = start_with(world_without_graph()).await;
    let q = Browser::new(&emu)
        .back(&[("scope", "openid profile")])
        .await;
    assert_error_back(&q, "invalid_resource", "AADSTS500011: ");
}

#[tokio::test]
async fn without_graph_tokens_for_other_resources_still_work() {
    let emu = start_with(world_without_graph()).await;
    password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE)
        .await
        .success();
}
