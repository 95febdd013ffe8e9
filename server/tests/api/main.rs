//! The server's integration tests, in one binary (one link, one set of debug info): each
//! module drives the whole server and its in-process emulator over HTTP, as a browser would.

mod authorization;
mod certificate_credential;
mod common;
mod consent_flow;
mod continuous_access;
mod downstream_api;
mod downstream_proxy;
mod edge;
mod front_channel;
mod hostile;
mod id_token_validation;
mod interaction_required;
mod lifecycle;
mod multi_tenant;
mod production_credentials;
mod profile_cache;
mod real_tenant;
mod scale_out;
mod sign_in_flow;
mod step_up;
