//! Who is signed in, on every page: the user's name, UPN and tenant and *Sign out* (a plain
//! form POST: no script needed), or *Sign in* returning to this page; and, once, why a
//! session that this browser had has ended.

use leptos::prelude::*;

use crate::{
    api::get_session, components::problem::sign_in_href, error::AppError, model::SessionInfo,
};

/// The request's session, read once for the header and the page alike.
pub type SessionResource = Resource<Result<SessionInfo, AppError>>;

/// Reads the session for this page (once) and shares it with everything below.
pub fn provide_session() {
    // Blocking: the header is in the first bytes of every page, also where the page itself
    // streams (the 404 page), so it never flashes the wrong state.
    provide_context::<SessionResource>(Resource::new_blocking(|| (), |_| get_session()));
}

/// The session [`provide_session`] read for this page.
pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

#[component]
pub fn Account() -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(SessionInfo { user: Some(user), .. }) => {
                        view! {
                            <div class="account" data-testid="account">
                                <span class="who">
                                    <strong data-testid="account-name">{user.name}</strong>
                                    <small data-testid="account-detail">
                                        {user.username} " · tenant " {user.tenant_id}
                                    </small>
                                </span>
                                <form method="post" action="/auth/logout">
                                    <button type="submit" class="secondary" data-testid="sign-out">
                                        "Sign out"
                                    </button>
                                </form>
                            </div>
                        }
                            .into_any()
                    }
                    Ok(SessionInfo { user: None, ended, .. }) => {
                        view! {
                            <div class="account" data-testid="account">
                                <a class="button" href=sign_in_href() rel="external" data-testid="account-sign-in">
                                    "Sign in"
                                </a>
                            </div>
                            {ended
                                .map(|why| {
                                    view! {
                                        <p class="notice" role="status" data-testid="session-ended">
                                            {why}
                                        </p>
                                    }
                                })}
                        }
                            .into_any()
                    }
                    // The page itself explains a failing session store.
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
    }
}
