//! Values parsed at the edge into types that cannot hold an invalid state.

mod claims;
mod return_to;
mod scope;
mod secret;

pub use claims::{ClaimsRequest, NotAClaimsRequest};
pub use return_to::ReturnTo;
pub use scope::{GRAPH_APP_ID, GRAPH_HOSTS, Resource, Scope, ScopeError, ScopeSet, is_graph};
pub use secret::{AccessToken, Nonce, RefreshToken, Secret};
