//! Roles and groups: app role assignments (direct and through a group, never down nested
//! groups) in `roles`; transitive memberships in `groups` as `groupMembershipClaims` asks,
//! and the overage marker past 200; Graph's `getMemberObjects` and `transitiveMemberOf`
//! (paged); *assignment required* at sign-in (AADSTS50105, both ways) and for app-only
//! tokens (AADSTS501051).

use crate::common::*;
use emulator::{Unconfirmed, unconfirmed::AssignmentRefusal, well_known as wk, world::World};
use serde_json::{Value, json};

/// The web app's ID token and sign-in access token for `upn` (password grant).
async fn tokens_of(emu: &emulator::RunningEmulator, upn: &str) -> (Value, Value) {
    let body = password(emu, upn, &format!("openid profile {}", sign_in_scope()))
        .await
        .success();
    (claims(id_token(&body)), claims(access_token(&body)))
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn roles_come_from_assignments_direct_or_through_a_direct_group_in_both_tokens() {
    let emu = start().await;
    let (id, access) = tokens_of(&emu, wk::ADELE).await;
    assert_eq!(strings(&id["roles"]), ["Admin", "Reader"]);
    assert_eq!(strings(&access["roles"]), ["Admin", "Reader"]);
    let (id, _) = tokens_of(&emu, wk::MEGAN).await;
    assert_eq!(strings(&id["roles"]), ["Reader"]);
    // Alex is in Weather Watchers only through Marketing: a nested group passes no role.
    let (id, access) = tokens_of(&emu, wk::ALEX).await;
    assert!(id.get("roles").is_none(), "{id}");
    assert!(access.get("roles").is_none(), "{access}");
    // Patti holds Reader through a group she is a direct member of.
    let (id, _) = tokens_of(&emu, wk::PATTI).await;
    assert_eq!(strings(&id["roles"]), ["Reader"]);
    // Graph's token carries none of the web app's roles.
    let graph = obo(
        &emu,
        &user_token(&emu, wk::ADELE).await,
        "https://graph.microsoft.com/User.Read",
    )
    .await
    .success();
    assert!(claims(access_token(&graph)).get("roles").is_none());
}

#[tokio::test]
async fn groups_are_transitive_and_past_200_become_the_overage_marker() {
    let emu = start().await;
    let (id, access) = tokens_of(&emu, wk::MEGAN).await;
    let expected = {
        let mut g = vec![wk::MARKETING_GROUP_ID, wk::WEATHER_WATCHERS_GROUP_ID];
        g.sort();
        g
    };
    assert_eq!(strings(&id["groups"]), expected);
    assert_eq!(strings(&access["groups"]), expected);
    // Adele is in no group: an empty list, as the app asks for groups.
    let (id, _) = tokens_of(&emu, wk::ADELE).await;
    assert_eq!(id["groups"], json!([]));

    let (id, access) = tokens_of(&emu, wk::PATTI).await;
    for token in [&id, &access] {
        assert!(token.get("groups").is_none(), "{token}");
        assert_eq!(token["_claim_names"], json!({"groups": "src1"}));
        let endpoint = token["_claim_sources"]["src1"]["endpoint"]
            .as_str()
            .unwrap();
        assert!(
            endpoint.ends_with(&format!("/users/{}/getMemberObjects", wk::PATTI_OID)),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn group_membership_claims_choose_which_groups() {
    let only_assigned = |setting: &str| {
        let setting = setting.to_owned();
        world_with_app(wk::WEB_APP_CLIENT_ID, move |app| {
            app.group_membership_claims = Some(setting.clone());
        })
    };
    // ApplicationGroup: the groups assigned to the app that the user is a direct member of.
    let emu = start_with(only_assigned("ApplicationGroup")).await;
    let (id, _) = tokens_of(&emu, wk::MEGAN).await;
    assert_eq!(
        id["groups"],
        json!([]),
        "Weather Watchers only through a nested group"
    );
    let (id, _) = tokens_of(&emu, wk::PATTI).await;
    assert_eq!(id["groups"], json!([wk::PATTI_READER_GROUP_ID]));
    // None: no claim at all.
    let emu = start_with(only_assigned("None")).await;
    let (id, _) = tokens_of(&emu, wk::MEGAN).await;
    assert!(id.get("groups").is_none(), "{id}");
}

/// A Graph token for `upn`, through OBO.
async fn graph_token(emu: &emulator::RunningEmulator, upn: &str) -> String {
    let assertion = user_token(emu, upn).await;
    let g = obo(emu, &assertion, "https://graph.microsoft.com/User.Read").await;
    access_token(&g.success()).to_owned()
}

#[tokio::test]
async fn graph_lists_the_overage_users_groups_whole_and_in_pages() {
    let emu = start().await;
    let token = graph_token(&emu, wk::PATTI).await;
    let r = client()
        .post(format!("{}/graph/v1.0/me/getMemberObjects", emu.base_url()))
        .bearer_auth(&token)
        .json(&json!({"securityEnabledOnly": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let all: Value = r.json().await.unwrap();
    assert_eq!(all["value"].as_array().unwrap().len(), wk::PATTI_GROUPS);

    let mut url = format!(
        "{}/graph/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id",
        emu.base_url()
    );
    let (mut pages, mut ids) = (0, Vec::new());
    loop {
        let page: Value = client()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for g in page["value"].as_array().unwrap() {
            assert_eq!(
                g.as_object().unwrap().len(),
                2,
                "only @odata.type and id: {g}"
            );
            ids.push(g["id"].as_str().unwrap().to_owned());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        (pages, ids.len()),
        (3, wk::PATTI_GROUPS),
        "100 a page by default"
    );
    ids.sort();
    let mut whole = strings(&all["value"]);
    whole.sort();
    assert_eq!(ids, whole);

    // A token for GroupMember.Read.All alone (admin-consented) reads them too.
    let mut world = emulator::World::well_known();
    world.tenants[0]
        .consents
        .push(emulator::world::ConsentGrant {
            client_id: wk::WEB_APP_CLIENT_ID.into(),
            resource_app_id: wk::GRAPH_APP_ID.into(),
            scopes: vec!["GroupMember.Read.All".into()],
            principal: None,
        });
    let admin_consented = start_with(world).await;
    let assertion = user_token(&admin_consented, wk::PATTI).await;
    let group_reader = obo(
        &admin_consented,
        &assertion,
        "https://graph.microsoft.com/GroupMember.Read.All",
    )
    .await
    .success();
    let r = client()
        .post(format!(
            "{}/graph/v1.0/me/getMemberObjects",
            admin_consented.base_url()
        ))
        .bearer_auth(access_token(&group_reader))
        .json(&json!({"securityEnabledOnly": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Without a token, Graph's 401.
    let r = client()
        .post(format!("{}/graph/v1.0/me/getMemberObjects", emu.base_url()))
        .json(&json!({"securityEnabledOnly": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

fn assignment_required() -> World {
    world_with_app(wk::WEB_APP_CLIENT_ID, |app| {
        app.app_role_assignment_required = true;
    })
}

#[tokio::test]
async fn assignment_required_refuses_an_unassigned_user_on_entras_page() {
    let emu = start_with(assignment_required()).await;
    let page = Browser::new(&emu).sign_in(wk::ALEX, &[]).await;
    assert_eq!(page.status(), 400);
    let html = text(page).await;
    assert!(html.contains("AADSTS50105"), "{html}");
    assert!(
        html.contains("is blocked because they are not a direct member of a group with access")
    );
    assert!(html.contains(wk::ALEX));
    // Assigned users sign in: Megan directly, Patti through her group.
    for upn in [wk::MEGAN, wk::PATTI] {
        let q = Browser::new(&emu).sign_in_back(upn, &[]).await;
        assert!(q.contains_key("code"), "{upn}: {q:?}");
    }
}

#[tokio::test]
async fn assignment_required_can_answer_the_app_with_an_error_instead() {
    let emu = start_with(assignment_required()).await;
    emu.set_unconfirmed(Unconfirmed {
        assignment_refusal: AssignmentRefusal::ErrorRedirect,
        ..Unconfirmed::default()
    });
    let q = Browser::new(&emu).sign_in_back(wk::ALEX, &[]).await;
    assert_error_back(&q, "access_denied", "AADSTS50105:");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn an_app_only_token_for_an_api_that_requires_assignment_needs_a_role() {
    // The web app requires Weather.Read.All; without it (and with assignment required) Entra
    // answers AADSTS501051.
    let mut world = world_with_app(wk::WEATHER_API_CLIENT_ID, |app| {
        app.app_role_assignment_required = true;
    });
    let tenant = world.tenant_mut(wk::TENANT_ID).unwrap();
    let web = tenant
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap();
    web.required_resource_access
        .retain(|r| r.resource_app_id != wk::WEATHER_API_CLIENT_ID);
    let emu = start_with(world).await;
    let form = [("scope", format!("{}/.default", wk::WEATHER_API_ID_URI))];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = web_app_grant_at(&emu, wk::TENANT_ID, "client_credentials", &form).await;
    let body = reply.aadsts(400, "invalid_grant", 501051);
    assert_description_contains(&body, "is not assigned to a role for the application");

    // With the role granted, the token carries it.
    let emu = start().await;
    let reply = web_app_grant_at(&emu, wk::TENANT_ID, "client_credentials", &form).await;
    let token = claims(access_token(&reply.success()));
    assert_eq!(token["roles"], json!(["Weather.Read.All"]));
}
