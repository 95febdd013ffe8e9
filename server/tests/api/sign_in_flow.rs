//! The whole code flow against the in-process emulator: sign-in, the profile by OBO and
//! its cache, refresh, replayed state, anti-CSRF, sign-out, and no token in any response.

use crate::common::{ADELE, Seen, contains_jwt, location, query_param, spawn_app, spawn_signed_in};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn sign_in_shows_the_profile_via_obo_and_a_warm_cache_calls_no_identity_provider() {
    let app = spawn_app(&[("SESSION_STORE", "sqlite"), ("PROFILE_TTL_SECS", "0")]).await;
    let mut seen = Seen::default();

    let callback = app.sign_in(ADELE, "/tokens", &mut seen).await;
    assert_eq!(location(&callback), "/tokens");
    let cookie = callback.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!contains_jwt(&cookie));

    app.reset_emulator_stats().await;
    let profile = app.profile().await;
    assert_eq!(profile.display_name.as_deref(), Some("Adele Vance"));
    assert_eq!(profile.user_principal_name.as_deref(), Some(ADELE));
    assert!(!profile.token_from_cache);

    for _ in 0..5 {
        assert!(app.profile().await.token_from_cache);
    }
    let stats = app.emulator_stats().await;
    assert_eq!(
        stats["obo"], 1,
        "one OBO exchange for six page views: {stats}"
    );
    assert_eq!(stats["refresh_token"], 0);
    assert_eq!(stats["token_total"], 1);

    // A server-rendered home page reads the profile once: one Graph call, no token call.
    app.reset_emulator_stats().await;
    let home = app.page("/").await;
    assert!(home.contains("Adele Vance"), "{home}");
    seen.0.push(home);
    let stats = app.emulator_stats().await;
    assert_eq!(
        (stats["graph"].as_u64(), stats["token_total"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );

    // The token view: decoded claims, never a compact token.
    let tokens = app.server_fn("tokens").await.text().await.unwrap();
    assert!(tokens.contains("access_as_user"), "{tokens}");
    assert!(tokens.contains("https://graph.microsoft.com"), "{tokens}");
    seen.0.push(tokens);
    let page = app.page("/tokens").await;
    assert!(page.contains("Sign-in access token"), "{page}");
    seen.0.push(page);
    for body in &seen.0 {
        assert!(
            !contains_jwt(body),
            "a compact JWT reached the browser: {body}"
        );
    }
}

#[tokio::test]
async fn an_expiring_sign_in_token_is_refreshed_once_and_the_session_survives() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    // Tokens that are always inside the renewal margin: every use must renew first.
    app.admin("lifetimes", serde_json::json!({ "access_token": 4 }))
        .await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    app.reset_emulator_stats().await;

    let profile = app.server_fn("profile").await;
    assert_eq!(
        profile.status(),
        StatusCode::OK,
        "{}",
        profile.text().await.unwrap()
    );
    let stats = app.emulator_stats().await;
    assert_eq!(stats["refresh_token"], 1, "{stats}");
    assert_eq!(stats["obo"], 1, "{stats}");
}

#[tokio::test]
async fn a_replayed_callback_is_refused_with_a_way_to_sign_in_again() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app.get("/auth/login").await;
    let authorize = location(&login);
    let state = query_param(&authorize, "state");
    // A callback for a state this browser never started (or already used).
    let forged = app
        .get(&format!("/auth/callback?code=abc&state={state}x"))
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let html = forged.text().await.unwrap();
    assert!(html.contains("no longer valid"), "{html}");
    assert!(html.contains("/auth/login"));

    // A real callback works once; replaying it is refused.
    let mut seen = Seen::default();
    let app2 = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app2.get("/auth/login").await;
    drop(login);
    let first = app2.sign_in(ADELE, "/", &mut seen).await;
    assert_eq!(location(&first), "/");
    let url = first.url().to_string();
    let replay = app2.client.get(url).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_idp_error_at_the_callback_is_explained() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app.get("/auth/login").await;
    let state = query_param(&location(&login), "state");
    let r = app
        .client
        .get(app.url(&format!(
            "/auth/callback?error=access_denied&error_description=AADSTS65004%3A+User+declined&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("AADSTS65004"), "{html}");
    assert!(html.contains("Sign in again"));

    // Without a sign-in of this browser, an error text in the URL is not shown.
    let spoofed = app
        .client
        .get(app.url(
            "/auth/callback?error=access_denied&error_description=Call+0800+SUPPORT&state=forged",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), StatusCode::BAD_REQUEST);
    let html = spoofed.text().await.unwrap();
    assert!(html.contains("no longer valid"), "{html}");
    assert!(!html.contains("0800"), "{html}");
}

#[tokio::test]
async fn server_functions_without_the_anti_csrf_proof_get_a_clear_403() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let no_header = app.post("/api/session").await;
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN);
    assert!(no_header.text().await.unwrap().contains("x-csrf"));

    let cross_site = app
        .client
        .post(app.url("/api/session"))
        .header("x-csrf", "1")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(cross_site.text().await.unwrap().contains("Origin"));

    let ok = app.server_fn("session").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["user"], Value::Null);
}

