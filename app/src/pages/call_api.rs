//! The "Call API" page: the server calls the downstream Weather API On-Behalf-Of the user
//! and shows the result, the decoded OBO token, and whether the token came from the cache.

use leptos::prelude::*;

use crate::{
    api::{call_downstream_api, get_session},
    components::{claims_table::TokenCard, problem::ErrorCard, time::use_now},
    error::AppError,
    model::{ApiCall, SessionInfo},
};

#[component]
pub fn CallApiPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session());
    view! {
        <h1>"Call the downstream API"</h1>
        <p class="muted">
            "The server exchanges your sign-in token On-Behalf-Of you for a token for the "
            "Weather API, calls GET /weatherforecast with it, and shows the answer here."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading your session…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(SessionInfo { user: Some(_), .. }) => view! { <Caller/> }.into_any(),
                    Ok(SessionInfo { user: None, .. }) => {
                        view! { <ErrorCard error=AppError::NotSignedIn/> }.into_any()
                    }
                    Err(error) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Caller() -> impl IntoView {
    let call = Action::new(|_: &()| call_downstream_api());
    let now = use_now();
    view! {
        <button
            type="button"
            data-testid="call-api"
            on:click=move |_| {
                call.dispatch(());
            }
            disabled=move || call.pending().get()
        >
            {move || if call.pending().get() { "Calling…" } else { "Call API" }}
        </button>
        {move || match call.value().get() {
            None => ().into_any(),
            Some(Ok(result)) => view! { <ApiResult result now/> }.into_any(),
            Some(Err(error)) => view! { <ErrorCard error/> }.into_any(),
        }}
    }
}

#[component]
fn ApiResult(result: ApiCall, now: ReadSignal<i64>) -> impl IntoView {
    let ApiCall {
        url,
        forecasts,
        token,
        token_from_cache,
    } = result;
    view! {
        <section class="card" data-testid="api-result">
            <h2>"GET " {url}</h2>
            <p data-testid="cache-status">
                {if token_from_cache {
                    "The OBO token came from the server's cache: no call to the identity provider."
                } else {
                    "The server obtained a new OBO token from the identity provider for this call."
                }}
            </p>
            <table class="claims" data-testid="forecasts">
                <thead>
                    <tr>
                        <th scope="col">"Date"</th>
                        <th scope="col">"°C"</th>
                        <th scope="col">"Summary"</th>
                    </tr>
                </thead>
                <tbody>
                    {forecasts
                        .into_iter()
                        .map(|f| {
                            view! {
                                <tr>
                                    <td>{f.date}</td>
                                    <td>{f.temperature_c}</td>
                                    <td>{f.summary}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <TokenCard token now/>
    }
}
