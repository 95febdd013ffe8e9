//! The home page: "Sign in" when signed out; the Graph profile when in (the header on every
//! page has *Sign out*).

use leptos::prelude::*;

use crate::{
    api::get_profile,
    components::account::use_session,
    components::problem::ErrorCard,
    error::AppError,
    model::{Profile, SessionInfo},
};

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    // Created here, not in the signed-in branch: a resource created inside a `Suspend` is
    // created again each time the branch re-renders, and each one calls the server.
    let profile = Resource::new(|| (), |_| get_profile());

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading your session…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(SessionInfo { user, warnings, partner_sign_in, .. }) => {
                        view! {
                            <ConfigWarnings warnings/>
                            {match user {
                                Some(user) => {
                                    view! {
                                        <p data-testid="signed-in-as">
                                            "Signed in as " <strong>{user.name}</strong> " ("
                                            {user.username} ")"
                                        </p>
                                        <ProfileSection profile/>
                                    }
                                        .into_any()
                                }
                                None => view! { <SignedOut partner_sign_in/> }.into_any(),
                            }}
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Transition>
        <HowItWorks/>
    }
}

/// Configuration mistakes the server started with on purpose, so they can be seen here.
#[component]
fn ConfigWarnings(warnings: Vec<String>) -> impl IntoView {
    warnings
        .into_iter()
        .map(|warning| {
            view! {
                <section class="card warning" role="alert" data-testid="config-warning">
                    <strong>"Configuration warning: "</strong>
                    {warning}
                </section>
            }
        })
        .collect_view()
}

#[component]
fn SignedOut(partner_sign_in: bool) -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Sign in with Microsoft Entra ID"</h1>
            <p>
                "This app keeps every token on the server. Your browser only ever sees what is "
                "shown on the page."
            </p>
            <a class="button" href=crate::api::sign_in_url("/") rel="external" data-testid="sign-in">
                "Sign in"
            </a>
        </section>
        {partner_sign_in.then(|| view! { <PartnerSignIn/> })}
    }
}

/// Sign-in to another organization that invited you (as a guest): its domain or tenant id
/// goes to `/auth/login?tenant=`. A plain form: it works without scripts.
#[component]
fn PartnerSignIn() -> impl IntoView {
    view! {
        <section class="card" data-testid="partner-sign-in">
            <h2>"Sign in to a partner organization"</h2>
            <p>
                "Invited as a guest by another organization this app serves? Name it, and you "
                "sign in to it rather than to your own."
            </p>
            <form method="get" action="/auth/login" class="field">
                <input type="hidden" name="return_to" value="/"/>
                <label for="tenant">"Organization (domain or tenant ID)"</label>
                <input
                    id="tenant"
                    name="tenant"
                    type="text"
                    required
                    autocomplete="off"
                    placeholder="fabrikam.onmicrosoft.com"
                />
                <button type="submit" class="secondary" data-testid="partner-sign-in-button">
                    "Sign in to that organization"
                </button>
            </form>
        </section>
    }
}

#[component]
fn ProfileSection(profile: Resource<Result<Profile, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| {
            view! { <p class="loading">"Loading your profile from Microsoft Graph…"</p> }
        }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(profile) => view! { <ProfileCard profile/> }.into_any(),
                    Err(error) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProfileCard(profile: Profile) -> impl IntoView {
    let field = |label: &'static str, value: Option<String>, id: &'static str| {
        view! {
            <dt>{label}</dt>
            <dd data-testid=id>{value.unwrap_or_else(|| "—".to_owned())}</dd>
        }
    };
    view! {
        <section class="card profile" data-testid="profile">
            <h1 data-testid="profile-name">
                {profile.display_name.clone().unwrap_or_else(|| "(no name)".into())}
            </h1>
            <dl>
                {field("Email", profile.mail, "profile-mail")}
                {field("User principal name", profile.user_principal_name, "profile-upn")}
                {field("Job title", profile.job_title, "profile-job")}
                {field("Office", profile.office_location, "profile-office")}
                {field(
                    "App roles",
                    (!profile.roles.is_empty()).then(|| profile.roles.join(", ")),
                    "profile-roles",
                )}
                {field(
                    "Groups",
                    profile.groups.map(|(count, from)| format!("{count} (from {from})")),
                    "profile-groups",
                )}
            </dl>
            <p class="muted" data-testid="profile-read">
                "Read from Microsoft Graph /me " {read_when(profile.read_secs_ago)}
                ", with a token the server obtained On-Behalf-Of you"
                {if profile.token_from_cache { " (cached)." } else { "." }}
            </p>
        </section>
    }
}

/// "just now", "12 s ago", "3 min ago": the server keeps the profile for a few minutes.
fn read_when(secs: u64) -> String {
    match secs {
        0 => "just now".into(),
        1..=59 => format!("{secs} s ago"),
        _ => format!("{} min ago", secs / 60),
    }
}

/// An island: the only part of the home page that runs in the browser.
#[island]
fn HowItWorks() -> impl IntoView {
    let (explained, set_explained) = signal(false);
    view! {
        <section class="card">
            <button
                type="button"
                class="secondary"
                data-testid="how-it-works"
                aria-expanded=move || explained.get().to_string()
                on:click=move |_| set_explained.update(|open| *open = !*open)
            >
                {move || if explained.get() { "Hide how it works" } else { "How it works" }}
            </button>
            <Show when=move || explained.get()>
                <ol data-testid="how-it-works-panel" class="steps">
                    <li>"You sign in at Microsoft Entra ID; the server receives the tokens."</li>
                    <li>
                        "The server exchanges your sign-in token On-Behalf-Of you for a token "
                        "for Microsoft Graph or another API."
                    </li>
                    <li>"This page shows the results and the decoded claims, never a raw token."</li>
                </ol>
            </Show>
        </section>
    }
}
