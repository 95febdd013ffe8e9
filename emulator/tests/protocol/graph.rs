//! The Graph slice: `/me` with `$select` and the photo, its own token validation (audience,
//! signature, app-only, expiry) with Graph-shaped errors, and injected faults answered with
//! Graph's statuses, headers and error bodies.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A Graph token for `upn`, through OBO.
async fn graph_token(emu: &RunningEmulator, upn: &str) -> String {
    let assertion = user_token(emu, upn).await;
    let g = obo(emu, &assertion, "https://graph.microsoft.com/User.Read").await;
    access_token(&g.success()).to_owned()
}

#[tokio::test]
async fn graph_me_answers_the_users_profile_as_graph_does() {
    let emu = start().await;
    let me = graph_me(&emu, &graph_token(&emu, wk::ADELE).await).await;
    assert_eq!(me["id"], wk::ADELE_OID);
    assert_eq!(me["displayName"], "Adele Vance");
    let context = "https://graph.microsoft.com/v1.0/$metadata#users/$entity";
    assert_eq!(me["@odata.context"], context);
    assert!(me["mobilePhone"].is_null(), "{me}");
    assert_eq!(emu.stats().graph, 1);
}

#[tokio::test]
async fn graph_me_with_select_answers_only_those_properties_and_the_context() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::ADELE).await;
    let r = graph_get(&emu, "/v1.0/me?$select=displayName,mail", Some(&gt)).await;
    let me: Value = r.json().await.unwrap();
    assert_eq!(me.as_object().unwrap().len(), 3, "{me}");
    assert_eq!(me["mail"], wk::ADELE);
}

#[tokio::test]
async fn graph_me_photo_is_a_png() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::ADELE).await;
    let r = graph_get(&emu, "/v1.0/me/photo/$value", Some(&gt)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
}

/// A Graph error answer: status, headers and body, after asserting the body's `innerError`
/// has Graph's `date`, `request-id` and `client-request-id`.
async fn graph_error(r: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap();
    for k in ["date", "request-id", "client-request-id"] {
        assert!(body["error"]["innerError"][k].is_string(), "{k}: {body}");
    }
    (status, headers, body)
}

#[tokio::test]
async fn a_user_without_a_photo_gets_404_image_not_found() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::MEGAN).await;
    let r = graph_get(&emu, "/v1.0/me/photo/$value", Some(&gt)).await;
    let (status, _, e) = graph_error(r).await;
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "ImageNotFound");
}

/// `/v1.0/me` with `token` (or none), expected to be refused with `status`: the body's text.
async fn me_refused(emu: &RunningEmulator, token: Option<&str>, status: u16) -> String {
    let r = graph_get(emu, "/v1.0/me", token).await;
    assert_eq!(r.status(), status);
    text(r).await
}

#[tokio::test]
async fn graph_refuses_a_token_for_another_audience_with_401_invalid_audience() {
    let emu = start().await;
    let api_token = user_token(&emu, wk::ADELE).await;
    let r = graph_get(&emu, "/v1.0/me", Some(&api_token)).await;
    assert!(r.headers().contains_key("www-authenticate"));
    let (status, _, e) = graph_error(r).await;
    assert_eq!(status, 401);
    assert_eq!(e["error"]["code"], "InvalidAuthenticationToken");
    let message = "Access token validation failure. Invalid audience.";
    assert_eq!(e["error"]["message"], message);
}

#[tokio::test]
async fn graph_refuses_something_that_is_not_a_jwt_with_401_and_80049217() {
    let emu = start().await;
    let body = me_refused(&emu, Some("garbage"), 401).await;
    assert!(body.contains("80049217"), "{body}");
}

#[tokio::test]
async fn graph_refuses_a_request_without_a_token_with_401() {
    let emu = start().await;
    me_refused(&emu, None, 401).await;
}

#[tokio::test]
async fn graph_refuses_a_graph_token_signed_by_another_emulators_key_with_401() {
    let (emu, other) = (start().await, start().await);
    let g = password(&other, wk::ADELE, "User.Read").await.success();
    me_refused(&emu, Some(access_token(&g)), 401).await;
}

#[tokio::test]
async fn graph_me_with_an_app_only_token_is_400() {
    let emu = start().await;
    let cc = client_credentials(&emu, "https://graph.microsoft.com/.default").await;
    me_refused(&emu, Some(access_token(&cc.success())), 400).await;
}

#[tokio::test]
async fn graph_refuses_an_expired_token_with_401_lifetime_validation_failed() {
    let emu = start().await;
    expire_after_one_second(&emu, |l| &mut l.access_token);
    let g = password(&emu, wk::ADELE, "User.Read").await.success();
    wait_past_one_second().await;
    let body = me_refused(&emu, Some(access_token(&g)), 401).await;
    let message = "Lifetime validation failed, the token is expired.";
    assert!(body.contains(message), "{body}");
}

/// Injects `fault` through the admin surface.
async fn add_fault(emu: &RunningEmulator, fault: Value) {
    let r = client()
        .post(admin_url(emu, "faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Adele's `/v1.0/me`, expected to fail: the Graph error.
async fn adeles_me_fails(emu: &RunningEmulator, gt: &str) -> (u16, HeaderMap, Value) {
    graph_error(graph_get(emu, "/v1.0/me", Some(gt)).await).await
}

/// The token "expired" under the app's feet: 401 for as many requests as the fault's count.
#[tokio::test]
async fn a_graph_401_fault_answers_an_expired_token_error_until_used_up() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::ADELE).await;
    add_fault(
        &emu,
        json!({"endpoint": "graph", "kind": {"type": "status", "code": 401}, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let (status, headers, body) = adeles_me_fails(&emu, &gt).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        let message = "Access token has expired or is not yet valid.";
        assert_eq!(body["error"]["message"], message);
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
    }
    graph_me(&emu, &gt).await;
}

#[tokio::test]
async fn graph_429_and_503_faults_answer_graphs_codes_with_retry_after() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::ADELE).await;
    for (status, code) in [(429, "TooManyRequests"), (503, "ServiceUnavailable")] {
        let kind = json!({"type": "status", "code": status, "retry_after": 3});
        add_fault(&emu, json!({"endpoint": "graph", "kind": kind, "count": 1})).await;
        let (s, headers, body) = adeles_me_fails(&emu, &gt).await;
        assert_eq!((s, &body["error"]["code"]), (status, &json!(code)));
        assert_eq!(headers["retry-after"], "3");
        assert!(!headers.contains_key("www-authenticate"));
    }
}

/// A 503 fault on every endpoint, without `retry_after`.
fn outage() -> Value {
    json!({"endpoint": "all", "kind": {"type": "status", "code": 503}, "count": 2})
}

#[tokio::test]
async fn a_fault_without_retry_after_sends_no_retry_after_header() {
    let emu = start().await;
    let gt = graph_token(&emu, wk::ADELE).await;
    add_fault(&emu, outage()).await;
    let (s, headers, body) = adeles_me_fails(&emu, &gt).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (503, &json!("ServiceUnavailable"))
    );
    assert!(!headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_fault_on_all_endpoints_keeps_entras_error_body_at_the_token_endpoint() {
    let emu = start().await;
    add_fault(&emu, outage()).await;
    let r = password(&emu, wk::ADELE, "User.Read").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["error"], "temporarily_unavailable");
}
