//! Who this app is at the identity provider: its client credential (which kind, from which
//! variables, checked here once), the authority host, and the tenants it serves.

use std::path::PathBuf;

use url::Url;

use super::{DEFAULT_AUTHORITY_HOST, embedded};
pub use crate::credential::ClientCredential;
use crate::{
    credential::{
        CertificateCredential, CredentialKind, IdentityEndpoint, ManagedIdentity, Source,
        WatchedFiles,
    },
    domain::Secret,
};

/// The IMDS address every Azure VM (and AKS node) answers on.
const IMDS: &str = "http://169.254.169.254";

/// `AZURE_AD_CLIENT_CREDENTIAL` and the variables of each kind: the credential, or what is
/// wrong with them. `authority_host` picks the token exchange audience of its cloud.
pub(super) fn read_credential(
    get: &impl Fn(&str) -> Option<String>,
    embedded: bool,
    authority_host: &str,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<ClientCredential> {
    let secret = get("AZURE_AD_CLIENT_SECRET");
    let secret_files = get("AZURE_AD_CLIENT_SECRET_FILE");
    let certs = get("AZURE_AD_CLIENT_CERTIFICATE_PATH");
    let keys = get("AZURE_AD_CLIENT_PRIVATE_KEY_PATH");
    let token_file = get("AZURE_FEDERATED_TOKEN_FILE");
    let identity_id = get("AZURE_AD_MANAGED_IDENTITY_CLIENT_ID");
    let configured: Vec<CredentialKind> = [
        (
            secret.is_some() || secret_files.is_some(),
            CredentialKind::Secret,
        ),
        (
            certs.is_some() || keys.is_some(),
            CredentialKind::Certificate,
        ),
        (token_file.is_some(), CredentialKind::FederatedTokenFile),
        (identity_id.is_some(), CredentialKind::ManagedIdentity),
    ]
    .into_iter()
    .filter_map(|(set, kind)| set.then_some(kind))
    .collect();
    let names = |kinds: &[CredentialKind]| {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match get("AZURE_AD_CLIENT_CREDENTIAL") {
        Some(raw) => match CredentialKind::parse(&raw) {
            Some(kind) => {
                let ignored: Vec<_> = configured.iter().copied().filter(|k| *k != kind).collect();
                if !ignored.is_empty() {
                    warnings.push(format!(
                        "AZURE_AD_CLIENT_CREDENTIAL={kind}: the variables of {} are set too and are ignored.",
                        names(&ignored)
                    ));
                }
                kind
            }
            None => {
                problems.push(format!(
                    "AZURE_AD_CLIENT_CREDENTIAL={raw:?} is not a credential kind: use secret, certificate, federated-token-file or managed-identity."
                ));
                return None;
            }
        },
        None => match configured.as_slice() {
            [kind] => *kind,
            [] if embedded => {
                return Some(ClientCredential::secret(Secret::new(
                    embedded::CLIENT_SECRET,
                )));
            }
            [] => {
                problems.push(
                    "No client credential: set AZURE_AD_CLIENT_SECRET to the secret's Value (not \
                     its Secret ID) from Certificates & secrets, or \
                     AZURE_AD_CLIENT_CERTIFICATE_PATH and AZURE_AD_CLIENT_PRIVATE_KEY_PATH, or \
                     (no secret at all) AZURE_FEDERATED_TOKEN_FILE for workload identity, or \
                     AZURE_AD_CLIENT_CREDENTIAL=managed-identity. See \"Deploying on Azure\" in \
                     the README."
                        .to_owned(),
                );
                return None;
            }
            several => {
                problems.push(format!(
                    "Several client credentials are configured ({}): set \
                     AZURE_AD_CLIENT_CREDENTIAL to the one to use.",
                    names(several)
                ));
                return None;
            }
        },
    };
    let sources = match kind {
        CredentialKind::Secret => secret_sources(secret, secret_files, problems),
        CredentialKind::Certificate => certificate_sources(certs, keys, problems),
        CredentialKind::FederatedTokenFile => federated_source(token_file, problems),
        CredentialKind::ManagedIdentity => {
            managed_identity_source(get, identity_id, authority_host, problems)
        }
    };
    ClientCredential::new(kind, sources)
}

/// Comma-separated paths, in order.
fn paths(list: &str) -> Vec<PathBuf> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn secret_sources(
    secret: Option<String>,
    files: Option<String>,
    problems: &mut Vec<String>,
) -> Vec<Source> {
    let mut sources: Vec<Source> = secret
        .map(|s| Source::Secret(Secret::new(s)))
        .into_iter()
        .collect();
    let listed = files.as_deref().map(paths).unwrap_or_default();
    let none_given = sources.is_empty() && listed.is_empty();
    for path in listed {
        let shown = path.display().to_string();
        match WatchedFiles::open(vec![path], move |contents: &[String]| {
            let value = contents[0].trim();
            if value.is_empty() {
                Err(format!("{shown} is empty"))
            } else {
                Ok(Secret::new(value))
            }
        }) {
            Ok(file) => sources.push(Source::SecretFile(file)),
            Err(problem) => problems.push(format!(
                "AZURE_AD_CLIENT_SECRET_FILE: {problem}. Give files that each hold one secret \
                 value (comma-separated, in order of preference)."
            )),
        }
    }
    if none_given {
        problems.push(
            "AZURE_AD_CLIENT_CREDENTIAL=secret, but neither AZURE_AD_CLIENT_SECRET nor \
             AZURE_AD_CLIENT_SECRET_FILE names a secret."
                .to_owned(),
        );
    }
    sources
}

fn certificate_sources(
    certs: Option<String>,
    keys: Option<String>,
    problems: &mut Vec<String>,
) -> Vec<Source> {
    let certs = certs.as_deref().map(paths).unwrap_or_default();
    let keys = keys.as_deref().map(paths).unwrap_or_default();
    if certs.is_empty() || (!keys.is_empty() && keys.len() != certs.len()) {
        problems.push(
            "A certificate credential needs AZURE_AD_CLIENT_CERTIFICATE_PATH (the PEM \
             certificate uploaded to the app registration) and AZURE_AD_CLIENT_PRIVATE_KEY_PATH \
             (its PEM private key), one key per certificate in the same order; the key may \
             instead be in the certificate's file (as Key Vault exports a PEM)."
                .to_owned(),
        );
        return Vec::new();
    }
    let mut sources = Vec::new();
    for (i, cert) in certs.into_iter().enumerate() {
        let files: Vec<PathBuf> = std::iter::once(cert).chain(keys.get(i).cloned()).collect();
        let parse = |contents: &[String]| {
            let key = contents.get(1).unwrap_or(&contents[0]);
            CertificateCredential::from_pem(&contents[0], key)
        };
        match WatchedFiles::open(files, parse) {
            Ok(files) => sources.push(Source::Certificate(files)),
            // Parse errors name their variable; a file that cannot be read does not yet.
            Err(problem) if problem.starts_with("AZURE_AD_") => problems.push(problem),
            Err(problem) => problems.push(format!(
                "AZURE_AD_CLIENT_CERTIFICATE_PATH: {problem}. Give the paths of PEM files."
            )),
        }
    }
    sources
}

fn federated_source(token_file: Option<String>, problems: &mut Vec<String>) -> Vec<Source> {
    let Some(path) = token_file else {
        problems.push(
            "AZURE_AD_CLIENT_CREDENTIAL=federated-token-file, but AZURE_FEDERATED_TOKEN_FILE is \
             not set: AKS workload identity sets it for pods whose service account is labelled \
             azure.workload.identity/use: \"true\"."
                .to_owned(),
        );
        return Vec::new();
    };
    // Only readable now: its token may have expired since (the platform renews the file).
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => {
            vec![Source::FederatedTokenFile(PathBuf::from(path))]
        }
        Ok(_) => {
            problems.push(format!("AZURE_FEDERATED_TOKEN_FILE={path} is empty."));
            Vec::new()
        }
        Err(err) => {
            problems.push(format!(
                "AZURE_FEDERATED_TOKEN_FILE={path} cannot be read ({err}): the platform writes \
                 it into the pod (is the service account set up for workload identity?)."
            ));
            Vec::new()
        }
    }
}

fn managed_identity_source(
    get: &impl Fn(&str) -> Option<String>,
    client_id: Option<String>,
    authority_host: &str,
    problems: &mut Vec<String>,
) -> Vec<Source> {
    let url = |name: &str, raw: &str, problems: &mut Vec<String>| {
        Url::parse(raw)
            .map_err(|_| problems.push(format!("{name}={raw:?} is not a URL.")))
            .ok()
    };
    let endpoint = match (get("IDENTITY_ENDPOINT"), get("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => {
            url("IDENTITY_ENDPOINT", &endpoint, problems).map(|endpoint| {
                IdentityEndpoint::AppService {
                    endpoint,
                    header: Secret::new(header),
                }
            })
        }
        // Azure Arc and Service Fabric set IDENTITY_ENDPOINT with other companions: their
        // protocols are not spoken here, and IMDS would not be the identity meant.
        (Some(_), None) => {
            problems.push(
                "AZURE_AD_CLIENT_CREDENTIAL=managed-identity: IDENTITY_ENDPOINT is set without \
                 IDENTITY_HEADER. App Service and Container Apps set both; Azure Arc's and \
                 Service Fabric's identity endpoints are not supported."
                    .to_owned(),
            );
            None
        }
        _ => {
            let origin =
                get("AZURE_POD_IDENTITY_AUTHORITY_HOST").unwrap_or_else(|| IMDS.to_owned());
            url("AZURE_POD_IDENTITY_AUTHORITY_HOST", &origin, problems).map(IdentityEndpoint::Imds)
        }
    };
    let Some(endpoint) = endpoint else {
        return Vec::new();
    };
    let audience = get("AZURE_AD_TOKEN_EXCHANGE_AUDIENCE")
        .unwrap_or_else(|| token_exchange_audience(authority_host).to_owned());
    vec![Source::ManagedIdentity(ManagedIdentity::new(
        endpoint, client_id, audience,
    ))]
}

/// The audience of a managed identity's token for federation, by cloud (Microsoft Learn,
/// "Configure an application to trust a managed identity").
fn token_exchange_audience(authority_host: &str) -> &'static str {
    let host = Url::parse(authority_host)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if host.ends_with("microsoftonline.us") {
        "api://AzureADTokenExchangeUSGov"
    } else if host.ends_with("chinacloudapi.cn") || host.ends_with("microsoftonline.cn") {
        "api://AzureADTokenExchangeChina"
    } else {
        "api://AzureADTokenExchange"
    }
}

