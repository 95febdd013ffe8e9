//! A Microsoft Graph slice (learn.microsoft.com/graph/api/user-get), served under
//! `{base}/graph`: the signed-in user ([`me`]) and their groups ([`memberships`]). Graph
//! validates its tokens itself ([`bearer`]) and answers in its own shapes ([`answers`]).

mod answers;
mod bearer;
mod me;
mod memberships;

use axum::{
    Router,
    routing::{get, post},
};

pub use answers::fault_response;

use crate::state::AppState;

/// Graph routes (nested under `/graph`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/me", get(me::me))
        .route("/v1.0/me/photo", get(me::photo_meta))
        .route("/v1.0/me/photo/$value", get(me::photo_value))
        .route(
            "/v1.0/me/getMemberObjects",
            post(memberships::get_member_objects),
        )
        .route(
            "/v1.0/me/transitiveMemberOf",
            get(memberships::transitive_member_of),
        )
        .route(
            "/v1.0/me/transitiveMemberOf/microsoft.graph.group",
            get(memberships::transitive_member_of),
        )
        .route("/oidc/userinfo", get(me::userinfo))
}
