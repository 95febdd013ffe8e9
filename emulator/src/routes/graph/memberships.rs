//! Graph's answers about the signed-in user's groups, for apps whose token carried the
//! groups overage marker: `POST /v1.0/me/getMemberObjects` (every group id, transitively) and
//! `GET /v1.0/me/transitiveMemberOf[/microsoft.graph.group]` (with `$select`, `$top` and
//! paging through `@odata.nextLink`). Ledger G8-G9 in the README.

// A handler's early exit is a whole response.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{
    answers::{graph_error, odata},
    bearer::authenticate_for,
};
use crate::state::{AppState, Shared};

/// Graph's page size for directory object collections when `$top` is not given.
const DEFAULT_PAGE: usize = 100;
/// The largest `$top` Graph accepts for these collections.
const MAX_PAGE: usize = 999;

/// The signed-in user's groups, transitively: `(id, displayName, securityEnabled)`.
fn memberships(st: &Shared, headers: &HeaderMap) -> Result<Vec<(String, String, bool)>, Response> {
    // `User.Read` is enough for the signed-in user's own memberships (ledger G8-G9);
    // `GroupMember.Read.All` works too.
    let (tid, user) = authenticate_for(st, headers, &["GroupMember.Read.All"])?;
    let world = st.world.read().expect("world lock");
    // Found there by `authenticate_for` a moment ago; gone only if the world was edited since.
    let tenant = world.tenant(&tid).ok_or_else(|| {
        graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            "Resource not found.",
        )
    })?;
    Ok(tenant
        .transitive_groups(&user)
        .into_iter()
        .map(|g| (g.id.clone(), g.display_name.clone(), g.security_enabled))
        .collect())
}

/// `POST /v1.0/me/getMemberObjects` with `{"securityEnabledOnly": bool}`.
pub async fn get_member_objects(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The request body is missing: {\"securityEnabledOnly\": true}.",
        );
    };
    let Some(security_only) = body.get("securityEnabledOnly").and_then(Value::as_bool) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Invalid request: securityEnabledOnly is required.",
        );
    };
    let groups = match memberships(&st, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let ids: Vec<String> = groups
        .into_iter()
        .filter(|(_, _, security)| *security || !security_only)
        .map(|(id, _, _)| id)
        .collect();
    odata(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
        "value": ids,
    }))
}

/// `GET /v1.0/me/transitiveMemberOf` and its `microsoft.graph.group` cast.
pub async fn transitive_member_of(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let groups = match memberships(&st, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let top = match q.get("$top").map(|t| t.parse::<usize>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Invalid page size specified: '$top' must be between 1 and 999.",
            );
        }
    };
    let skip = match q.get("$skiptoken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Directory_InvalidSkipToken",
                "The specified page token value has expired or is invalid.",
            );
        }
    };
    let select: Option<Vec<String>> = q
        .get("$select")
        .map(|s| s.split(',').map(|f| f.trim().to_owned()).collect());
    let page: Vec<Value> = groups
        .iter()
        .skip(skip)
        .take(top)
        .map(|(id, name, security)| {
            let mut g = json!({"@odata.type": "#microsoft.graph.group", "id": id,
                "displayName": name, "securityEnabled": security});
            if let Some(fields) = &select
                && let Some(map) = g.as_object_mut()
            {
                map.retain(|k, _| k == "@odata.type" || fields.iter().any(|f| f == k));
            }
            g
        })
        .collect();
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
        "value": page,
    });
    if skip + top < groups.len() {
        let mut next = format!(
            "{}/graph/v1.0/me/transitiveMemberOf?$top={top}&$skiptoken={}",
            st.base_url,
            skip + top
        );
        if let Some(fields) = &select {
            next.push_str(&format!("&$select={}", fields.join(",")));
        }
        body["@odata.nextLink"] = json!(next);
    }
    odata(body)
}
