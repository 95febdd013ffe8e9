//! The BFF server as a library, so tests can start it on a free port.
//!
//! `config` reads the environment; `entra` talks to the identity provider; `session`,
//! `store` and `tokens` keep the user's tokens server-side (sealed, in SQLite or Redis); `bff`
//! answers the app's server functions and calls Graph and the named downstream APIs (their
//! claims challenges read by `claims_challenge`); `downstream` is the proxy route to those
//! APIs; `routes` holds sign-in and sign-out; `startup` wires it all into one axum router.

// A page's future nests the whole token path (session, refresh, On-Behalf-Of, Graph, the
// traced HTTP call) beneath it: deeper than the compiler's default query depth when it lays
// out the async state machines in a non-incremental (CI) build.
#![recursion_limit = "256"]

pub mod aadsts;
pub mod assets;
pub mod authorization;
pub mod bff;
pub mod claims_challenge;
pub mod config;
pub mod credential;
pub mod csrf;
pub mod diagnostics;
pub mod domain;
pub mod downstream;
pub mod entra;
pub mod graph;
pub mod headers;
pub mod inspect;
pub mod metrics;
pub mod profiles;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
