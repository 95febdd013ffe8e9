//! The "Call API" page: the server calls the downstream Weather API On-Behalf-Of the user
//! and shows the result, the decoded OBO token, and whether the token came from the cache.
//! A form, not a script: it works with JavaScript off, and costs the WASM nothing.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    api::call_downstream_api,
    components::account::use_session,
    components::{claims_table::TokenCard, problem::ErrorCard},
    error::AppError,
    model::{ApiCall, SessionInfo},
};

#[component]
pub fn CallApiPage() -> impl IntoView {
    // The button is a plain form: `?call=1` asks the server to call the API while it renders
    // this page. No script is needed, and the browser downloads no code for it.
    let call_now = use_query_map().with_untracked(|q| q.get("call").is_some());
    let session = use_session();
    let call = Resource::new(
        move || call_now,
        |call_now| async move {
            if call_now {
                Some(call_downstream_api().await)
            } else {
                None
            }
        },
    );
    view! {
        <h1>"Call the downstream API"</h1>
        <p class="muted">
            "The server exchanges your sign-in token On-Behalf-Of you for a token for the "
            "Weather API, calls GET /weatherforecast with it, and shows the answer here."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading your session…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(SessionInfo { user: Some(_), .. }) => {
                        view! {
                            <form method="get" action="/call-api">
                                <input type="hidden" name="call" value="1"/>
                                <button type="submit" data-testid="call-api">
                                    "Call API"
                                </button>
                            </form>
                            {match call.await {
                                None => ().into_any(),
                                Some(Ok(result)) => view! { <ApiResult result/> }.into_any(),
                                Some(Err(error)) => view! { <ErrorCard error/> }.into_any(),
                            }}
                        }
                            .into_any()
                    }
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
fn ApiResult(result: ApiCall) -> impl IntoView {
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
        <TokenCard token/>
    }
}
