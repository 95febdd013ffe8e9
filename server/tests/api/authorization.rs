//! Who may do what: `REQUIRED_ROLES` and `ALLOWED_GROUPS` for the app (by role, by group, by a
//! nested group, by an overage group read from Graph), per downstream API before any token is
//! obtained, AADSTS50105 at sign-in explained, and an API called as the app.

use emulator::well_known as wk;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{
    ADELE, ALEX, MEGAN, Seen, TestApp, apis::echo_api, problem_of, spawn_app, world_file,
};

const PATTI: &str = wk::PATTI;

async fn signed_in(vars: &[(&str, &str)], upn: &str) -> TestApp {
    let app = spawn_app(vars).await;
    app.sign_in(upn, "/", &mut Seen::default()).await;
    app
}

/// The profile server function's answer: its status and body.
async fn profile(app: &TestApp) -> (StatusCode, Value) {
    let response = app.server_fn("profile").await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_required_role_admits_its_holders_and_refuses_others_with_the_fix() {
    let vars = [("SESSION_STORE", "memory"), ("REQUIRED_ROLES", "Reader")];
    for upn in [ADELE, MEGAN, PATTI] {
        let app = signed_in(&vars, upn).await;
        let (status, body) = profile(&app).await;
        assert_eq!(status, StatusCode::OK, "{upn}: {body}");
        assert!(
            body["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "Reader"),
            "{body}"
        );
    }
    let alex = signed_in(&vars, ALEX).await;
    let response = alex.server_fn("profile").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    let problem = &body["NotAllowed"];
    let text = problem.to_string();
    for needed in [
        ALEX,               // who they are
        "\\\"Reader\\\"",   // what is required
        "no app role",      // what they have
        "Users and groups", // where an administrator assigns it
        "Enterprise applications",
    ] {
        assert!(text.contains(needed), "{needed} missing: {problem}");
    }
    // Still signed in: the header says who they are, the page the refusal.
    assert_eq!(alex.session().await.user.unwrap().username, ALEX);
    let html = alex.page("/").await;
    assert!(html.contains("not allowed to use this app"), "{html}");
}

#[tokio::test]
async fn an_allowed_group_admits_its_members_and_those_of_its_nested_groups() {
    let vars = [
        ("SESSION_STORE", "memory"),
        ("ALLOWED_GROUPS", wk::WEATHER_WATCHERS_GROUP_ID),
    ];
    // Megan and Alex are in Weather Watchers through Marketing (nested): groups claims list
    // transitive memberships.
    for upn in [MEGAN, ALEX] {
        let app = signed_in(&vars, upn).await;
        let (status, body) = profile(&app).await;
        assert_eq!(status, StatusCode::OK, "{upn}: {body}");
        assert_eq!(body["groups"][0], 2, "{body}");
        assert_eq!(body["groups"][1], "the token");
    }
    let adele = signed_in(&vars, ADELE).await;
    assert_eq!(profile(&adele).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_overage_user_is_judged_on_the_groups_graph_lists_read_once_per_session() {
    let vars = [
        ("SESSION_STORE", "memory"),
        ("ALLOWED_GROUPS", wk::PATTI_READER_GROUP_ID),
    ];
    let app = signed_in(&vars, PATTI).await;
    app.reset_emulator_stats().await;
    let (status, body) = profile(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"][0], wk::PATTI_GROUPS, "{body}");
    assert_eq!(body["groups"][1], "Microsoft Graph");
    let first = app.emulator_stats().await["graph"].as_u64().unwrap();
    // /me and the pages of groups (999 a page: one).
    assert_eq!(first, 2, "Graph calls for the first view");
    profile(&app).await;
    app.ok("downstream-apis").await;
    let again = app.emulator_stats().await["graph"].as_u64().unwrap();
    assert_eq!(again, first, "the groups are kept with the session");

    // A group she is not in: refused, the count read from Graph said.
    let other = signed_in(
        &[
            ("SESSION_STORE", "memory"),
            ("ALLOWED_GROUPS", wk::WEATHER_WATCHERS_GROUP_ID),
        ],
        PATTI,
    )
    .await;
    let response = other.server_fn("profile").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("250 group(s) read from Microsoft Graph"),
        "{text}"
    );
}

#[tokio::test]
async fn graph_refusing_the_overage_groups_is_a_problem_not_an_answer() {
    let app = signed_in(
        &[
            ("SESSION_STORE", "memory"),
            ("ALLOWED_GROUPS", wk::PATTI_READER_GROUP_ID),
        ],
        PATTI,
    )
    .await;
    app.admin(
        "faults",
        serde_json::json!({"endpoint": "graph", "kind": {"type": "status", "code": 403}}),
    )
    .await;
    let response = app.server_fn("downstream-apis").await;
    assert_ne!(response.status(), StatusCode::OK);
    let problem = problem_of(response).await;
    assert!(
        problem.title.contains("groups could not be read"),
        "{problem:?}"
    );
    assert!(
        problem
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("Authorization_RequestDenied"),
        "{problem:?}"
    );
}

#[tokio::test]
async fn an_api_that_requires_a_role_is_refused_before_any_token_is_obtained() {
    let vars = [
        ("SESSION_STORE", "memory"),
        ("DOWNSTREAM_API__WEATHER__REQUIRED_ROLES", "Admin"),
    ];
    let megan = signed_in(&vars, MEGAN).await;
    megan.reset_emulator_stats().await;
    let response = megan
        .proxied("/api/downstream/weather/weatherforecast")
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("the API \\\"weather\\\"") && body.contains("Admin"),
        "{body}"
    );
    assert_eq!(
        megan.emulator_stats().await["obo"],
        0,
        "no exchange for a refused call"
    );
    // The Call API page lists it as unavailable, with the reason.
    let list = megan.ok("downstream-apis").await;
    let weather = &list.as_array().unwrap()[0];
    assert!(
        weather["unavailable"].as_str().unwrap().contains("Admin"),
        "{weather}"
    );

    let adele = signed_in(&vars, ADELE).await;
    let response = adele
        .proxied("/api/downstream/weather/weatherforecast")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(adele.ok("downstream-apis").await[0]["unavailable"].is_null());
}

#[tokio::test]
async fn a_sign_in_refused_for_want_of_an_assignment_is_explained() {
    let world = world_file(|w| {
        w["tenants"][0]["applications"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|a| a["appId"] == wk::WEB_APP_CLIENT_ID)
            .unwrap()["appRoleAssignmentRequired"] = true.into();
    });
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("EMULATOR_WORLD", world.path()),
    ])
    .await;
    // Entra's way that reaches the app (unconfirmed: its own page is the other).
    app.admin(
        "unconfirmed",
        serde_json::json!({"assignment_refusal": "error_redirect"}),
    )
    .await;
    let callback = app.sign_in(ALEX, "/", &mut Seen::default()).await;
    let html = callback.text().await.unwrap();
    assert!(html.contains("AADSTS50105"), "{html}");
    assert!(html.contains("Users and groups"), "{html}");
    assert!(app.session().await.user.is_none());
    // An assigned user signs in.
    let megan = app.other_browser();
    megan.sign_in(MEGAN, "/", &mut Seen::default()).await;
    assert!(megan.session().await.user.is_some());
}

#[tokio::test]
async fn an_api_called_as_the_app_gets_one_client_credentials_token_for_fifty_calls() {
    let echo = echo_api().await;
    let scope = format!("{}/.default", wk::WEATHER_API_ID_URI);
    let app = signed_in(
        &[
            ("SESSION_STORE", "memory"),
            ("DOWNSTREAM_API__REPORTS__BASE_URL", &echo),
            ("DOWNSTREAM_API__REPORTS__SCOPES", &scope),
            ("DOWNSTREAM_API__REPORTS__AS", "app"),
        ],
        ADELE,
    )
    .await;
    app.reset_emulator_stats().await;
    let calls = (0..50).map(|_| app.proxied("/api/downstream/reports/things"));
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats = app.emulator_stats().await;
    assert_eq!(stats["client_credentials"], 1, "{stats}");
    assert_eq!(stats["obo"], 0, "{stats}");
    // The token: the app's, with the application permission granted to it.
    let claims = app.named_api_token("reports").await;
    assert!(
        claims["roles"].to_string().contains("Weather.Read.All"),
        "{claims:?}"
    );
    assert_eq!(claims["idtyp"], "app");
    let list = app.ok("downstream-apis").await;
    let reports = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "reports")
        .unwrap();
    assert_eq!(reports["as_app"], true);

    // A scope that is not `.default` stops the start with the fix.
    let err = crate::common::start_error(&[
        ("DOWNSTREAM_API__REPORTS__BASE_URL", &echo),
        ("DOWNSTREAM_API__REPORTS__SCOPES", wk::WEATHER_API_SCOPE),
        ("DOWNSTREAM_API__REPORTS__AS", "app"),
    ])
    .await;
    assert!(err.contains("/.default"), "{err}");
}
