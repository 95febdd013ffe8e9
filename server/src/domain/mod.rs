//! Values parsed at the edge into types that cannot hold an invalid state.

mod return_to;
mod scope;
mod secret;

pub use return_to::ReturnTo;
pub use scope::{GRAPH_APP_ID, Resource, Scope, ScopeError, ScopeSet};
pub use secret::Secret;
