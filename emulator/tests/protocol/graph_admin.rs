//! The Graph slice (its own token validation and Graph-shaped errors), the admin surface
//! (stats, faults, key rollover, lifetimes, revocation, grants), HTTPS and key persistence.

use crate::common::*;
use emulator::{Emulator, Fault, FaultEndpoint, FaultKind, TlsConfig, well_known as wk};
use serde_json::{Value, json};

async fn graph_get(
    emu: &emulator::RunningEmulator,
    path: &str,
    token: Option<&str>,
) -> (u16, reqwest::Response) {
    let mut r = client().get(format!("{}{path}", emu.graph_base_url()));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r)
}

#[tokio::test]
async fn graph_me_select_and_photo() {
    let emu = start().await;
    let assertion = user_token(&emu, wk::ADELE).await;
    let (_, g) = obo(&emu, &assertion, "https://graph.microsoft.com/User.Read").await;
    let gt = g["access_token"].as_str().unwrap();
    let (s, r) = graph_get(&emu, "/v1.0/me", Some(gt)).await;
    assert_eq!(s, 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["id"], wk::ADELE_OID);
    assert_eq!(me["displayName"], "Adele Vance");
    assert_eq!(
        me["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    );
    assert!(me["mobilePhone"].is_null());
    let (_, r) = graph_get(&emu, "/v1.0/me?$select=displayName,mail", Some(gt)).await;
    let me: Value = r.json().await.unwrap();
    assert_eq!(me.as_object().unwrap().len(), 3, "{me}");
    assert_eq!(me["mail"], wk::ADELE);
    let (s, r) = graph_get(&emu, "/v1.0/me/photo/$value", Some(gt)).await;
    assert_eq!(s, 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    // Megan has no photo.
    let megan = user_token(&emu, wk::MEGAN).await;
    let (_, g) = obo(&emu, &megan, "User.Read").await;
    let (s, r) = graph_get(&emu, "/v1.0/me/photo/$value", g["access_token"].as_str()).await;
    assert_eq!(s, 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "ImageNotFound");
    assert!(e["error"]["innerError"]["request-id"].is_string());
    assert_eq!(emu.stats().graph, 4);
}

#[tokio::test]
async fn graph_rejects_tokens_it_should() {
    let emu = start().await;
    let api_token = user_token(&emu, wk::ADELE).await;
    let (s, r) = graph_get(&emu, "/v1.0/me", Some(&api_token)).await;
    assert_eq!(s, 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        e["error"]["message"],
        "Access token validation failure. Invalid audience."
    );
    let (s, r) = graph_get(&emu, "/v1.0/me", Some("garbage")).await;
    assert_eq!(s, 401);
    assert!(r.text().await.unwrap().contains("80049217"));
    let (s, _) = graph_get(&emu, "/v1.0/me", None).await;
    assert_eq!(s, 401);
    // A Graph token from another emulator (other keys).
    let other = start().await;
    let (_, g) = password(&other, wk::ADELE, "User.Read").await;
    let (s, _) = graph_get(&emu, "/v1.0/me", g["access_token"].as_str()).await;
    assert_eq!(s, 401);
    // App-only Graph token on /me.
    let (_, cc) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let (s, _) = graph_get(&emu, "/v1.0/me", cc["access_token"].as_str()).await;
    assert_eq!(s, 400);
    // Expired.
    emu.set_lifetimes(emulator::LifetimesUpdate {
        access_token: Some(1),
        ..Default::default()
    });
    let (_, g) = password(&emu, wk::ADELE, "User.Read").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, r) = graph_get(&emu, "/v1.0/me", g["access_token"].as_str()).await;
    assert_eq!(s, 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Lifetime validation failed, the token is expired.")
    );
}

#[tokio::test]
async fn admin_surface_over_http() {
    let emu = start().await;
    let c = client();
    let admin = |p: &str| format!("{}/_emulator/{p}", emu.base_url());
    // A web page cannot drive the admin surface (cross-site request forgery).
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = c
            .post(admin("keys/roll"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
    }
    password(
        &emu,
        wk::ADELE,
        &format!("{} offline_access", wk::WEB_APP_SCOPE),
    )
    .await;
    let stats: Value = c
        .get(admin("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["password"], 1);
    assert_eq!(stats["token_total"], 1);
    assert_eq!(
        c.post(admin("stats/reset")).send().await.unwrap().status(),
        204
    );
    assert_eq!(emu.stats().token_total, 0);
    // Grants (without token values).
    let grants: Value = c
        .get(admin("grants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grants[0]["upn"], wk::ADELE);
    assert!(
        !grants.to_string().contains("\"1."),
        "no refresh token values"
    );
    let r: Value = c
        .post(admin(&format!("users/{}/revoke", wk::ADELE)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["revoked"], 1);
    // Lifetimes.
    let lt: Value = c
        .post(admin("lifetimes"))
        .json(&json!({"access_token": 120}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lt["access_token_secs"], 120);
    let (_, b) = password(&emu, wk::ADELE, "User.Read").await;
    assert_eq!(b["expires_in"], 120);
    // Faults: a 429 with Retry-After once, then normal service.
    let r = c.post(admin("faults")).json(&json!({"endpoint": "token", "kind": {"type": "status", "code": 429, "retry_after": 7}, "count": 1})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(token_url(&emu))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let (s, _) = password(&emu, wk::ADELE, "User.Read").await;
    assert_eq!(s, 200);
    // Latency on discovery until cleared.
    c.post(admin("faults"))
        .json(&json!({"endpoint": "discovery", "kind": {"type": "latency", "ms": 300}}))
        .send()
        .await
        .unwrap();
    let t = std::time::Instant::now();
    c.get(format!(
        "{}/v2.0/.well-known/openid-configuration",
        emu.authority(wk::TENANT_ID)
    ))
    .send()
    .await
    .unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(
        c.delete(admin("faults")).send().await.unwrap().status(),
        204
    );
    // Key rollover: new kid first, old one still published.
    let r: Value = c
        .post(admin("keys/roll"))
        .json(&json!({"grace_secs": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["published"].as_array().unwrap().len(), 2);
    assert_eq!(jwks(&emu).await.keys.len(), 2);
}

#[tokio::test]
async fn timeout_fault_hangs_until_the_client_gives_up() {
    let emu = start().await;
    emu.set_fault(Fault {
        endpoint: FaultEndpoint::Jwks,
        kind: FaultKind::Timeout,
        count: Some(1),
    });
    let c = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let r = c
        .get(format!(
            "{}/discovery/v2.0/keys",
            emu.authority(wk::TENANT_ID)
        ))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    let r = c
        .get(format!(
            "{}/discovery/v2.0/keys",
            emu.authority(wk::TENANT_ID)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn key_rollover_keeps_old_tokens_valid_during_grace() {
    let emu = start().await;
    let old = user_token(&emu, wk::ADELE).await;
    let old_kid = header(&old)["kid"].as_str().unwrap().to_string();
    let new_kid = emu.roll_keys(std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(emu.kids(), vec![new_kid.clone(), old_kid.clone()]);
    let fresh = user_token(&emu, wk::ADELE).await;
    assert_eq!(header(&fresh)["kid"], new_kid);
    verify(&emu, &old, wk::WEB_APP_CLIENT_ID, V1_ISSUER)
        .await
        .unwrap();
    let (s, _) = obo(&emu, &old, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "old key accepted during grace");
    // Zero grace: the previous keys are dropped at once.
    emu.roll_keys(std::time::Duration::ZERO).unwrap();
    assert!(!emu.kids().contains(&new_kid));
    let (s, e) = obo(&emu, &fresh, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50013);
}

#[tokio::test]
async fn admin_refuses_requests_without_a_loopback_peer() {
    use tower::ServiceExt;
    let emu = start().await;
    let app = emulator::router(emu.state().clone());
    let r = app
        .oneshot(
            axum::http::Request::get("/_emulator/stats")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn https_with_generated_certificate_and_keys_persist_in_the_data_dir() {
    let dir = std::env::temp_dir().join(format!("emu-data-{}", uuid::Uuid::new_v4()));
    let tls = TlsConfig::generate().unwrap();
    let start = |tls: Option<TlsConfig>| {
        Emulator::builder()
            .data_dir(Some(dir.clone()))
            .tls(tls)
            .start("127.0.0.1:0".parse().unwrap())
    };
    let emu = start(Some(tls.clone())).await.unwrap();
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    let mut builder = reqwest::Client::builder();
    for cert in reqwest::Certificate::from_pem_bundle(tls.cert_pem.as_bytes()).unwrap() {
        builder = builder.add_root_certificate(cert);
    }
    let c = builder.build().unwrap();
    let doc: Value = c
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            emu.authority(wk::TENANT_ID)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let kids = emu.kids();
    let form = [
        ("grant_type", "password"),
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("client_secret", wk::WEB_APP_SECRET),
        ("username", wk::ADELE),
        ("password", wk::USER_PASSWORD),
        ("scope", "User.Read offline_access"),
    ];
    let b: Value = c
        .post(format!(
            "{}/oauth2/v2.0/token",
            emu.authority(wk::TENANT_ID)
        ))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rt = b["refresh_token"].as_str().unwrap().to_string();
    emu.shutdown().await;
    let again = start(None).await.unwrap();
    assert_eq!(again.kids(), kids, "signing keys survive a restart");
    let (s, b) = token(
        &again,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("refresh_token", &rt),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_eq!(s, 200, "refresh tokens survive a restart: {b}");
    again.shutdown().await;
    let refused = Emulator::builder()
        .start("0.0.0.0:0".parse().unwrap())
        .await;
    assert!(matches!(refused, Err(emulator::Error::NotLoopback(_))));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn graph_faults_answer_with_graphs_statuses_headers_and_error_bodies() {
    let emu = start().await;
    let assertion = user_token(&emu, wk::ADELE).await;
    let (_, g) = obo(&emu, &assertion, "User.Read").await;
    let gt = g["access_token"].as_str().unwrap();
    let c = client();
    let add = |fault: Value| {
        let c = c.clone();
        let url = format!("{}/_emulator/faults", emu.base_url());
        async move {
            let r = c.post(url).json(&fault).send().await.unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    let graph_error = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body: Value = r.json().await.unwrap();
        for k in ["date", "request-id", "client-request-id"] {
            assert!(body["error"]["innerError"][k].is_string(), "{k}: {body}");
        }
        (status, headers, body["error"]["code"].clone(), body)
    };
    // 401 for the next two requests: the token "expired" under the app's feet.
    add(json!({"endpoint": "graph", "kind": {"type": "status", "code": 401}, "count": 2})).await;
    for _ in 0..2 {
        let (_, r) = graph_get(&emu, "/v1.0/me", Some(gt)).await;
        let (status, headers, code, body) = graph_error(r).await;
        assert_eq!(status, 401);
        assert_eq!(code, "InvalidAuthenticationToken");
        assert_eq!(
            body["error"]["message"],
            "Access token has expired or is not yet valid."
        );
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer ")
        );
    }
    let (s, _) = graph_get(&emu, "/v1.0/me", Some(gt)).await;
    assert_eq!(s, 200, "the fault was used up");
    // 429 and 503 with Retry-After.
    for (status, code) in [(429, "TooManyRequests"), (503, "ServiceUnavailable")] {
        add(json!({"endpoint": "graph",
            "kind": {"type": "status", "code": status, "retry_after": 3}, "count": 1}))
        .await;
        let (_, r) = graph_get(&emu, "/v1.0/me", Some(gt)).await;
        let (s, headers, c, _) = graph_error(r).await;
        assert_eq!((s, c), (status, json!(code)));
        assert_eq!(headers["retry-after"], "3");
        assert!(!headers.contains_key("www-authenticate"));
    }
    // Without retry_after, no header; the token endpoint keeps Entra's body.
    add(json!({"endpoint": "all", "kind": {"type": "status", "code": 503}, "count": 2})).await;
    let (_, r) = graph_get(&emu, "/v1.0/me", Some(gt)).await;
    let (s, headers, c, _) = graph_error(r).await;
    assert_eq!((s, c), (503, json!("ServiceUnavailable")));
    assert!(!headers.contains_key("retry-after"));
    let (s, e) = password(&emu, wk::ADELE, "User.Read").await;
    assert_eq!(s, 503);
    assert_eq!(e["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn admin_refuses_requests_addressed_to_a_host_name_other_than_loopback() {
    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches the
    // loopback peer check with its own host name in `Host`.
    let emu = start().await;
    let c = client();
    let port = emu.local_addr().port();
    let stats = format!("{}/_emulator/stats", emu.base_url());
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("[::2]:{port}"),
    ] {
        let r = c.get(&stats).header("host", &host).send().await.unwrap();
        assert_eq!(r.status(), 403, "{host}");
        let body = r.text().await.unwrap();
        assert!(body.contains("Host"), "{host}: {body}");
    }
    for host in [
        format!("localhost:{port}"),
        "LocalHost".to_string(),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "[::1]".to_string(),
    ] {
        let r = c.get(&stats).header("host", &host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
}
