//! The sign-in routes, one file each: `GET /auth/login` ([`login`]), `GET /auth/callback`
//! ([`callback`]), `POST /auth/logout` ([`logout`]) and the identity provider's sign-out of
//! this app, `GET /auth/frontchannel-logout` ([`front_channel`]); what they share is in
//! [`state`]. Every route here is rate-limited per client.

pub mod callback;
pub mod front_channel;
pub mod login;
pub mod logout;
pub mod state;

use axum::{Router, routing::get, routing::post};

pub use state::AuthState;

pub fn router(state: AuthState) -> Router {
    let limit = state.config.auth_rate_limit;
    let routes = Router::new()
        .route("/auth/login", get(login::login))
        .route("/auth/callback", get(callback::callback))
        .route("/auth/logout", post(logout::logout))
        .route("/auth/frontchannel-logout", get(front_channel::logout))
        .with_state(state);
    crate::rate_limit::limit(routes, &limit)
}