pub(super) fn is_multi_tenant(tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations")
}

/// `AZURE_AD_ALLOWED_TENANTS`: required with a multi-tenant authority, where any tenant's
/// users could otherwise sign in (Microsoft's multi-tenant guidance: validate the issuer's
/// tenant against the tenants you serve).
pub(super) fn read_allowed_tenants(
    get: &impl Fn(&str) -> Option<String>,
    tenant: Option<&str>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let raw = get("AZURE_AD_ALLOWED_TENANTS");
    let multi = tenant.is_some_and(is_multi_tenant);
    let Some(raw) = raw else {
        if multi {
            problems.push(format!(
                "AZURE_AD_TENANT_ID={} lets users of any tenant sign in, but \
                 AZURE_AD_ALLOWED_TENANTS is not set: list the tenant ids (GUIDs, comma \
                 separated) whose users may sign in.",
                tenant.unwrap_or_default()
            ));
        }
        return Vec::new();
    };
    if !multi {
        warnings.push(
            "AZURE_AD_ALLOWED_TENANTS is set but AZURE_AD_TENANT_ID is a single tenant: only \
             that tenant's users can sign in, so the list is ignored. It applies to common \
             and organizations."
                .to_owned(),
        );
        return Vec::new();
    }
    let mut tenants = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if uuid::Uuid::parse_str(item).is_ok() {
            tenants.push(item.to_ascii_lowercase());
        } else {
            problems.push(format!(
                "AZURE_AD_ALLOWED_TENANTS: {item:?} is not a tenant id: give Directory \
                 (tenant) IDs (GUIDs), as tokens carry them in `tid`."
            ));
        }
    }
    if raw.split(',').all(|t| t.trim().is_empty()) {
        problems.push("AZURE_AD_ALLOWED_TENANTS lists no tenant id.".to_owned());
    }
    tenants
}

