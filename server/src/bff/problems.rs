//! Failures the pages show that are not the identity provider's: an API's refusal, and what
//! the browser can do nothing about.

use app::{
    error::AppError,
    model::{Problem, ProblemAction},
};

/// The session store (or Redis) failed: a 503 that says so and offers a retry; the user
/// stays signed in.
/// A failure the browser can do nothing about: the detail is logged here with an incident
/// id, and the id is all the browser gets (to quote when reporting it).
pub(crate) fn incident(detail: impl std::fmt::Display) -> AppError {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let id = &id[..12];
    tracing::error!(incident = id, "{detail}");
    AppError::Internal(format!("incident {id}"))
}

pub(crate) fn internal(err: impl std::fmt::Display) -> AppError {
    tracing::error!("{err}");
    AppError::Problem(Box::new(crate::store::health::problem()))
}

/// Whether a failure may pass by itself (try again later) or needs a configuration change.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    Yes,
    No,
}

impl Transient {
    pub(crate) fn when(passing: bool) -> Self {
        if passing { Self::Yes } else { Self::No }
    }
}

/// A failed call to an API (Graph or the downstream API) as a problem for the page.
pub(crate) fn api_problem(
    title: &str,
    status: Option<u16>,
    message: String,
    config_fix: String,
    transient: Transient,
) -> AppError {
    let transient = transient == Transient::Yes;
    AppError::Problem(Box::new(Problem {
        title: title.into(),
        error: status.map(|s| format!("HTTP {s}")),
        message: Some(message),
        meaning: "The API call did not succeed; the details below say what it answered.".into(),
        cause: if transient {
            "The API is unavailable or throttling.".into()
        } else {
            "The API rejected the request: usually a configuration mismatch.".into()
        },
        fix: if transient {
            "Try again in a moment.".into()
        } else {
            config_fix
        },
        action: if transient {
            ProblemAction::Retry
        } else {
            ProblemAction::None
        },
        ..Problem::default()
    }))
}
