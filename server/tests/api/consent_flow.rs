//! Missing consent for a downstream API (AADSTS65001) is explained, and its "Review
//! permissions" sign-in asks for the missing consent (incremental consent) so that the
//! next call succeeds instead of looping.

use crate::common::{ProblemAction, hidden, location, spawn_signed_in};
use reqwest::StatusCode;

#[tokio::test]
async fn missing_graph_consent_is_explained_and_the_consent_step_fixes_it() {
    // The well-known world without the admin consent for Graph.
    let mut world = serde_json::to_value(emulator::World::well_known()).unwrap();
    world["tenants"][0]["consents"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["resourceAppId"] != emulator::well_known::GRAPH_APP_ID);
    let dir = std::env::temp_dir().join(format!("bff-consent-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let world_path = dir.join("world.json");
    std::fs::write(&world_path, world.to_string()).unwrap();
    // Consent at sign-in off: the consent Graph needs is then missing when OBO runs (as for
    // a scope added after users signed in).
    let app = spawn_signed_in(&[
        ("SESSION_STORE", "memory"),
        ("EMULATOR_WORLD", world_path.to_str().unwrap()),
        ("ASK_CONSENT_AT_SIGN_IN", "false"),
    ])
    .await;

    // On-Behalf-Of to Graph fails: no consent, explained, with a consent action.
    let problem = app.problem("profile", StatusCode::BAD_GATEWAY).await;
    assert_eq!(problem.code, Some(65001), "{problem:?}");
    assert!(problem.cause.contains("User.Read"), "{problem:?}");
    let ProblemAction::SignIn { url, label } = &problem.action else {
        panic!("no sign-in action: {problem:?}");
    };
    assert_eq!(label, "Review permissions");

    // The action's sign-in names the Graph scope, so the emulator asks for consent.
    let login = app.get(url).await;
    let authorize = location(&login);
    assert!(authorize.contains("User.Read"), "{authorize}");
    let html = app
        .client
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Permissions requested"), "{html}");
    let action_url = authorize.split('?').next().unwrap();
    let accepted = app
        .client
        .post(action_url)
        .form(&[
            ("_txn", hidden(&html, "_txn").as_str()),
            ("_step", "consent"),
            ("consent", "accept"),
        ])
        .send()
        .await
        .unwrap();
    let callback = app.client.get(location(&accepted)).send().await.unwrap();
    assert_eq!(location(&callback), "/");

    let profile = app.profile().await;
    assert_eq!(profile.display_name.as_deref(), Some("Adele Vance"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The app on a world where Contoso lets no user consent, with the emulator's switches set;
/// Alex (no consent to the Weather API) signed in from the Call API page up to the app's
/// callback, which the identity provider answers with a refusal: the app, and that callback.
async fn alex_refused_at_sign_in(
    unconfirmed: serde_json::Value,
) -> (crate::common::TestApp, String) {
    let world = crate::common::world_file(|w| w["tenants"][0]["usersMayConsent"] = false.into());
    let app = crate::common::spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("EMULATOR_WORLD", world.path()),
    ])
    .await;
    app.admin("unconfirmed", unconfirmed).await;
    let login = app.get("/auth/login?return_to=/call-api").await;
    let authorize = location(&login);
    assert!(authorize.contains("Weather.Read"), "{authorize}");
    let refused = app
        .emulator_pages(
            &app.client,
            &authorize,
            crate::common::ALEX,
            &mut crate::common::Seen::default(),
        )
        .await;
    assert!(refused.contains("error="), "{refused}");
    (app, refused)
}

/// Entra refuses the sign-in for the Weather API's scope, named for consent only: the app
/// signs Alex in again without it (one more trip to `/authorize`, silent), and the Weather
/// API's first call says an administrator must consent, offering no sign-in that would only
/// be refused again.
#[tokio::test]
async fn a_tenant_where_users_may_not_consent_still_lets_them_sign_in() {
    let (app, refused) = alex_refused_at_sign_in(serde_json::json!({})).await;
    let done = app.through_retried_sign_in(&refused, "Weather.Read").await;
    assert_eq!(location(&done), "/call-api");
    assert_eq!(app.session().await.user.unwrap().name, "Alex Wilber");
    let refusals = app
        .metric(
            "bff_sign_in_failures_total",
            "code=\"consent_scopes_refused\"",
        )
        .await;
    assert_eq!(refusals, 1.0);

    let problem = app.problem("call-api", StatusCode::BAD_GATEWAY).await;
    assert_eq!(problem.code, Some(65001), "{problem:?}");
    assert_eq!(problem.action, ProblemAction::None, "no loop: {problem:?}");
    assert!(problem.fix.contains("administrator"), "{problem:?}");
    assert!(
        problem
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("AADSTS90094"),
        "{problem:?}"
    );
}

/// Entra's "Need admin approval" page answers with `access_denied` and no code, as a user's
/// cancel does (emulator/README.md, ledger K4): the app says so and offers the sign-in without
/// the consent-only permissions, which then goes through.
#[tokio::test]
async fn coming_back_from_the_need_admin_approval_page_offers_the_sign_in_without_them() {
    let (app, refused) =
        alex_refused_at_sign_in(serde_json::json!({"consent_wall": "approval_page"})).await;
    let page = app.client.get(&refused).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("You came back without signing in"), "{html}");
    let without = html
        .split("class=\"button\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(without.contains("consent=skip"), "{without}");

    let login = app.get(&without).await;
    let authorize = location(&login);
    assert!(!authorize.contains("Weather.Read"), "{authorize}");
    let back = location(&app.client.get(&authorize).send().await.unwrap());
    let done = app.client.get(&back).send().await.unwrap();
    assert_eq!(location(&done), "/call-api");
    assert_eq!(app.session().await.user.unwrap().name, "Alex Wilber");
}
