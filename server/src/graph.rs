//! Microsoft Graph, the slice this app uses: `GET /v1.0/me`.

use serde::Deserialize;
use url::Url;

use crate::domain::Secret;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
    pub job_title: Option<String>,
    pub office_location: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Debug, Deserialize)]
struct GraphError {
    code: String,
    message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphCallError {
    #[error("Microsoft Graph answered HTTP {status}: {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Microsoft Graph could not be reached: {0}")]
    Unreachable(String),
}

pub async fn me(http: &reqwest::Client, base: &Url, token: &Secret) -> Result<Me, GraphCallError> {
    let url = format!("{}/v1.0/me", base.as_str().trim_end_matches('/'));
    let response = http
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|err| GraphCallError::Unreachable(err.without_url().to_string()))?;
    let status = response.status().as_u16();
    if status == 200 {
        return response
            .json::<Me>()
            .await
            .map_err(|err| GraphCallError::Unreachable(err.without_url().to_string()));
    }
    let body = response.bytes().await.unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<GraphErrorBody>(&body) {
        Ok(b) => (b.error.code, b.error.message),
        // Not Graph's error shape: say so, without passing an unknown body to the browser.
        Err(_) => (
            "unreadable".into(),
            format!("an answer that is not a Graph error ({} bytes)", body.len()),
        ),
    };
    Err(GraphCallError::Api {
        status,
        code,
        message,
    })
}
