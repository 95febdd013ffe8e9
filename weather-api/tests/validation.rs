//! The Weather API against tokens minted by the Entra emulator: the valid call, and each
//! rejection with its status and `WWW-Authenticate` challenge.

use std::{sync::Arc, time::Duration};

use emulator::{Emulator, RunningEmulator, World, test_support::forge, well_known as wk};
use reqwest::StatusCode;
use weather_api::{BearerValidator, Forecast, ValidatorConfig};

struct Setup {
    emulator: RunningEmulator,
    api: String,
}

async fn setup(clock_skew: Duration) -> Setup {
    setup_with(clock_skew, None).await
}

async fn setup_with(clock_skew: Duration, required_auth_context: Option<&str>) -> Setup {
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
        required_auth_context: required_auth_context.map(str::to_owned),
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

/// An access token for the web app (authenticated by its secret) by this grant.
async fn web_app_token(emu: &RunningEmulator, grant: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("client_id", wk::WEB_APP_CLIENT_ID),
        ("client_secret", wk::WEB_APP_SECRET),
    ];
    form.extend_from_slice(grant);
    let endpoint = format!("{}/oauth2/v2.0/token", emu.authority(wk::TENANT_ID));
    let response = reqwest::Client::new().post(endpoint).form(&form).send();
    let body: serde_json::Value = response.await.unwrap().json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// A user's token by the password grant (the emulator's test-only ROPC) for `scope`.
async fn token(emu: &RunningEmulator, user: &str, scope: &str) -> String {
    token_with_claims(emu, user, scope, None).await
}

/// [`token`] with a `claims` request.
async fn token_with_claims(
    emu: &RunningEmulator,
    user: &str,
    scope: &str,
    claims: Option<&str>,
) -> String {
    let mut grant = vec![
        ("grant_type", "password"),
        ("username", user),
        ("password", wk::USER_PASSWORD),
        ("scope", scope),
    ];
    grant.extend(claims.map(|c| ("claims", c)));
    web_app_token(emu, &grant).await
}

async fn call(api: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{api}/weatherforecast"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Asserts the API refused with `status` and a challenge that names `named`; returns the
/// challenge.
#[track_caller]
fn assert_refused(response: &reqwest::Response, status: StatusCode, named: &str) -> String {
    assert_eq!(response.status(), status, "{named}");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains(named), "{named}: {challenge}");
    challenge.to_owned()
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
    let challenge = assert_refused(&none, StatusCode::UNAUTHORIZED, "Bearer");
    assert_eq!(challenge, r#"Bearer realm="weather-api""#);

    let garbage = call(&s.api, Some("not-a-token")).await;
    assert_refused(
        &garbage,
        StatusCode::UNAUTHORIZED,
        r#"error="invalid_token""#,
    );

    // A Microsoft Graph token: its header nonce makes the signature unverifiable.
    let graph = token(
        &s.emulator,
        wk::ADELE,
        "https://graph.microsoft.com/User.Read",
    )
    .await;
    let r = call(&s.api, Some(&graph)).await;
    assert_refused(&r, StatusCode::UNAUTHORIZED, "invalid_token");

    // A valid token for another API (the web app's own): wrong audience.
    let other = token(
        &s.emulator,
        wk::ADELE,
        &format!("{}/access_as_user", wk::WEB_APP_CLIENT_ID),
    )
    .await;
    let r = call(&s.api, Some(&other)).await;
    assert_refused(&r, StatusCode::UNAUTHORIZED, "InvalidAudience");

    // Tampered claims, re-encoded properly: a well-formed token in every part, so only the
    // signature check can catch it.
    let good = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&good)).await.status(), StatusCode::OK);
    for (case, tampered) in [
        (
            "another user's oid",
            forge::tamper(&good, |c| {
                c["oid"] = "00000000-0000-0000-0000-00000000beef".into();
            }),
        ),
        (
            "a wider scp",
            forge::tamper(&good, |c| c["scp"] = "Weather.Read Weather.Write".into()),
        ),
        (
            "the audience of this API on another API's token",
            forge::tamper(&other, |c| c["aud"] = wk::WEATHER_API_CLIENT_ID.into()),
        ),
    ] {
        let claims = forge::claims_of(&tampered);
        assert!(
            claims.is_object(),
            "{case}: the tampered token must stay well-formed"
        );
        let r = call(&s.api, Some(&tampered)).await;
        assert_refused(&r, StatusCode::UNAUTHORIZED, "InvalidSignature");
    }
}

