//! The admin surface (`/_emulator/...`: stats, grants, revocation, lifetimes, faults, key
//! rollover) and who may reach it; key rollover's grace; HTTPS, key and refresh-token
//! persistence in a data directory, and the refusal of non-loopback addresses.

use std::time::Duration;

use crate::common::*;
use emulator::well_known as wk;
use emulator::{Emulator, Fault, FaultEndpoint, FaultKind, RunningEmulator, TlsConfig};
use serde_json::{Value, json};

/// POSTs `body` (JSON, if any) to the admin surface's `path`.
async fn admin_post(emu: &RunningEmulator, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = client().post(admin_url(emu, path));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

/// Adele's password grant with a refresh token, as something for the admin surface to see.
async fn adele_signs_in(emu: &RunningEmulator) {
    let scope = format!("{} offline_access", wk::WEB_APP_SCOPE);
    password(emu, wk::ADELE, &scope).await.success();
}

/// A web page cannot drive the admin surface (cross-site request forgery).
#[tokio::test]
async fn the_admin_surface_refuses_requests_from_another_site() {
    let emu = start().await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = client()
            .post(admin_url(&emu, "keys/roll"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
    }
}

#[tokio::test]
async fn admin_stats_counts_token_requests_until_reset() {
    let emu = start().await;
    adele_signs_in(&emu).await;
    let stats = get_json(admin_url(&emu, "stats")).await;
    assert_eq!(
        (&stats["password"], &stats["token_total"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(admin_post(&emu, "stats/reset", None).await.status(), 204);
    assert_eq!(emu.stats().token_total, 0);
}

#[tokio::test]
async fn admin_grants_lists_refresh_grants_without_token_values() {
    let emu = start().await;
    adele_signs_in(&emu).await;
    let grants = get_json(admin_url(&emu, "grants")).await;
    assert_eq!(grants[0]["upn"], wk::ADELE);
    assert!(
        !grants.to_string().contains("\"1."),
        "no refresh token values"
    );
}

#[tokio::test]
async fn admin_revoke_revokes_a_users_refresh_tokens() {
    let emu = start().await;
    adele_signs_in(&emu).await;
    let path = format!("users/{}/revoke", wk::ADELE);
    let r: Value = admin_post(&emu, &path, None).await.json().await.unwrap();
    assert_eq!(r["revoked"], 1);
}

#[tokio::test]
async fn admin_unconfirmed_changes_only_the_switches_it_names() {
    let emu = start().await;
    let set = json!({"consent_wall": "approval_page"});
    let r: Value = admin_post(&emu, "unconfirmed", Some(set))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["consent_wall"], "approval_page");
    assert_eq!(r["obo_step_up_error"], "interaction_required");
    let now = get_json(admin_url(&emu, "unconfirmed")).await;
    assert_eq!(now, r);
    let bad = admin_post(&emu, "unconfirmed", Some(json!({"consent_wall": "maybe"}))).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn admin_lifetimes_sets_the_lifetime_of_later_access_tokens() {
    let emu = start().await;
    let lifetimes = admin_post(&emu, "lifetimes", Some(json!({"access_token": 120}))).await;
    let lifetimes: Value = lifetimes.json().await.unwrap();
    assert_eq!(lifetimes["access_token_secs"], 120);
    let b = password(&emu, wk::ADELE, "User.Read").await.success();
    assert_eq!(b["expires_in"], 120);
}

#[tokio::test]
async fn an_admin_status_fault_answers_429_with_retry_after_once_then_normal_service() {
    let emu = start().await;
    let kind = json!({"type": "status", "code": 429, "retry_after": 7});
    let fault = json!({"endpoint": "token", "kind": kind, "count": 1});
    assert_eq!(admin_post(&emu, "faults", Some(fault)).await.status(), 201);
    let r = client()
        .post(token_url(&emu))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    password(&emu, wk::ADELE, "User.Read").await.success();
}

/// The time a GET of the discovery document takes.
async fn discovery_time(emu: &RunningEmulator) -> Duration {
    let t = std::time::Instant::now();
    let r = client().get(discovery_url(emu, wk::TENANT_ID)).send().await;
    assert_eq!(r.unwrap().status(), 200);
    t.elapsed()
}

#[tokio::test]
async fn an_admin_latency_fault_delays_discovery_and_faults_can_be_cleared() {
    let emu = start().await;
    let kind = json!({"type": "latency", "ms": 300});
    admin_post(
        &emu,
        "faults",
        Some(json!({"endpoint": "discovery", "kind": kind})),
    )
    .await;
    assert!(discovery_time(&emu).await >= Duration::from_millis(300));
    let cleared = client().delete(admin_url(&emu, "faults")).send().await;
    assert_eq!(cleared.unwrap().status(), 204);
}

#[tokio::test]
async fn an_admin_key_rollover_publishes_the_new_key_next_to_the_old() {
    let emu = start().await;
    let r = admin_post(&emu, "keys/roll", Some(json!({"grace_secs": 60}))).await;
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["published"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(jwks(&emu).await.keys.len(), 2);
}

#[tokio::test]
async fn a_timeout_fault_hangs_until_the_client_gives_up_once() {
    let emu = start().await;
    emu.set_fault(Fault {
        endpoint: FaultEndpoint::Jwks,
        kind: FaultKind::Timeout,
        count: Some(1),
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = impatient.get(jwks_url(&emu)).send().await;
    assert!(r.unwrap_err().is_timeout());
    let r = impatient.get(jwks_url(&emu)).send().await;
    assert_eq!(r.unwrap().status(), 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn after_a_key_rollover_new_tokens_are_signed_with_the_new_key_listed_first() {
    let emu = start().await;
    let old_kid = emu.kids()[0].clone();
    let new_kid = emu.roll_keys(Duration::from_secs(60)).unwrap();
    assert_eq!(emu.kids(), vec![new_kid.clone(), old_kid]);
    let fresh = user_token(&emu, wk::ADELE).await;
    assert_eq!(header(&fresh)["kid"], new_kid);
}

#[tokio::test]
async fn during_the_grace_of_a_key_rollover_old_tokens_still_verify_and_pass_obo() {
    let emu = start().await;
    let old = user_token(&emu, wk::ADELE).await;
    emu.roll_keys(Duration::from_secs(60)).unwrap();
    verified_v1(&emu, &old, wk::WEB_APP_CLIENT_ID).await;
    let r = obo(&emu, &old, wk::WEATHER_API_SCOPE).await;
    assert_eq!(r.status, 200, "old key accepted during grace: {}", r.body);
}

#[tokio::test]
async fn a_key_rollover_without_grace_drops_the_previous_keys_at_once() {
    let emu = start().await;
    let old = user_token(&emu, wk::ADELE).await;
    let old_kid = header(&old)["kid"].as_str().unwrap().to_owned();
    emu.roll_keys(Duration::ZERO).unwrap();
    assert!(!emu.kids().contains(&old_kid));
    let r = obo(&emu, &old, wk::WEATHER_API_SCOPE).await;
    r.aadsts(400, "invalid_grant", 50013);
}

#[tokio::test]
async fn the_admin_surface_refuses_requests_without_a_loopback_peer() {
    use tower::ServiceExt;
    let emu = start().await;
    let app = emulator::router(emu.state().clone());
    let request = axum::http::Request::get("/_emulator/stats")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = app.oneshot(request).await.unwrap();
    assert_eq!(r.status(), 403);
}

/// GETs admin stats with this `Host` header: the status and body.
async fn stats_for_host(emu: &RunningEmulator, host: &str) -> (u16, String) {
    let r = client()
        .get(admin_url(emu, "stats"))
        .header("host", host)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), text(r).await)
}

/// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches the
/// loopback peer check with its own host name in `Host`.
#[tokio::test]
async fn the_admin_surface_refuses_requests_addressed_to_a_host_name_other_than_loopback() {
    let emu = start().await;
    let port = emu.local_addr().port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("[::2]:{port}"),
    ] {
        let (status, body) = stats_for_host(&emu, &host).await;
        assert_eq!(status, 403, "{host}");
        assert!(body.contains("Host"), "{host}: {body}");
    }
}

#[tokio::test]
async fn the_admin_surface_answers_requests_addressed_to_loopback_names() {
    let emu = start().await;
    let port = emu.local_addr().port();
    let loopback = [
        format!("localhost:{port}"),
        "LocalHost".into(),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "[::1]".into(),
    ];
    let mut statuses = vec![];
    for host in &loopback {
        statuses.push(stats_for_host(&emu, host).await.0);
    }
    assert_eq!(statuses, [200; 5], "{loopback:?}");
}

#[tokio::test]
async fn https_with_a_generated_certificate_serves_an_https_issuer() {
    let tls = TlsConfig::generate().unwrap();
    let emu = Emulator::builder()
        .tls(Some(tls.clone()))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    let mut trusting = reqwest::Client::builder();
    for cert in reqwest::Certificate::from_pem_bundle(tls.cert_pem.as_bytes()).unwrap() {
        trusting = trusting.add_root_certificate(cert);
    }
    let doc = get_json_with(
        &trusting.build().unwrap(),
        discovery_url(&emu, wk::TENANT_ID),
    )
    .await;
    let issuer = text_of(&doc, "issuer");
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    emu.shutdown().await;
}

/// An emulator keeping its state in `dir`.
async fn start_in(dir: &std::path::Path) -> RunningEmulator {
    Emulator::builder()
        .data_dir(Some(dir.to_owned()))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A fresh data directory, removed when dropped.
struct DataDir(std::path::PathBuf);

impl DataDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("emu-data-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn signing_keys_survive_a_restart_with_a_data_dir() {
    let dir = DataDir::new();
    let emu = start_in(&dir.0).await;
    let kids = emu.kids();
    emu.shutdown().await;
    let again = start_in(&dir.0).await;
    assert_eq!(again.kids(), kids);
    again.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_survive_a_restart_with_a_data_dir() {
    let dir = DataDir::new();
    let emu = start_in(&dir.0).await;
    let b = password(&emu, wk::ADELE, "User.Read offline_access").await;
    let rt = refresh_token(&b.success()).to_owned();
    emu.shutdown().await;
    let again = start_in(&dir.0).await;
    refresh(&again, &rt, Some("User.Read")).await.success();
    again.shutdown().await;
}

#[tokio::test]
async fn the_emulator_refuses_to_listen_on_a_non_loopback_address() {
    let refused = Emulator::builder()
        .start("0.0.0.0:0".parse().unwrap())
        .await;
    assert!(matches!(refused, Err(emulator::Error::NotLoopback(_))));
}
