//! The one error type of every server function, and how it crosses the network.

use serde::{Deserialize, Serialize};
use server_fn_error::{FromServerFnError, ServerFnErrorErr, codec::JsonEncoding};

use crate::model::Problem;

mod server_fn_error {
    pub use leptos::server_fn::codec;
    pub use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Nobody is signed in: the page offers "Sign in".
    #[error("you are not signed in")]
    NotSignedIn,
    /// The identity provider (or a downstream API) failed; the problem says why and what
    /// to do, including "sign in again" when the session has expired.
    #[error("{}", .0.title)]
    Problem(Box<Problem>),
    /// The request lacked the anti-CSRF proof.
    #[error("request refused: {0}")]
    Forbidden(String),
    /// Signed in, but the app (or an API) requires a role or group the user does not hold:
    /// the problem says who they are, what is required, what they have and who can fix it.
    #[error("{}", .0.title)]
    NotAllowed(Box<Problem>),
    /// The request (or its answer) could not be read: a malformed body. What the parser
    /// said is not echoed: it describes this server's internals, not the caller's mistake.
    #[error("the request could not be read; reload the page and try again")]
    BadRequest,
    /// Anything else. The detail is logged on the server, not shown: this holds only what
    /// the browser may see (an incident id to quote).
    #[error("something went wrong on the server ({0}); try again")]
    Internal(String),
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status of a server-function response carrying this error.
    pub fn status(&self) -> http::StatusCode {
        use crate::model::ProblemAction;
        match self {
            Self::NotSignedIn => http::StatusCode::UNAUTHORIZED,
            Self::BadRequest => http::StatusCode::BAD_REQUEST,
            Self::Forbidden(_) | Self::NotAllowed(_) => http::StatusCode::FORBIDDEN,
            Self::Problem(problem) if problem.action == ProblemAction::Retry => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Problem(_) => http::StatusCode::BAD_GATEWAY,
            Self::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(detail) => {
                Self::Internal(format!("the server could not be reached: {detail}"))
            }
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => Self::BadRequest,
            other => Self::Internal(other.to_string()),
        }
    }
}
