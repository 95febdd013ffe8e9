//! The signed-in user as Graph shows them: `GET /v1.0/me` (with `$select`), the profile
//! photo (`/v1.0/me/photo`, `/v1.0/me/photo/$value`) and OpenID Connect's userinfo.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value, json};

use super::{
    answers::{graph_error, odata},
    bearer::authenticate,
};
use crate::{state::AppState, tokens, well_known::GRAPH_APP_ID, world::User};

/// A 1x1 PNG: the emulator's profile photo.
const PHOTO_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/// The default property set of a user, in Graph's order.
fn user_json(u: &User) -> Map<String, Value> {
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

pub async fn me(
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

pub async fn photo_meta(State(st): State<AppState>, headers: HeaderMap) -> Response {
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

pub async fn photo_value(State(st): State<AppState>, headers: HeaderMap) -> Response {
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

pub async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Response {
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
