//! A failure shown as what it means, its likely cause here, and the fix.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{Problem, ProblemAction},
};

#[component]
pub fn ProblemCard(problem: Problem) -> impl IntoView {
    let Problem {
        title,
        code,
        error,
        message,
        meaning,
        cause,
        fix,
        trace_id,
        correlation_id,
        timestamp,
        request_trace_id,
        lookup_url,
        action,
    } = problem;
    let heading = match code {
        Some(code) => format!("AADSTS{code}: {title}"),
        None => title,
    };
    view! {
        <section class="card problem" role="alert" data-testid="problem">
            <h2>{heading}</h2>
            <dl>
                <dt>"What it means"</dt>
                <dd data-testid="problem-meaning">{meaning}</dd>
                <dt>"Likely cause"</dt>
                <dd data-testid="problem-cause">{cause}</dd>
                <dt>"How to fix it"</dt>
                <dd data-testid="problem-fix">{fix}</dd>
            </dl>
            {match action {
                ProblemAction::SignIn { url, label } => {
                    view! { <a class="button" href=url rel="external">{label}</a> }.into_any()
                }
                ProblemAction::Retry => view! { <RetryButton/> }.into_any(),
                ProblemAction::None => ().into_any(),
            }}
            <details>
                <summary>"Details for support"</summary>
                <ul class="evidence">
                    {error.map(|e| view! { <li>"OAuth error: " <code>{e}</code></li> })}
                    {message.map(|m| view! { <li>"Message: " {m}</li> })}
                    {trace_id.map(|t| view! { <li>"Trace ID (Entra): " <code>{t}</code></li> })}
                    {correlation_id
                        .map(|c| view! { <li>"Correlation ID (Entra): " <code>{c}</code></li> })}
                    {timestamp.map(|t| view! { <li>"Timestamp: " {t}</li> })}
                    {request_trace_id
                        .map(|t| {
                            view! {
                                <li data-testid="request-trace-id">
                                    "Trace ID (this app): " <code>{t}</code>
                                </li>
                            }
                        })}
                    {lookup_url
                        .map(|u| {
                            view! {
                                <li>
                                    <a href=u.clone() rel="external noreferrer">
                                        "Look the code up at Microsoft"
                                    </a>
                                </li>
                            }
                        })}
                </ul>
            </details>
        </section>
    }
}

/// Any server-function error as a card: problems in full, the rest as a short message.
#[component]
pub fn ErrorCard(error: AppError) -> impl IntoView {
    match error {
        AppError::Problem(problem) | AppError::NotAllowed(problem) => {
            view! { <ProblemCard problem=*problem/> }.into_any()
        }
        // The header's *Sign in* (on every page) comes back here.
        AppError::NotSignedIn => view! {
            <section class="card" data-testid="signed-out">
                <p>"You are not signed in. Use " <strong>"Sign in"</strong> " above to see this page."</p>
            </section>
        }
        .into_any(),
        other => view! {
            <section class="card problem" role="alert" data-testid="error">
                <p>{other.to_string()}</p>
                <RetryButton/>
            </section>
        }
        .into_any(),
    }
}

/// The sign-in link that comes back to the page being rendered.
pub fn sign_in_href() -> String {
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let search = search.trim_start_matches('?');
    let here = if search.is_empty() {
        location.pathname.get_untracked()
    } else {
        format!("{}?{search}", location.pathname.get_untracked())
    };
    crate::api::sign_in_url(&here)
}

/// An island: reloads the page (the server renders it again).
#[island]
fn RetryButton() -> impl IntoView {
    view! {
        <button
            type="button"
            on:click=move |_| {
                #[cfg(feature = "hydrate")]
                let _ = leptos::prelude::window().location().reload();
            }
        >
            "Try again"
        </button>
    }
}