/// The emulator's published key `kid` as an SPKI PEM: what anyone can download.
async fn public_pem(emu: &RunningEmulator, kid: &str) -> String {
    let discovery: serde_json::Value = reqwest::get(format!(
        "{}/v2.0/.well-known/openid-configuration",
        emu.authority(wk::TENANT_ID)
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let jwks: serde_json::Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("{kid} not in {jwks}"));
    forge::public_pem_of(jwk)
}

#[tokio::test]
async fn forged_tokens_are_refused_with_an_invalid_token_challenge() {
    use jsonwebtoken::{Algorithm, EncodingKey};
    let s = setup(Duration::from_secs(300)).await;
    let valid = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(call(&s.api, Some(&valid)).await.status(), StatusCode::OK);
    let kid = jsonwebtoken::decode_header(&valid).unwrap().kid.unwrap();
    let claims = forge::claims_of(&valid);
    let signature = valid.rsplit('.').next().unwrap().to_owned();
    let pem = public_pem(&s.emulator, &kid).await;
    let hmac = EncodingKey::from_secret(pem.as_bytes()).unwrap();
    let attacker = forge::KeyPair::generate("attacker");
    let header = |alg: &str, kid: &str| serde_json::json!({ "alg": alg, "typ": "JWT", "kid": kid });
    // The attacker's RS256 signature under this header, over these claims.
    let by_attacker = |header: &serde_json::Value, claims: &serde_json::Value| {
        forge::forge(header, claims, Some((&attacker.signing, Algorithm::RS256)))
    };
    let unsigned = |alg: &str| forge::forge(&header(alg, &kid), &claims, None);
    let now = jsonwebtoken::get_current_timestamp();
    let mut expired = claims.clone();
    expired["exp"] = (now - 3600).into();
    expired["nbf"] = (now - 7200).into();
    expired["iat"] = (now - 7200).into();
    let mut oversized = claims.clone();
    oversized["pad"] = "x".repeat(200 * 1024).into();
    let mut no_kid = header("RS256", "");
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut embedded = header("RS256", "attacker");
    embedded["jwk"] = attacker.jwk.clone();
    let mut jku = header("RS256", "attacker");
    jku["jku"] = "http://127.0.0.1:9/keys".into();
    let mut nested = header("RS256", &kid);
    nested["cty"] = "JWT".into();
    let nested_signed = forge::nested(&nested, &valid, Some((&attacker.signing, Algorithm::RS256)));
    let nested_unsigned = forge::nested(&nested, &valid, None);
    let real_kid = header("RS256", &kid);

    let hmac_keyed =
        |header: &serde_json::Value| forge::forge(header, &claims, Some((&hmac, Algorithm::HS256)));
    let ps256 = forge::forge(
        &header("PS256", &kid),
        &claims,
        Some((&attacker.signing, Algorithm::PS256)),
    );
    let cut = valid.rfind('.').unwrap();

    // What the challenge names, and the tokens that must make it say so.
    let expected: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "InvalidSignature",
            vec![
                (
                    "another key under the real kid",
                    by_attacker(&real_kid, &claims),
                ),
                (
                    "RS256 header over an HMAC with the public key",
                    hmac_keyed(&real_kid),
                ),
                ("a 200 KiB forged token", by_attacker(&real_kid, &oversized)),
            ],
        ),
        (
            "not a JWT",
            vec![
                ("alg none", unsigned("none")),
                (
                    "alg none, real signature kept",
                    format!("{}{signature}", unsigned("none")),
                ),
                ("alg None", unsigned("None")),
            ],
        ),
        (
            "unexpected algorithm",
            vec![
                (
                    "HS256 keyed with the API's RSA public key",
                    hmac_keyed(&header("HS256", &kid)),
                ),
                ("PS256 by another key under the real kid", ps256),
            ],
        ),
        ("no `kid`", vec![("no kid", by_attacker(&no_kid, &claims))]),
        (
            "no signing key",
            vec![
                (
                    "kid path injection",
                    by_attacker(&header("RS256", "../../x"), &claims),
                ),
                (
                    "kid with CR LF",
                    by_attacker(&header("RS256", "x\r\nSet-Cookie: a=b"), &claims),
                ),
                (
                    "an 8 KiB kid",
                    by_attacker(&header("RS256", &"k".repeat(8 * 1024)), &claims),
                ),
                (
                    "the attacker's key embedded as jwk",
                    by_attacker(&embedded, &claims),
                ),
                (
                    "the attacker's key set named by jku",
                    by_attacker(&jku, &claims),
                ),
            ],
        ),
        (
            "invalid_token",
            vec![
                ("expired and forged", by_attacker(&real_kid, &expired)),
                ("a valid token nested in a forged one", nested_signed),
                (
                    "a valid token nested, its own signature",
                    format!("{nested_unsigned}{signature}"),
                ),
                (
                    "the valid token without its signature",
                    valid[..=cut].to_owned(),
                ),
                ("two parts", valid[..cut].to_owned()),
                (
                    "five parts (JWE-shaped)",
                    format!("{valid}.{signature}.{signature}"),
                ),
            ],
        ),
    ];
    let cases = expected.into_iter().flat_map(|(named, tokens)| {
        tokens
            .into_iter()
            .map(move |(case, token)| (case, token, named))
    });
    for (case, token, named) in cases {
        let r = call(&s.api, Some(&token)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(r.headers().get("set-cookie").is_none(), "{case}");
        let header = assert_refused(&r, StatusCode::UNAUTHORIZED, r#"error="invalid_token""#);
        assert!(header.contains(named), "{case}: {header}");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&token[..40.min(token.len())]),
            "{case}: echoed"
        );
    }

    // A token past the server's header limits: refused before validation.
    let huge = by_attacker(
        &real_kid,
        &serde_json::json!({ "pad": "x".repeat(1024 * 1024) }),
    );
    match reqwest::Client::new()
        .get(format!("{}/weatherforecast", s.api))
        .bearer_auth(&huge)
        .send()
        .await
    {
        Ok(r) => assert!(
            matches!(r.status().as_u16(), 401 | 431),
            "a 1 MiB token: {}",
            r.status()
        ),
        // The server may close the connection while the head is still being sent.
        Err(err) => assert!(!err.is_timeout(), "{err}"),
    }
}

