//! Traces as an operator's collector receives them: the server exports over OTLP/HTTP to a
//! receiver these tests run, which decodes each request with OpenTelemetry's own protobuf
//! types. A test binary of its own: the trace pipeline is process-wide, and the other
//! tests run without one.

#[allow(unused_imports)]
#[path = "../api/common/mod.rs"]
mod common;

mod receiver;

use std::sync::OnceLock;

use reqwest::StatusCode;

use common::{ADELE, Seen, TestApp, location, query_param, session_cookie, spawn_app};
use receiver::Receiver;

/// The receiver, and the server's trace pipeline pointed at it, once per process.
fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let receiver = Receiver::start();
        // SAFETY: set before the pipeline is built, from the only thread that touches these
        // variables; nothing else in this process reads them concurrently.
        unsafe {
            std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
            std::env::set_var("OTEL_TRACES_SAMPLER", "always_on");
            std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
            std::env::set_var("OTEL_SERVICE_NAME", "entra-bff-under-test");
            // Production's log level: it must not switch the (`info`) spans off.
            std::env::set_var("RUST_LOG", "warn");
        }
        let telemetry = server::telemetry::init().expect("the trace pipeline starts");
        assert!(server::telemetry::exporting());
        // Kept for the process's life: the exporter sends what is buffered on its schedule.
        std::mem::forget(telemetry);
        receiver
    })
}

/// What the sign-in left that must never reach a span.
struct Secrets {
    cookie: String,
    code: String,
}

/// Signs Adele in step by step, keeping the authorization code and the session cookie.
async fn sign_in(app: &TestApp) -> Secrets {
    let login = app.get("/auth/login?return_to=/").await;
    let callback = app
        .emulator_pages(&app.client, &location(&login), ADELE, &mut Seen::default())
        .await;
    let code = query_param(&callback, "code");
    let response = app.client.get(&callback).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    Secrets {
        cookie: session_cookie(&response),
        code,
    }
}

