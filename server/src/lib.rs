//! The BFF server as a library, so tests can start it on a free port.
//!
//! `config` reads the environment; `entra` talks to the identity provider; `session` and
//! `tokens` keep the user's tokens server-side; `bff` answers the app's server functions;
//! `routes` holds sign-in and sign-out; `startup` wires it all into one axum router.

pub mod bff;
pub mod checks;
pub mod config;
pub mod csrf;
pub mod diagnostics;
pub mod domain;
pub mod entra;
pub mod graph;
pub mod headers;
pub mod idle_store;
pub mod inspect;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod tokens;
