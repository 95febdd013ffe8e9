//! HTTP routes outside Leptos: sign-in, callback and sign-out (and the identity provider's
//! front-channel sign-out); the load balancer's probes;
//! the metrics (on their own listener).

pub mod auth;
pub mod health;
pub mod metrics;
pub(crate) mod page;