#[tokio::test]
async fn a_sign_in_a_profile_and_a_call_api_view_are_each_one_connected_trace() {
    let receiver = receiver();
    let app = spawn_app(&[("SESSION_STORE", "sqlite")]).await;
    let secrets = sign_in(&app).await;
    app.profile().await;
    app.ok("call-api").await;
    let spans = receiver
        .wait_for(|s| s.named("GET /weatherforecast").is_some())
        .await;

    // The sign-in: the callback's server span holds the code redemption.
    let callback = spans
        .server("GET /auth/callback")
        .expect("the callback's server span");
    assert_eq!(
        callback.attr("http.route").as_deref(),
        Some("/auth/callback")
    );
    assert_eq!(
        callback.attr("http.response.status_code").as_deref(),
        Some("303")
    );
    let redemption = spans
        .in_trace(callback)
        .find(|s| s.attr("entra.grant_type").as_deref() == Some("authorization_code"))
        .expect("the code redemption in the callback's trace");
    assert!(spans.descends_from(redemption, callback));
    assert!(redemption.attr("entra.client_request_id").is_some());
    assert!(
        redemption.attr("entra.request_id").is_some(),
        "Entra's x-ms-request-id"
    );
    assert_eq!(
        redemption.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    // The session store's work is on the trace too.
    assert!(
        spans
            .in_trace(callback)
            .any(|s| s.attr("db.system.name").as_deref() == Some("sqlite")),
        "no store span under the callback"
    );

    // The profile: an On-Behalf-Of exchange for Graph, then Graph, in one trace.
    let graph = spans.named("GET /v1.0/me").expect("the Graph call");
    let profile = spans.root_of(graph);
    assert_eq!(profile.kind(), receiver::SERVER);
    assert!(profile.name.starts_with("POST /api/"), "{}", profile.name);
    let exchange = spans
        .in_trace(graph)
        .find(|s| s.attr("entra.grant_type").as_deref() == Some("on_behalf_of"))
        .expect("the OBO exchange before Graph");
    assert_eq!(exchange.attr("entra.operation").as_deref(), Some("token"));
    let obtained = spans
        .in_trace(graph)
        .find(|s| s.name == "token on_behalf_of")
        .expect("the token span");
    assert_eq!(obtained.attr("cache.hit").as_deref(), Some("false"));

    // The Call API view: the BFF's server span, its OBO exchange, its client span to the
    // Weather API, and the Weather API's own server span, all of one trace.
    let api_server = spans
        .server("GET /weatherforecast")
        .expect("the Weather API's server span");
    let api_client = spans.parent_of(api_server).expect("the BFF's call");
    assert_eq!(api_client.kind(), receiver::CLIENT);
    assert_eq!(api_client.attr("bff.api").as_deref(), Some("weather"));
    let page = spans.root_of(api_server);
    assert!(page.name.starts_with("POST /api/"), "{}", page.name);
    assert!(
        spans
            .in_trace(api_server)
            .any(|s| s.attr("entra.grant_type").as_deref() == Some("on_behalf_of")),
        "no OBO exchange in the Call API trace"
    );

    // tower-sessions' own span stays out of the trace; the store's spans hang from the request.
    assert!(spans.all.iter().all(|s| s.name != "call"));

    // Every span: the service's name, and nothing secret.
    assert!(
        spans
            .all
            .iter()
            .all(|s| s.service == "entra-bff-under-test")
    );
    spans.assert_holds_none_of(&[
        &secrets.cookie,
        &secrets.code,
        emulator::well_known::WEB_APP_SECRET,
    ]);
}

#[tokio::test]
async fn failures_are_error_spans_with_their_codes_and_the_problem_names_the_trace() {
    let receiver = receiver();
    // Graph fails: 503 with Graph's error body.
    let app = spawn_app(&[("SESSION_STORE", "memory"), ("PROFILE_TTL_SECS", "0")]).await;
    let secrets = sign_in(&app).await;
    app.admin(
        "faults",
        serde_json::json!({"endpoint": "graph", "kind": {"type": "status", "code": 401}, "count": 5}),
    )
    .await;
    let problem = common::problem_of(app.server_fn("profile").await).await;
    let trace_id = problem
        .request_trace_id
        .clone()
        .expect("the problem names this app's trace");
    let spans = receiver
        .wait_for(|s| {
            s.trace(&trace_id)
                .any(|s| s.attr("graph.error_code").is_some())
        })
        .await;
    let failed = spans
        .trace(&trace_id)
        .find(|s| s.attr("graph.error_code").is_some())
        .unwrap();
    assert_eq!(
        failed.attr("graph.error_code").as_deref(),
        Some("InvalidAuthenticationToken")
    );
    assert_eq!(failed.status_code(), receiver::ERROR);
    assert_eq!(
        failed.attr("http.response.status_code").as_deref(),
        Some("401")
    );

    // Entra refuses: a Graph token as the On-Behalf-Of assertion (AADSTS50013).
    let wrong = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("API_SCOPE", "https://graph.microsoft.com/User.Read"),
    ])
    .await;
    let wrong_secrets = sign_in(&wrong).await;
    let problem = common::problem_of(wrong.server_fn("profile").await).await;
    assert_eq!(problem.code, Some(50013), "{problem:?}");
    let trace_id = problem.request_trace_id.clone().expect("the trace id");
    let spans = receiver
        .wait_for(|s| {
            s.trace(&trace_id)
                .any(|s| s.attr("entra.error_code").is_some())
        })
        .await;
    let refused = spans
        .trace(&trace_id)
        .find(|s| s.attr("entra.error_code").is_some())
        .unwrap();
    assert_eq!(refused.attr("entra.error_code").as_deref(), Some("50013"));
    assert_eq!(
        refused.attr("entra.grant_type").as_deref(),
        Some("on_behalf_of")
    );
    assert_eq!(refused.status_code(), receiver::ERROR);
    // Entra's ids, as support asks for them, beside the trace id on the problem.
    assert!(problem.trace_id.is_some() && problem.correlation_id.is_some());
    assert_eq!(refused.attr("entra.trace_id"), problem.trace_id);
    assert_eq!(refused.attr("entra.correlation_id"), problem.correlation_id);
    assert!(refused.attr("entra.client_request_id").is_some());
    // The catalogue's meaning is the event's message.
    let event = refused
        .events
        .iter()
        .find(|e| e.name.contains("the identity provider refused"))
        .expect("the refusal event");
    assert!(event.name.contains(crate_title(50013)), "{}", event.name);

    spans.assert_holds_none_of(&[
        &secrets.cookie,
        &secrets.code,
        &wrong_secrets.cookie,
        &wrong_secrets.code,
        emulator::well_known::WEB_APP_SECRET,
    ]);
}

/// The catalogue's title of `code` as the server writes it.
fn crate_title(code: u32) -> &'static str {
    server::aadsts::title_of(code).expect("a catalogued code")
}

#[tokio::test]
async fn an_inbound_traceparent_is_joined_only_when_trusted() {
    let receiver = receiver();
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{caller_trace}-{caller_span}-01");
    let call = |app: &TestApp| {
        app.client
            .get(app.url("/healthz"))
            .header("traceparent", traceparent.clone())
            .send()
    };

    let trusting = spawn_app(&[("SESSION_STORE", "memory"), ("TRUST_TRACEPARENT", "true")]).await;
    assert_eq!(call(&trusting).await.unwrap().status(), StatusCode::OK);
    let spans = receiver
        .wait_for(|s| s.trace(caller_trace).next().is_some())
        .await;
    let joined = spans.trace(caller_trace).next().unwrap();
    assert_eq!(joined.parent_hex(), caller_span);

    let wary = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let before = receiver.snapshot().all.len();
    assert_eq!(call(&wary).await.unwrap().status(), StatusCode::OK);
    let spans = receiver
        .wait_for(|s| {
            s.all.len() > before && s.all[before..].iter().any(|s| s.name == "GET /healthz")
        })
        .await;
    assert_eq!(
        spans.trace(caller_trace).count(),
        1,
        "an untrusted traceparent joined the caller's trace"
    );
}
