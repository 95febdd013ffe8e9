//! The Weather API against tokens minted by the Entra emulator: the valid call, and each
//! rejection with its status and `WWW-Authenticate` challenge.

use std::{sync::Arc, time::Duration};

use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use reqwest::StatusCode;
use weather_api::{BearerValidator, Forecast, ValidatorConfig};

struct Setup {
    emulator: RunningEmulator,
    api: String,
}

async fn setup(clock_skew: Duration) -> Setup {
    setup_with(clock_skew, false).await
}

async fn setup_with(clock_skew: Duration, require_mfa: bool) -> Setup {
    let emulator = Emulator::builder()
        .world(World::well_known())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = ValidatorConfig {
        authority_host: url::Url::parse(emulator.base_url()).unwrap(),
        tenant_id: wk::TENANT_ID.into(),
        audiences: vec![
            wk::WEATHER_API_CLIENT_ID.into(),
            wk::WEATHER_API_ID_URI.into(),
        ],
        required_scope: "Weather.Read".into(),
        clock_skew,
        require_mfa,
    };
    let validator = BearerValidator::discover(reqwest::Client::new(), config)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        async move { axum::serve(listener, weather_api::router(Arc::new(validator))).await },
    );
    Setup { emulator, api }
}

/// A token by the password grant (the emulator's test-only ROPC) for `scope`.
async fn token(emu: &RunningEmulator, user: &str, scope: &str) -> String {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v2.0/token",
            emu.authority(wk::TENANT_ID)
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", user),
            ("password", wk::USER_PASSWORD),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn call(api: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{api}/weatherforecast"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_weather_read_token_gets_five_days_of_forecast() {
    let s = setup(Duration::from_secs(300)).await;
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let response = call(&s.api, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let forecasts: Vec<Forecast> = response.json().await.unwrap();
    assert_eq!(forecasts.len(), 5);
}

#[tokio::test]
async fn each_bad_token_is_refused_with_an_rfc_6750_challenge() {
    let s = setup(Duration::from_secs(300)).await;

    let none = call(&s.api, None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&none), r#"Bearer realm="weather-api""#);

    let garbage = call(&s.api, Some("not-a-token")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&garbage).contains(r#"error="invalid_token""#));

    // A Microsoft Graph token: its header nonce makes the signature unverifiable.
    let graph = token(
        &s.emulator,
        wk::ADELE,
        "https://graph.microsoft.com/User.Read",
    )
    .await;
    let r = call(&s.api, Some(&graph)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&r).contains("invalid_token"), "{}", challenge(&r));

    // A valid token for another API (the web app's own): wrong audience.
    let other = token(
        &s.emulator,
        wk::ADELE,
        &format!("{}/access_as_user", wk::WEB_APP_CLIENT_ID),
    )
    .await;
    let r = call(&s.api, Some(&other)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&r).contains("InvalidAudience"),
        "{}",
        challenge(&r)
    );

    // A tampered payload: the signature no longer matches.
    let good = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let r = call(&s.api, Some(&parts.join("."))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_app_only_token_without_the_scope_is_forbidden() {
    let s = setup(Duration::from_secs(300)).await;
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/oauth2/v2.0/token",
            s.emulator.authority(wk::TENANT_ID)
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", &format!("{}/.default", wk::WEATHER_API_ID_URI)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = call(&s.api, body["access_token"].as_str()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&r).contains(r#"error="insufficient_scope", scope="Weather.Read""#));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let s = setup(Duration::ZERO).await;
    s.emulator.set_lifetimes(emulator::LifetimesUpdate {
        access_token: Some(1),
        ..Default::default()
    });
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = call(&s.api, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&r).contains("ExpiredSignature"),
        "{}",
        challenge(&r)
    );
}

#[tokio::test]
async fn after_a_key_rollover_new_tokens_are_accepted_by_refetching_the_keys() {
    let s = setup(Duration::from_secs(300)).await;
    let before = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&before)).await.status(), StatusCode::OK);
    s.emulator.roll_keys(Duration::from_secs(3600)).unwrap();
    // The validator's key set is older than its refetch interval by now.
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let after = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_ne!(
        jsonwebtoken::decode_header(&before).unwrap().kid,
        jsonwebtoken::decode_header(&after).unwrap().kid
    );
    assert_eq!(call(&s.api, Some(&after)).await.status(), StatusCode::OK);
    // The old key is kept for its grace period: earlier tokens still work.
    assert_eq!(call(&s.api, Some(&before)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_api_that_requires_mfa_answers_an_insufficient_claims_challenge() {
    use base64::Engine as _;
    let s = setup_with(Duration::from_secs(300), true).await;
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let r = call(&s.api, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(&r);
    assert!(
        header.contains(r#"error="insufficient_claims""#),
        "{header}"
    );
    let encoded = header
        .split("claims=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(
        decoded,
        weather_api::bearer::MFA_CLAIMS_CHALLENGE.as_bytes()
    );
}
