//! Tokens decoded for display: header and claims as rows of text with explanations. The
//! compact JWT and its signature never leave this module.

use app::model::{ClaimRow, DecodedToken, TokenKind};
use serde_json::Value;

const TIME_CLAIMS: [&str; 4] = ["iat", "nbf", "exp", "auth_time"];

fn explain(name: &str) -> &'static str {
    match name {
        "typ" => "Token type.",
        "alg" => "Signature algorithm (RS256: RSA with SHA-256).",
        "kid" => "Which of the issuer's published signing keys signed the token.",
        "x5t" => "Thumbprint of the signing key's certificate (same as kid here).",
        "nonce" => {
            "In a token header: Microsoft Graph's replay protection. The signature covers a hash of this value, so only Graph can verify the token. In an ID token's claims: the value this app sent at sign-in, proving the token answers this sign-in."
        }
        "aud" => "Audience: the API (or app) this token is for. Only that audience may accept it.",
        "iss" => "Issuer: the Entra ID tenant (v1 or v2 endpoint form) that issued the token.",
        "iat" => "Issued at.",
        "nbf" => "Not valid before.",
        "exp" => "Expires at. After this the token is refused.",
        "auth_time" => "When the user last entered credentials.",
        "aio" | "rh" | "uti" | "xms_tcdt" => "Opaque, Entra-internal data.",
        "azp" => "Authorized party: the client app that requested this token (v2 tokens).",
        "azpacr" | "appidacr" => {
            "How the client app authenticated: 0 public client, 1 secret, 2 certificate."
        }
        "appid" => "The client app that requested this token (v1 tokens).",
        "scp" => "Delegated permissions (scopes) granted to the client app for this user.",
        "roles" => {
            "App roles of this token's audience: assigned to the user (directly, or through a group they are a direct member of) for a user token, granted to the app as application permissions for an app-only one. REQUIRED_ROLES checks these."
        }
        "groups" => {
            "Object ids of the user's groups (nested ones included), as the app registration's groupMembershipClaims asks. Past 200 Entra sends the overage marker instead."
        }
        "_claim_names" | "_claim_sources" => {
            "Groups overage: the user is in more groups than a token holds (200), so the groups are not here. This app reads them from Microsoft Graph (/me/transitiveMemberOf) instead of the endpoint named."
        }
        "hasgroups" => "The user has groups that did not fit in this token: read them from Graph.",
        "tid" => "Tenant ID: the directory the user signed in to.",
        "oid" => "Object ID: the user's immutable ID in the tenant, the same in every app.",
        "sub" => "Subject: the user's ID for this app only (pairwise).",
        "name" => "The user's display name.",
        "preferred_username" => {
            "The sign-in name (usually the UPN or email); not stable, don't key on it."
        }
        "upn" | "unique_name" => "User principal name (v1 tokens).",
        "given_name" => "First name.",
        "family_name" => "Last name.",
        "email" => "Email address, when the email scope was granted (always for a guest).",
        "idp" => {
            "The identity provider that authenticated the user: for a guest, their home tenant."
        }
        "ver" => "Token format version: 1.0 or 2.0 (chosen by the API's app registration).",
        "idtyp" => {
            "app for a token issued to an app itself (user tokens carry it only when the API asks)."
        }
        "amr" => "How the user authenticated (pwd, mfa, ...).",
        "acr" => "Authentication strength of a v1 token (1: not anonymous).",
        "acrs" => {
            "Conditional Access authentication contexts this token proves (c1, c2, ...): those its request asked for, or, for an API that opted in to this claim, those the sign-in met. An API that requires one checks it here."
        }
        "ipaddr" => "The IP address the user signed in from.",
        "sid" => "The sign-in session at Entra ID.",
        "login_hint" => "An opaque hint for signing out or back in without an account picker.",
        "xms_cc" => {
            "Client capabilities the client declared: cp1 means it handles claims challenges (step-up, Continuous Access Evaluation). Present when the API asked for this optional claim."
        }
        "wids" => {
            "Template ids of the user's directory (Entra admin) roles, such as Global Administrator: tenant-wide roles, not this app's."
        }
        _ => "",
    }
}

fn rows(object: &Value) -> Vec<ClaimRow> {
    let Some(map) = object.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, value)| ClaimRow {
            name: name.clone(),
            value: match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            },
            explanation: explain(name).to_owned(),
            unix_time: TIME_CLAIMS
                .contains(&name.as_str())
                .then(|| value.as_i64())
                .flatten(),
        })
        .collect()
}

/// A decoded token for the page. `verification` says why it can or cannot be verified.
pub fn decoded(kind: TokenKind, header: &Value, claims: &Value) -> DecodedToken {
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("?");
    let (title, purpose, verification) = match kind {
        TokenKind::IdToken => (
            "ID token",
            "Proves who signed in, to this app. Not for calling APIs.".to_owned(),
            "Verified by this server at sign-in: signature (the issuer's published keys), issuer, audience, nonce, expiry and tenant.".to_owned(),
        ),
        TokenKind::SignIn => (
            "Sign-in access token (this app's API)",
            format!("Issued for audience {aud} at sign-in; the server uses it as the On-Behalf-Of assertion. It never leaves the server."),
            "A token for this app's own API: this app can verify it with the issuer's published keys.".to_owned(),
        ),
        TokenKind::Graph => (
            "Microsoft Graph token (On-Behalf-Of)",
            format!("Obtained by the server On-Behalf-Of you, for audience {aud}; used to read your profile."),
            if header.get("nonce").is_some() {
                "Cannot be verified by anyone but Microsoft Graph: its header carries a nonce, and the signature covers a hash of it. That is by design; don't try to validate Graph tokens, and never use one as an On-Behalf-Of assertion (AADSTS50013).".to_owned()
            } else {
                "A token for Microsoft Graph: only Graph validates it.".to_owned()
            },
        ),
        TokenKind::Downstream => (
            "Downstream API token (On-Behalf-Of)",
            format!("Obtained by the server On-Behalf-Of you, for audience {aud}."),
            "The downstream API verifies it with the issuer's published keys.".to_owned(),
        ),
    };
    DecodedToken {
        kind,
        title: title.to_owned(),
        purpose,
        header: rows(header),
        claims: rows(claims),
        verification,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_marked_and_arrays_joined() {
        let claims = serde_json::json!({"exp": 1700000000, "amr": ["pwd", "mfa"], "aud": "x"});
        let token = decoded(
            TokenKind::SignIn,
            &serde_json::json!({"alg": "RS256"}),
            &claims,
        );
        let exp = token.claims.iter().find(|r| r.name == "exp").unwrap();
        assert_eq!(exp.unix_time, Some(1_700_000_000));
        let amr = token.claims.iter().find(|r| r.name == "amr").unwrap();
        assert_eq!(amr.value, "pwd, mfa");
        assert!(token.purpose.contains("audience x"));
    }

    #[test]
    fn a_graph_token_with_a_header_nonce_is_labelled_unverifiable() {
        let header = serde_json::json!({"alg": "RS256", "nonce": "abc"});
        let token = decoded(TokenKind::Graph, &header, &serde_json::json!({}));
        assert!(
            token
                .verification
                .contains("Cannot be verified by anyone but Microsoft Graph")
        );
    }
}
