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
        request_trace_id: crate::telemetry::trace_id(),
        ..Problem::default()
    }))
}

/// On-Behalf-Of lacks consent (AADSTS65001) that a sign-in of this session already asked for
/// and the identity provider refused (`refusal`: AADSTS90094 where users may not consent,
/// 650052 where the API has no service principal): a consent page would only be refused again,
/// so no sign-in is offered; an administrator must act.
pub(crate) fn admin_consent_needed(scopes: &str, refusal: u32) -> Problem {
    Problem {
        title: "An administrator must grant this permission".into(),
        code: Some(65001),
        error: Some("invalid_grant".into()),
        message: Some(format!(
            "No consent exists for this app to call {scopes} on your behalf, and your \
             organization refused it at sign-in (AADSTS{refusal})."
        )),
        meaning: "The permission this call needs was not granted, and you cannot grant it \
                  yourself in your organization."
            .into(),
        cause: if crate::aadsts::RESOURCE_NOT_IN_TENANT.contains(&refusal) {
            "The API is not available in your organization (it has no service principal there)."
        } else {
            "Your organization does not let users consent to this permission."
        }
        .into(),
        fix: "Ask an administrator of your organization to grant consent for this app (App \
              registrations or Enterprise applications > Permissions > Grant admin consent), \
              or to consent to the API so that it is provisioned. You stay signed in; the rest \
              of the app works."
            .into(),
        action: ProblemAction::None,
        ..Problem::default()
    }
}
