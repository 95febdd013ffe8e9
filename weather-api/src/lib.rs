//! A downstream API protected by Microsoft Entra ID: `GET /weatherforecast`, as the seed's
//! .NET 6 Weather API served it.
//!
//! [`bearer`] is the reusable part: an axum extractor that validates Entra access tokens
//! the way Microsoft.Identity.Web does for a .NET API (keys from the authority's discovery
//! document, issuer of the tenant in its v1 and v2 forms, audience, required scope, lifetime)
//! and answers failures with RFC 6750 `WWW-Authenticate` challenges. Lift it into your own
//! axum API with [`bearer::BearerValidator::discover`] and a [`bearer::ValidatedToken`]
//! argument on each handler.
#![warn(missing_docs)]

pub mod bearer;
mod forecast;

use std::sync::Arc;

use axum::{Router, routing::get};

pub use bearer::{BearerValidator, ValidatedToken, ValidatorConfig};
pub use forecast::Forecast;

/// The API's routes, with the validator as state.
pub fn router(validator: Arc<BearerValidator>) -> Router {
    Router::new()
        .route("/weatherforecast", get(forecast::get))
        .with_state(validator)
}
