//! Graph's front door: it validates its own tokens (it is the only party that can: see
//! [`crate::tokens`]), checks audience, lifetime and delegated scopes, and challenges a
//! revoked CAE-capable token with claims, as Graph does.

// A handler's early exit is a whole response; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;

use super::answers::graph_error;
use crate::{
    keys::now,
    state::{Counters, Shared},
    tokens,
    well_known::{GRAPH_APP_ID, GRAPH_RESOURCE},
    world::User,
};

/// Validates the bearer token as Graph does; returns the signed-in user.
pub fn authenticate(st: &Shared, headers: &HeaderMap) -> Result<User, Response> {
    authenticate_for(st, headers, &[]).map(|(_, user)| user)
}

/// [`authenticate`], also accepting a token whose only fitting scope is one of `also`; with
/// the tenant the token was issued in (`tid`), where the user was found.
pub fn authenticate_for(
    st: &Shared,
    headers: &HeaderMap,
    also: &[&str],
) -> Result<(String, User), Response> {
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
    let tid = c["tid"].as_str().unwrap_or_default();
    let world = st.world.read().expect("world lock");
    world
        .tenant(tid)
        .and_then(|t| t.user_by_oid(c["oid"].as_str().unwrap_or_default()))
        .map(|user| (tid.to_owned(), user.clone()))
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