/// An `http://` authority is only allowed on loopback: real tenants are always HTTPS, and
/// tokens must not cross a network in clear text.
pub(super) fn parse_authority_host(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim_end_matches('/')).map_err(|_| {
        format!(
            "AZURE_AD_AUTHORITY_HOST={raw:?} is not a URL; the default is \
             {DEFAULT_AUTHORITY_HOST}."
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "AZURE_AD_AUTHORITY_HOST={raw} uses http:// on a host that is not loopback: tokens \
             would cross the network unencrypted. Use https:// (real tenants always do)."
        )),
        _ => Err(format!(
            "AZURE_AD_AUTHORITY_HOST={raw:?} must be an https:// URL, e.g. \
             {DEFAULT_AUTHORITY_HOST}."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::token_exchange_audience;

    #[test]
    fn the_token_exchange_audience_follows_the_cloud() {
        for (host, audience) in [
            (
                "https://login.microsoftonline.com",
                "api://AzureADTokenExchange",
            ),
            (
                "https://login.microsoftonline.us",
                "api://AzureADTokenExchangeUSGov",
            ),
            (
                "https://login.chinacloudapi.cn",
                "api://AzureADTokenExchangeChina",
            ),
            (
                "https://login.partner.microsoftonline.cn",
                "api://AzureADTokenExchangeChina",
            ),
        ] {
            assert_eq!(token_exchange_audience(host), audience, "{host}");
        }
    }
}
