//! The consent page: what it lists, accepting (OBO to that API then works) and declining
//! (AADSTS65004), combined consent through `knownClientApplications`, and admin-only scopes
//! (AADSTS90094 instead of the page, until an administrator consents).

use crate::common::*;
use emulator::world::{
    Application, ConsentBy, ConsentGrant, PermissionKind, PermissionScope, RequiredResourceAccess,
    ResourceAccess,
};
use emulator::{RunningEmulator, World, well_known as wk};

/// The web app's sign-in scopes with the Weather API's, which Alex has not consented to.
fn weather_sign_in_scope() -> String {
    format!("{} openid profile offline_access", wk::WEATHER_API_SCOPE)
}

/// Alex signed in for the Weather API, at the consent page: the browser and the page.
async fn alex_at_the_consent_page(emu: &RunningEmulator) -> (Browser<'_>, String) {
    let browser = Browser::new(emu);
    let html = browser
        .sign_in_to_page(wk::ALEX, &[("scope", &weather_sign_in_scope())])
        .await;
    (browser, html)
}

#[tokio::test]
async fn the_consent_page_lists_the_permissions_requested() {
    let emu = start().await;
    let (_, html) = alex_at_the_consent_page(&emu).await;
    assert!(html.contains("Permissions requested"), "{html}");
    assert!(html.contains(wk::WEATHER_API_SCOPE), "{html}");
}

#[tokio::test]
async fn declining_consent_goes_back_with_access_denied_65004() {
    let emu = start().await;
    let (browser, html) = alex_at_the_consent_page(&emu).await;
    let q = location_params(&browser.consent(&html, "decline").await);
    assert_error_back(&q, "access_denied", "AADSTS65004");
}

/// Alex, at the consent page, declined: the browser.
async fn alex_declined(emu: &RunningEmulator) -> Browser<'_> {
    let (browser, html) = alex_at_the_consent_page(emu).await;
    browser.consent(&html, "decline").await;
    browser
}

#[tokio::test]
async fn after_a_decline_prompt_none_goes_back_with_consent_required() {
    let emu = start().await;
    let scope = weather_sign_in_scope();
    let silent = [("scope", scope.as_str()), ("prompt", "none")];
    let q = alex_declined(&emu).await.back(&silent).await;
    assert_eq!(q["error"], "consent_required", "{q:?}");
}

#[tokio::test]
async fn after_a_decline_the_session_is_asked_for_consent_again_and_may_accept() {
    let emu = start().await;
    let browser = alex_declined(&emu).await;
    let html = browser.page(&[("scope", &weather_sign_in_scope())]).await;
    assert!(html.contains("Permissions requested"), "{html}");
    let q = location_params(&browser.consent(&html, "accept").await);
    assert!(q.contains_key("code"), "{q:?}");
}

#[tokio::test]
async fn accepting_consent_goes_back_with_a_code_and_lets_obo_to_that_api_work() {
    let emu = start().await;
    let (browser, html) = alex_at_the_consent_page(&emu).await;
    let accepted = browser.consent(&html, "accept").await;
    assert!(location_params(&accepted).contains_key("code"));
    let alex = user_token(&emu, wk::ALEX).await;
    obo(&emu, &alex, wk::WEATHER_API_SCOPE).await.success();
}

const SPA: &str = "5a9c1f7e-0c1d-4f2a-8b3c-9d8e7f6a5b4c";

/// The built-in world with a SPA that the web app (the middle tier) lists among its
/// `knownClientApplications`, requiring the web app's own scope.
fn world_with_a_known_client_spa() -> World {
    let mut world = World::well_known();
    let t = &mut world.tenants[0];
    let web = t
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap();
    web.api.known_client_applications.push(SPA.into());
    let scope_id = web.api.oauth2_permission_scopes[0].id.clone();
    let mut spa: Application = serde_json::from_value(serde_json::json!({
        "appId": SPA, "displayName": "SPA", "isFallbackPublicClient": true,
        "web": {"redirectUris": ["http://localhost:5173/"]}
    }))
    .unwrap();
    spa.required_resource_access.push(RequiredResourceAccess {
        resource_app_id: wk::WEB_APP_CLIENT_ID.into(),
        resource_access: vec![ResourceAccess {
            id: scope_id,
            kind: PermissionKind::Scope,
        }],
    });
    t.applications.push(spa);
    world
}

/// Consent to the SPA covers the middle tier's own permissions, the Weather API included.
#[tokio::test]
async fn combined_consent_through_known_client_applications_covers_the_middle_tiers_apis() {
    let emu = start_with(world_with_a_known_client_spa()).await;
    let scope = format!("{}/.default openid", wk::WEB_APP_ID_URI);
    let spa_sign_in = [
        ("client_id", SPA),
        ("redirect_uri", "http://localhost:5173/"),
        ("scope", scope.as_str()),
    ];
    let browser = Browser::new(&emu);
    let html = browser.sign_in_to_page(wk::ALEX, &spa_sign_in).await;
    assert!(html.contains("Permissions requested"), "{html}");
    assert_eq!(browser.consent(&html, "accept").await.status(), 302);
    let alex = user_token(&emu, wk::ALEX).await;
    obo(&emu, &alex, wk::WEATHER_API_SCOPE).await.success();
}

/// The built-in world with an admin-only `Weather.Admin` scope on the Weather API.
fn world_with_an_admin_only_weather_scope() -> World {
    world_with_app(wk::WEATHER_API_CLIENT_ID, |weather| {
        weather.api.oauth2_permission_scopes.push(PermissionScope {
            id: "0d5ae4f0-7a2b-4c43-9c51-2a4f3e1b8d00".into(),
            value: "Weather.Admin".into(),
            kind: ConsentBy::Admin,
            user_consent_display_name: None,
        });
    })
}

