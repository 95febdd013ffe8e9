//! How a request reaches the identity provider: in a client span that names what it is
//! (a token request by its grant type), carrying a fresh `client-request-id`, with Entra's
//! refusal recorded on the span and logged with the ids support asks for
//! ([`crate::telemetry::http::EntraCall`]).

use axum::body::Bytes;
use reqwest::header::HeaderMap;
use tracing::Instrument as _;

use super::{EntraErrorBody, IdpError};
use crate::telemetry::http::EntraCall;

/// An answer of the identity provider, whatever its status.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `request` (`operation`: `token`, `discovery`, ...; `endpoint` names it in errors).
pub(super) async fn send(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    operation: &'static str,
    endpoint: &'static str,
) -> Result<Answer, IdpError> {
    let grant_type = request
        .body()
        .and_then(reqwest::Body::as_bytes)
        .and_then(|form| {
            url::form_urlencoded::parse(form)
                .find(|(name, _)| name == "grant_type")
                .map(|(_, value)| value.into_owned())
        });
    let call = EntraCall::start(
        operation,
        request.method().as_str(),
        request.url(),
        grant_type.as_deref(),
    );
    request.headers_mut().extend(call.headers());
    let result: Result<Answer, IdpError> = async {
        let response = http
            .execute(request)
            .await
            .map_err(|err| IdpError::transport(endpoint, err))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|err| IdpError::transport(endpoint, err))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
    .instrument(call.span().clone())
    .await;
    match &result {
        Ok(answer) => {
            call.answered(answer.status, &answer.headers);
            if answer.status >= 400
                && let Ok(refusal) = serde_json::from_slice::<EntraErrorBody>(&answer.body)
            {
                call.refused(&refusal);
            }
        }
        Err(err) => call.failed(&err.to_string()),
    }
    result
}