#[tokio::test]
async fn sign_out_destroys_the_session_and_goes_to_the_end_session_endpoint() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    assert_eq!(app.session().await.user.unwrap().name, "Adele Vance");

    let cross_site = app
        .client
        .post(app.url("/auth/logout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    let target = location(&app.sign_out().await);
    assert!(target.starts_with(&app.emulator), "{target}");
    assert!(target.contains("/oauth2/v2.0/logout"), "{target}");
    assert!(target.contains("post_logout_redirect_uri="), "{target}");

    assert_eq!(app.session().await.user, None);
    let profile = app.server_fn("profile").await;
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    let profile: Value = profile.json().await.unwrap();
    assert_eq!(profile, serde_json::json!("NotSignedIn"));
    // A signed-out page still renders normally (the status is the page's, not the call's).
    let home = app.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
}

#[tokio::test]
async fn fifty_concurrent_calls_at_expiry_share_one_refresh_and_one_obo_per_resource() {
    let app = spawn_app(&[("SESSION_STORE", "sqlite")]).await;
    // 12-second tokens: renewed when 5 s or less are left, so after the refresh the calls
    // have 7 s (not a race even on a loaded CI machine) before another would be due.
    app.admin("lifetimes", serde_json::json!({ "access_token": 12 }))
        .await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    // Let the sign-in token enter its renewal window.
    tokio::time::sleep(std::time::Duration::from_millis(7_500)).await;
    app.reset_emulator_stats().await;

    // Fifty server-function calls at once, half for Graph and half for the Weather API.
    let calls = (0..50).map(|i| app.server_fn(if i % 2 == 0 { "profile" } else { "call-api" }));
    let responses = futures::future::join_all(calls).await;
    for r in responses {
        assert_eq!(r.status(), StatusCode::OK);
    }
    let stats = app.emulator_stats().await;
    assert_eq!(
        stats["refresh_token"], 1,
        "one refresh for the session: {stats}"
    );
    assert_eq!(stats["obo"], 2, "one exchange per resource: {stats}");
}

fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app.get("/auth/login").await;
    let before = set_cookie(&login);
    let callback = app.sign_in(ADELE, "/", &mut Seen::default()).await;
    let after = set_cookie(&callback);
    assert_ne!(
        cookie_value(&before),
        cookie_value(&after),
        "session fixation"
    );
    // The old id no longer opens the session.
    let stranger = crate::common::browser();
    let r = stranger
        .post(app.url("/api/session"))
        .header("x-csrf", "1")
        .header("cookie", format!("bff-session={}", cookie_value(&before)))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"], Value::Null);
}

#[tokio::test]
async fn a_restart_on_the_same_sqlite_file_signs_no_one_out() {
    let data_dir = std::env::temp_dir().join(format!("bff-restart-{}", uuid::Uuid::new_v4()));
    let dir = data_dir.to_str().unwrap();
    let first = spawn_signed_in(&[("SESSION_STORE", "sqlite"), ("DATA_DIR", dir)]).await;
    let db = data_dir.join("sessions.sqlite3");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the session database holds refresh tokens");
    }
    // A second server on the same data directory: the browser's cookie still works.
    let second = spawn_app(&[("SESSION_STORE", "sqlite"), ("DATA_DIR", dir)]).await;
    let r = first
        .client
        .post(second.url("/api/session"))
        .header("x-csrf", "1")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"]["name"], "Adele Vance", "{body}");
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_with_the_host_prefix() {
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("APP_URL", "https://bff.example.com"),
    ])
    .await;
    let login = app.get("/auth/login").await;
    let cookie = set_cookie(&login);
    assert!(cookie.starts_with("__Host-bff-session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let authorize = location(&login);
    assert!(
        authorize.contains("redirect_uri=https%3A%2F%2Fbff.example.com%2Fauth%2Fcallback"),
        "{authorize}"
    );
}

#[tokio::test]
async fn diagnostics_pass_on_the_embedded_default_and_catch_a_graph_api_scope() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    let report: Value = app.server_fn("diagnostics").await.json().await.unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 8, "{report}");
    for check in checks {
        assert_eq!(check["outcome"], "Pass", "{check}");
    }

    let wrong = spawn_signed_in(&[
        ("SESSION_STORE", "memory"),
        ("API_SCOPE", "https://graph.microsoft.com/User.Read"),
    ])
    .await;
    let report: Value = wrong.server_fn("diagnostics").await.json().await.unwrap();
    let scope = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Sign-in scope (OBO assertion)")
        .unwrap();
    assert_eq!(scope["outcome"], "Fail");
    assert!(
        scope["detail"].as_str().unwrap().contains("AADSTS50013"),
        "{scope}"
    );

    // Browsing at 127.0.0.1 while the redirect URI says localhost is flagged (to a stranger,
    // as the session cookie belongs to localhost: the outcome without the details).
    let port = app.base.rsplit(':').next().unwrap();
    let r = app
        .client
        .post(format!("http://127.0.0.1:{port}/api/diagnostics"))
        .header("x-csrf", "1")
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    let redirect = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Redirect URI")
        .unwrap();
    assert_eq!(redirect["outcome"], "Warn", "{redirect}");
}
