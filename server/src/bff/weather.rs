//! The Call API page's showcase: `GET /weatherforecast` at the downstream API named
//! `weather`, its forecast as rows, and the OBO token that was sent, decoded.

use app::{
    error::AppError,
    model::{ApiCall, ForecastRow, TokenKind},
};
use http::request::Parts;

use super::{BffService, Transient, api_call::ApiRequest, api_problem, incident};
use crate::{config::WEATHER, entra::decode_unverified, inspect};

/// One day of the Weather API's answer (the .NET template's `WeatherForecast`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Forecast {
    date: String,
    temperature_c: i32,
    #[serde(default)]
    summary: Option<String>,
}

impl BffService {
    pub(super) async fn weather_forecast(&self, request: &Parts) -> Result<ApiCall, AppError> {
        let Some(weather) = self.apis.get(WEATHER) else {
            return Err(api_problem(
                "No downstream API is configured",
                None,
                "This app has no downstream API to call.".into(),
                "Set DOWNSTREAM_API__WEATHER__BASE_URL and DOWNSTREAM_API__WEATHER__SCOPES (see \
                 README.md)."
                    .into(),
                Transient::No,
            ));
        };
        let path = "/weatherforecast";
        let url = format!("{}{path}", weather.base_url.as_str().trim_end_matches('/'));
        let (response, obtained) = self
            .call(
                request,
                &self.signed_in(request).await?,
                weather,
                ApiRequest {
                    method: http::Method::GET,
                    path,
                    query: None,
                    headers: http::HeaderMap::new(),
                    body: None,
                },
            )
            .await?;
        let status = response.status().as_u16();
        if status != 200 {
            // The API's RFC 6750 challenge says why it refused the token.
            let challenge = response
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no WWW-Authenticate header")
                .to_owned();
            return Err(api_problem(
                "The downstream API refused the call",
                Some(status),
                challenge,
                "Check that the scopes of the API weather (DOWNSTREAM_API__WEATHER__SCOPES) are \
                 its exposed scope and that the API accepts this tenant's tokens."
                    .into(),
                Transient::when(status >= 500 || status == 429),
            ));
        }
        let forecasts: Vec<Forecast> = response.json().await.map_err(|err| {
            api_problem(
                "The downstream API's answer could not be read",
                Some(status),
                err.without_url().to_string(),
                "Check that DOWNSTREAM_API__WEATHER__BASE_URL points at the Weather API.".into(),
                Transient::No,
            )
        })?;
        let (header, claims) = decode_unverified(obtained.token.expose())
            .ok_or_else(|| incident("the OBO token is not a JWT"))?;
        Ok(ApiCall {
            url,
            forecasts: forecasts
                .into_iter()
                .map(|f| ForecastRow {
                    date: f.date,
                    temperature_c: f.temperature_c,
                    summary: f.summary.unwrap_or_default(),
                })
                .collect(),
            token: inspect::decoded(TokenKind::Downstream, &header, &claims),
            token_from_cache: obtained.source.is_cache(),
        })
    }
}