#[tokio::test]
async fn an_app_only_token_without_the_scope_is_forbidden() {
    let s = setup(Duration::from_secs(300)).await;
    let scope = format!("{}/.default", wk::WEATHER_API_ID_URI);
    let app_only = [("grant_type", "client_credentials"), ("scope", &scope)];
    let token = web_app_token(&s.emulator, &app_only).await;
    let r = call(&s.api, Some(&token)).await;
    let named = r#"error="insufficient_scope", scope="Weather.Read""#;
    assert_refused(&r, StatusCode::FORBIDDEN, named);
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
    assert_refused(&r, StatusCode::UNAUTHORIZED, "ExpiredSignature");
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

/// The claims MSAL sends for a client that declares it handles claims challenges.
const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

#[tokio::test]
async fn a_cp1_client_without_the_context_gets_the_insufficient_claims_challenge() {
    let s = setup_with(Duration::from_secs(300), Some("c1")).await;
    let token = token_with_claims(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE, Some(CP1)).await;
    let r = call(&s.api, Some(&token)).await;
    let header = assert_refused(
        &r,
        StatusCode::UNAUTHORIZED,
        r#"error="insufficient_claims""#,
    );
    assert!(header.contains(r#"cc_type="authcontext""#), "{header}");
    assert!(
        header.contains(&format!(r#"client_id="{}""#, wk::WEATHER_API_CLIENT_ID)),
        "{header}"
    );
    assert_eq!(
        emulator::test_support::challenge_claims(&header),
        weather_api::bearer::auth_context_claims("c1")
    );
}

/// A challenge a client cannot handle would only loop: a 403 that says why instead.
#[tokio::test]
async fn a_client_without_cp1_is_refused_with_403_and_the_reason() {
    let s = setup_with(Duration::from_secs(300), Some("c1")).await;
    let token = token(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let r = call(&s.api, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("www-authenticate").is_none());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "client_not_capable");
    let why = body["error_description"].as_str().unwrap();
    assert!(why.contains("c1") && why.contains("cp1"), "{why}");
}

/// The context is configuration: here one no policy protects, issued when asked for.
#[tokio::test]
async fn a_token_carrying_the_configured_context_is_served() {
    let s = setup_with(Duration::from_secs(300), Some("c7")).await;
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c7"}}}"#;
    let token =
        token_with_claims(&s.emulator, wk::ADELE, wk::WEATHER_API_SCOPE, Some(claims)).await;
    assert_eq!(call(&s.api, Some(&token)).await.status(), StatusCode::OK);
}
