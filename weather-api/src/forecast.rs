//! `GET /weatherforecast`: five days of forecast for the caller, as the .NET template's API.

use axum::Json;
use serde::{Deserialize, Serialize};

use crate::bearer::ValidatedToken;

/// One day of forecast (the .NET template's `WeatherForecast`, camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forecast {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Degrees Celsius.
    pub temperature_c: i32,
    /// Degrees Fahrenheit.
    pub temperature_f: i32,
    /// In words.
    pub summary: String,
}

const SUMMARIES: [&str; 10] = [
    "Freezing",
    "Bracing",
    "Chilly",
    "Cool",
    "Mild",
    "Warm",
    "Balmy",
    "Hot",
    "Sweltering",
    "Scorching",
];

pub async fn get(token: ValidatedToken) -> Json<Vec<Forecast>> {
    let today = jsonwebtoken::get_current_timestamp() / 86_400;
    // Varies by day and by caller, stable within a day: enough to tell calls apart.
    let seed = token
        .object_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    let forecasts = (1..=5)
        .map(|offset| {
            let day = today + offset;
            let mix = (seed ^ day.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 75;
            let temperature_c = mix as i32 - 20;
            Forecast {
                date: civil_date(day),
                temperature_c,
                temperature_f: 32 + (temperature_c as f64 / 0.5556) as i32,
                summary: SUMMARIES[(mix as usize * SUMMARIES.len()) / 75].to_owned(),
            }
        })
        .collect();
    tracing::info!(oid = %token.object_id, "served a forecast");
    Json(forecasts)
}

/// Days from 1970-01-01 to 9999-12-31, the last date this API writes.
const LAST_DAY: u64 = 2_932_896;

/// `YYYY-MM-DD` for days since 1970-01-01, at most 9999-12-31 (whatever range the `time`
/// crate is built with: another crate may turn its `large-dates` on).
fn civil_date(days: u64) -> String {
    // Clamped first: `Duration::days` panics on overflow.
    let days = time::Duration::days(i64::try_from(days.min(LAST_DAY)).unwrap_or_default());
    time::OffsetDateTime::UNIX_EPOCH
        .saturating_add(days)
        .date()
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil() {
        assert_eq!(super::civil_date(0), "1970-01-01");
        assert_eq!(super::civil_date(11_016), "2000-02-29");
        assert_eq!(super::civil_date(u64::MAX), "9999-12-31");
    }
}
