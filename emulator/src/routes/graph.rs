//! A Microsoft Graph slice (Microsoft Graph: learn.microsoft.com/graph/api/user-get), served under `{base}/graph`: `GET /v1.0/me` (with
//! `$select`), `/v1.0/me/photo` and `/v1.0/me/photo/$value`. It validates Graph tokens itself
//! (it is the only party that can: see [`crate::tokens`]) and answers errors in Graph's shape.

// A handler's early exit is a whole response; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value, json};

use crate::{
    keys::now,
    state::{AppState, Counters, Shared},
    tokens,
    well_known::{GRAPH_APP_ID, GRAPH_RESOURCE},
    world::User,
};

/// A 1x1 PNG: the emulator's profile photo.
const PHOTO_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/// Graph routes (nested under `/graph`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/me", get(me))
        .route("/v1.0/me/photo", get(photo_meta))
        .route("/v1.0/me/photo/$value", get(photo_value))
        .route(
            "/v1.0/me/getMemberObjects",
            axum::routing::post(super::graph_memberships::get_member_objects),
        )
        .route(
            "/v1.0/me/transitiveMemberOf",
            get(super::graph_memberships::transitive_member_of),
        )
        .route(
            "/v1.0/me/transitiveMemberOf/microsoft.graph.group",
            get(super::graph_memberships::transitive_member_of),
        )
        .route("/oidc/userinfo", get(userinfo))
}

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

/// Validates the bearer token as Graph does; returns the signed-in user.
pub(super) fn authenticate(st: &Shared, headers: &HeaderMap) -> Result<User, Response> {
    authenticate_for(st, headers, &[])
}

/// [`authenticate`], also accepting a token whose only fitting scope is one of `also`.
pub(super) fn authenticate_for(
    st: &Shared,
    headers: &HeaderMap,
    also: &[&str],
) -> Result<User, Response> {
    Counters::bump(&st.stats.graph);
    let unauthorized =
        |m: &str| graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Access token is empty."))?;
    let d = {
        let keys = st.keys.read().expect("keys lock");
        tokens::verify(token, &keys, true)
    }
    .map_err(|e| match e {
        tokens::VerifyError::Malformed => {
            unauthorized("CompactToken parsing failed with error code: 80049217")
        }
        _ => unauthorized("Access token validation failure."),
    })?;
    let c = &d.claims;
    let aud = c["aud"].as_str().unwrap_or_default();
    if aud != GRAPH_APP_ID && aud.trim_end_matches('/') != GRAPH_RESOURCE {
        return Err(unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    if c["exp"].as_i64().unwrap_or(0) < now() {
        return Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if let Some(challenge) = continuous_access_challenge(st, c) {
        return Err(challenge);
    }
    let Some(scp) = c["scp"].as_str() else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    };
    let allowed = [
        "User.Read",
        "User.ReadWrite",
        "User.ReadBasic.All",
        "User.Read.All",
        "Directory.Read.All",
    ];
    if !scp
        .split(' ')
        .any(|s| allowed.contains(&s) || also.contains(&s))
    {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    let world = st.world.read().expect("world lock");
    world
        .tenant(c["tid"].as_str().unwrap_or_default())
        .and_then(|t| t.user_by_oid(c["oid"].as_str().unwrap_or_default()))
        .cloned()
        .ok_or_else(|| {
            graph_error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "Resource does not exist or one of its queried reference-property objects are not present.",
            )
        })
}

/// Continuous Access Evaluation: a token of a client that declared `cp1` (its `xms_cc`),
/// issued before the user's sign-in sessions were revoked, gets Graph's 401 with a claims
/// challenge asking for a token issued since (`nbf`). A token without `cp1` keeps working
/// until it expires, as Entra's non-CAE tokens "can't be revoked" (Microsoft Learn,
/// "Continuous access evaluation" and "Configurable token lifetimes"). The header is the one
/// Graph sends, `authorization_uri` unquoted included (msgraph-sdk-dotnet#1416).
fn continuous_access_challenge(st: &Shared, c: &Value) -> Option<Response> {
    let capable = c["xms_cc"].as_array().is_some_and(|a| {
        a.iter().any(|v| {
            v.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(crate::claims::CP1))
        })
    });
    if !capable {
        return None;
    }
    let (tid, oid) = (c["tid"].as_str()?, c["oid"].as_str()?);
    let revoked =
        st.store
            .lock()
            .expect("store lock")
            .revoked_after(tid, oid, tokens::issued_ms(c))?;
    const CAE: &str = "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp";
    let claims =
        format!(r#"{{"access_token":{{"nbf":{{"essential":true, "value":"{revoked}"}}}}}}"#);
    let mut r = graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", CAE);
    let header = format!(
        "Bearer realm=\"\", authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, client_id=\"{GRAPH_APP_ID}\", error=\"insufficient_claims\", claims=\"{}\", error_description=\"{CAE}\"",
        STANDARD.encode(claims)
    );
    if let Ok(v) = HeaderValue::from_str(&header) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Some(r)
}

/// The default property set of a user, in Graph's order.
pub fn user_json(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("businessPhones".into(), json!(u.business_phones));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), json!(u.given_name));
    m.insert("jobTitle".into(), json!(u.job_title));
    m.insert("mail".into(), json!(u.mail));
    m.insert("mobilePhone".into(), json!(u.mobile_phone));
    m.insert("officeLocation".into(), json!(u.office_location));
    m.insert("preferredLanguage".into(), json!(u.preferred_language));
    m.insert("surname".into(), json!(u.surname));
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    m.insert("id".into(), json!(u.id));
    m
}

