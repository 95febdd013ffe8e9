//! The "Call API" page: the server calls the downstream Weather API On-Behalf-Of the user
//! and shows the result, the decoded OBO token, and whether the token came from the cache;
//! below it, every configured downstream API with a button that GETs it through the same
//! On-Behalf-Of path. Forms, not scripts: it works with JavaScript off, and costs the WASM
//! nothing.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{call_downstream_api, call_named_api, list_downstream_apis},
    components::account::use_session,
    components::{claims_table::TokenCard, problem::ErrorCard, table::Table},
    error::AppError,
    model::{ApiCall, DownstreamApiInfo, NamedApiCall, SessionInfo},
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
                            <NamedApis/>
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
                {token_source(token_from_cache, false)}
            </p>
            <Table columns=["Date", "°C", "Summary"] testid="forecasts">
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
            </Table>
        </section>
        <TokenCard token/>
    }
}

/// The configured downstream APIs, each with a form that GETs its sample path (`?api=name`:
/// the server calls it while rendering the page).
#[component]
fn NamedApis() -> impl IntoView {
    let picked = use_query_map().with_untracked(|q| q.get("api"));
    let apis = Resource::new(|| (), |_| list_downstream_apis());
    let call = Resource::new(
        move || picked.clone(),
        |picked| async move {
            match picked {
                Some(name) => Some(call_named_api(name).await),
                None => None,
            }
        },
    );
    view! {
        <section class="card" data-testid="downstream-apis">
            <h2>"Your downstream APIs"</h2>
            <p class="muted">
                "Each is reached through the proxy at /api/downstream/{name}/… with a token "
                "the server obtains On-Behalf-Of you for that API's scopes."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match apis.await {
                        Ok(list) if list.is_empty() => {
                            view! { <p>"No downstream API is configured."</p> }.into_any()
                        }
                        Ok(list) => view! { <ApiTable list/> }.into_any(),
                        Err(error) => view! { <ErrorCard error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match call.await {
                    None => ().into_any(),
                    Some(Ok(result)) => view! { <NamedApiResult result/> }.into_any(),
                    Some(Err(error)) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApiTable(list: Vec<DownstreamApiInfo>) -> impl IntoView {
    view! {
        <Table columns=["Name", "Base URL and scopes", "Call"]>
                {list
                    .into_iter()
                    .map(|api| {
                        view! {
                            <tr>
                                <td>{api.name.clone()}</td>
                                <td class="value">
                                    <code>{api.base_url}</code>
                                    <br/>
                                    <code>{api.scopes}</code>
                                </td>
                                <td>
                                    {match api.unavailable {
                                        Some(reason) => {
                                            view! {
                                                <p data-testid=format!("unavailable-{}", api.name)>
                                                    "Not available to you: " {reason}
                                                </p>
                                            }
                                                .into_any()
                                        }
                                        None => {
                                            view! {
                                                <form method="get" action="/call-api">
                                                    <input type="hidden" name="api" value=api.name.clone()/>
                                                    <button type="submit" data-testid=format!("call-{}", api.name)>
                                                        "GET " {api.sample_path}
                                                    </button>
                                                </form>
                                            }
                                                .into_any()
                                        }
                                    }}
                                    {api.as_app.then(|| view! { <p class="muted">"Called as the app (client credentials)."</p> })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
        </Table>
    }
}

#[component]
fn NamedApiResult(result: NamedApiCall) -> impl IntoView {
    let NamedApiCall {
        name,
        url,
        status,
        content_type,
        body,
        truncated,
        token,
        token_from_cache,
        as_app,
    } = result;
    view! {
        <section class="card" data-testid=format!("api-call-{name}")>
            <h2>"GET " {url}</h2>
            <p data-testid="api-call-status">"HTTP " {status} " · " {content_type}</p>
            <pre class="api-body">{body}</pre>
            {truncated.then(|| view! { <p class="muted">"(The rest of the answer is not shown.)"</p> })}
            <p data-testid="api-call-identity">
                {if as_app {
                    "Called as the app itself: an app-only token (client credentials), carrying the application permissions granted to this app in `roles`, not yours."
                } else {
                    "Called On-Behalf-Of you: the token speaks for you and this app."
                }}
            </p>
            <p>
                {token_source(token_from_cache, as_app)}
            </p>
        </section>
        <TokenCard token/>
    }
}

/// Where the call's token came from, in words (both cards say it the same way).
fn token_source(from_cache: bool, as_app: bool) -> &'static str {
    match (from_cache, as_app) {
        (true, false) => {
            "The OBO token came from the server's cache: no call to the identity provider."
        }
        (false, false) => {
            "The server obtained a new OBO token from the identity provider for this call."
        }
        (true, true) => {
            "The app-only token came from the server's cache: no call to the identity provider."
        }
        (false, true) => {
            "The server obtained a new app-only token from the identity provider for this call."
        }
    }
}
