//! Graph's answer shapes: errors as `{"error":{"code","message","innerError"}}` (with
//! Graph's `WWW-Authenticate` on a 401), injected faults, and OData bodies with their
//! content type and `request-id`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::well_known::GRAPH_APP_ID;

/// An error in Graph's shape (`{"error":{"code","message","innerError":{…}}}`); a 401 also
/// carries `WWW-Authenticate: Bearer …`.
pub fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let rid = uuid::Uuid::new_v4().to_string();
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let mut r = (
        status,
        Json(json!({"error": {"code": code, "message": message,
            "innerError": {"date": date, "request-id": rid, "client-request-id": rid}}})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = HeaderValue::from_str(&format!(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\""
        ))
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// An injected fault's answer, in Graph's shape: the `code` and message Graph uses for that
/// status (401 `InvalidAuthenticationToken`, 429 `TooManyRequests`, 503 `ServiceUnavailable`,
/// …), with `Retry-After` (seconds) when given.
pub fn fault_response(status: StatusCode, retry_after: Option<u64>) -> Response {
    let (code, message) = match status.as_u16() {
        400 => ("BadRequest", "Invalid request."),
        401 => (
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ),
        403 => (
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        404 => (
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not present.",
        ),
        429 => (
            "TooManyRequests",
            "Too many requests. Please try again later.",
        ),
        502 => ("BadGateway", "The service is temporarily unavailable."),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please try again later.",
        ),
        504 => ("GatewayTimeout", "The request timed out."),
        s if s >= 500 => ("InternalServerError", "An internal server error occurred."),
        _ => ("UnknownError", ""),
    };
    let mut r = graph_error(status, code, message);
    if let Some(s) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// A JSON body as Graph sends it: OData content type and a `request-id`.
pub fn odata(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        r.headers_mut().insert("request-id", v);
    }
    r
}