fn admin_scope() -> String {
    format!("{}/Weather.Admin openid profile", wk::WEATHER_API_ID_URI)
}

#[tokio::test]
async fn a_user_asking_for_an_admin_only_scope_goes_back_with_90094_not_to_the_consent_page() {
    let emu = start_with(world_with_an_admin_only_weather_scope()).await;
    let q = Browser::new(&emu)
        .sign_in_back(wk::ADELE, &[("scope", &admin_scope())])
        .await;
    assert_error_back(&q, "consent_required", "AADSTS90094: ");
    assert!(q["error_description"].contains("Weather.Admin"), "{q:?}");
    assert_eq!(q["state"], "st-123");
}

#[tokio::test]
async fn next_to_an_admin_only_scope_a_user_consentable_scope_still_gets_the_consent_page() {
    let emu = start_with(world_with_an_admin_only_weather_scope()).await;
    let user_scope = format!("{} openid profile", wk::WEATHER_API_SCOPE);
    let html = Browser::new(&emu)
        .sign_in_to_page(wk::ALEX, &[("scope", &user_scope)])
        .await;
    assert!(html.contains("id=\"accept\""), "{html}");
}

#[tokio::test]
async fn once_an_administrator_consented_the_admin_only_scope_goes_through() {
    let emu = start_with(world_with_an_admin_only_weather_scope()).await;
    let browser = Browser::new(&emu);
    browser
        .sign_in_back(wk::ADELE, &[("scope", &admin_scope())])
        .await;
    emu.state().world.write().unwrap().tenants[0]
        .consents
        .push(ConsentGrant {
            client_id: wk::WEB_APP_CLIENT_ID.into(),
            resource_app_id: wk::WEATHER_API_CLIENT_ID.into(),
            scopes: vec!["Weather.Admin".into()],
            principal: None,
        });
    let q = browser.back(&[("scope", &admin_scope())]).await;
    assert!(q.contains_key("code"), "{q:?}");
}

/// The built-in world where Contoso lets no user consent (the portal's *Do not allow user
/// consent*).
fn world_without_user_consent() -> World {
    let mut world = World::well_known();
    world.tenants[0].users_may_consent = false;
    world
}

/// Where user consent is off, a permission nobody granted stops the sign-in at the admin
/// wall, even one a user could otherwise consent to (Weather.Read is `User`).
#[tokio::test]
async fn where_users_may_not_consent_a_missing_user_consent_is_90094() {
    let emu = start_with(world_without_user_consent()).await;
    let q = Browser::new(&emu)
        .sign_in_back(wk::ALEX, &[("scope", &weather_sign_in_scope())])
        .await;
    assert_error_back(
        &q,
        "consent_required",
        "AADSTS90094: An administrator of contoso",
    );
}

#[tokio::test]
async fn where_users_may_not_consent_granted_permissions_still_sign_in() {
    let emu = start_with(world_without_user_consent()).await;
    // Adele's consent to the Weather API was given before the setting changed.
    let q = Browser::new(&emu)
        .sign_in_back(wk::ADELE, &[("scope", &weather_sign_in_scope())])
        .await;
    assert!(q.contains_key("code"), "{q:?}");
}

/// The other way Entra may answer (the unconfirmed switch): its "Need admin approval" page,
/// whose way back to the app says `access_denied` with `error_subcode=cancel` and no code.
#[tokio::test]
async fn the_admin_wall_can_be_the_need_admin_approval_page_instead() {
    let emu = start_with(world_without_user_consent()).await;
    emu.set_unconfirmed(emulator::Unconfirmed {
        consent_wall: emulator::unconfirmed::ConsentWall::ApprovalPage,
        ..emulator::Unconfirmed::default()
    });
    let browser = Browser::new(&emu);
    let html = browser
        .sign_in_to_page(wk::ALEX, &[("scope", &weather_sign_in_scope())])
        .await;
    assert!(html.contains("Need admin approval"), "{html}");
    let q = location_params(&browser.submit(&html, "admin_approval", &[]).await);
    assert_eq!(q["error"], "access_denied", "{q:?}");
    assert_eq!(q["error_subcode"], "cancel", "{q:?}");
    assert!(!q.contains_key("error_description"), "{q:?}");
    assert_eq!(q["state"], "st-123");
}

/// A scope of an API that has no service principal in the user's tenant (the Weather API is
/// Contoso's only) refuses the whole sign-in once the user is known: AADSTS650052, with
/// `invalid_client`, as public threads show it (PostHog/posthog#43486).
#[tokio::test]
async fn naming_an_api_the_users_tenant_lacks_refuses_the_sign_in_with_650052() {
    let emu = start().await;
    let scope = format!("{} {}", sign_in_scope(), wk::WEATHER_API_SCOPE);
    let q = Browser::at(&emu, "organizations")
        .sign_in_back(wk::DIEGO, &[("scope", &scope)])
        .await;
    assert_error_back(
        &q,
        "invalid_client",
        "AADSTS650052: The app is trying to access a service",
    );
    assert!(
        q["error_description"].contains(wk::WEATHER_API_CLIENT_ID),
        "{q:?}"
    );
    assert!(
        q["error_description"].contains(wk::FABRIKAM_TENANT_ID),
        "{q:?}"
    );
    // Without that scope, Diego signs in.
    let q = Browser::at(&emu, "organizations")
        .sign_in_back(wk::DIEGO, &[("scope", &sign_in_scope())])
        .await;
    assert!(q.contains_key("code"), "{q:?}");
}
