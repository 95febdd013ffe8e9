//! The emulator's protocol tests, in one binary: each test starts its own emulator on a free
//! loopback port and speaks to it over HTTP(S), as clients do. One test, one behaviour, named by
//! the sentence it checks; the shared steps live in `common`.

mod admin;
mod authorize_flow;
mod cli;
mod client_auth;
mod common;
mod consent;
mod continuous_access;
mod directory;
mod discovery;
mod federation;
mod graph;
mod mfa;
mod multi_tenant;
mod obo;
mod refresh;
mod resources;
mod sessions;
mod step_up;
mod user_tokens;
