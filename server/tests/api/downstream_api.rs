//! The downstream Weather API called On-Behalf-Of the user: its own OBO token, cached
//! separately from the Graph token, accepted by the API's validator.

use crate::common::spawn_signed_in;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_weather_api_is_called_with_its_own_cached_obo_token() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    app.reset_emulator_stats().await;

    let first = app.server_fn("call-api").await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["forecasts"].as_array().unwrap().len(), 5, "{first}");
    assert_eq!(first["token_from_cache"], false);
    let aud = first["token"]["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == "aud")
        .unwrap()["value"]
        .clone();
    assert_eq!(aud, emulator::well_known::WEATHER_API_CLIENT_ID);

    let second: Value = app.server_fn("call-api").await.json().await.unwrap();
    assert_eq!(second["token_from_cache"], true);
    // The Graph token is a separate cache entry: one more exchange, for Graph.
    let profile = app.server_fn("profile").await;
    assert_eq!(profile.status(), StatusCode::OK);
    let stats = app.emulator_stats().await;
    assert_eq!(stats["obo"], 2, "one per resource: {stats}");
}
