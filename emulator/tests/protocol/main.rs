//! The emulator's protocol tests, in one binary: each module starts the emulator on a free
//! loopback port and speaks to it over HTTP(S), as clients do.

mod authorize_flow;
mod cli;
mod common;
mod graph_admin;
mod multi_tenant;
mod token_grants;