pub(super) fn odata(v: Value) -> Response {
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

async fn me(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let user = match authenticate(&st, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let all = user_json(&user);
    let (context, body) = match q.get("$select") {
        Some(sel) => {
            let fields: Vec<&str> = sel
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let mut m = Map::new();
            for f in &fields {
                match all.iter().find(|(k, _)| k.eq_ignore_ascii_case(f)) {
                    Some((k, v)) => {
                        m.insert(k.clone(), v.clone());
                    }
                    None => {
                        return graph_error(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            &format!(
                                "Could not find a property named '{f}' on type 'microsoft.graph.user'."
                            ),
                        );
                    }
                }
            }
            (
                format!(
                    "https://graph.microsoft.com/v1.0/$metadata#users({})/$entity",
                    fields.join(",")
                ),
                m,
            )
        }
        None => (
            "https://graph.microsoft.com/v1.0/$metadata#users/$entity".to_string(),
            all,
        ),
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.extend(body);
    odata(Value::Object(out))
}

fn no_photo() -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "ImageNotFound",
        "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
    )
}

async fn photo_meta(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match authenticate(&st, &headers) {
        Ok(u) if u.has_photo => odata(json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{}')/photo/$entity", u.id),
            "@odata.mediaContentType": "image/png",
            "@odata.mediaEtag": "\"1\"",
            "id": "1X1", "height": 1, "width": 1
        })),
        Ok(_) => no_photo(),
        Err(r) => r,
    }
}

async fn photo_value(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match authenticate(&st, &headers) {
        Ok(u) if u.has_photo => (
            [(header::CONTENT_TYPE, "image/png")],
            STANDARD.decode(PHOTO_PNG).unwrap_or_default(),
        )
            .into_response(),
        Ok(_) => no_photo(),
        Err(r) => r,
    }
}

async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match authenticate(&st, &headers) {
        Ok(u) => Json(json!({
            "sub": tokens::pairwise_sub(&u.id, GRAPH_APP_ID),
            "name": u.display_name,
            "family_name": u.surname,
            "given_name": u.given_name,
            "email": u.mail,
        }))
        .into_response(),
        Err(r) => r,
    }
}
