//! The trace exporter from the standard variables. The SDK reads most of them itself:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._HEADERS`,
//! `..._TIMEOUT` (the exporter), `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_BSP_*` (the provider), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (the
//! resource). Here: whether to export at all, and which protocol.

use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};

/// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names it.
const SERVICE_NAME: &str = "entra-bff";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The provider that exports spans, or `None` when no endpoint is set (or export is off).
pub(super) fn provider_from_env() -> Result<Option<SdkTracerProvider>, String> {
    if !wanted(var)? {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|err| {
            format!(
                "the OTLP trace exporter: {err}. Check OTEL_EXPORTER_OTLP_ENDPOINT (a URL such \
                 as http://collector:4318) and OTEL_EXPORTER_OTLP_HEADERS."
            )
        })?;
    let names_service = var("OTEL_SERVICE_NAME").is_some()
        || var("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
    let resource = if names_service {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name(SERVICE_NAME).build()
    };
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// Whether the variables ask for traces over OTLP/HTTP with protobuf; a setting this server
/// cannot honour is an error with the fix.
fn wanted(var: impl Fn(&str) -> Option<String>) -> Result<bool, String> {
    let endpoint =
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(false),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={other:?}: this server exports traces over OTLP only. Use \
                 `otlp` (the default) or `none`, and an OpenTelemetry Collector to reach \
                 anything else."
            ));
        }
    }
    if endpoint.is_none() || disabled {
        return Ok(false);
    }
    let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned());
    if protocol != "http/protobuf" {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={protocol:?}: this server exports OTLP over HTTP with \
             protobuf. Set it to `http/protobuf` and point the endpoint at the collector's \
             OTLP/HTTP port (4318 by default), not its gRPC port (4317)."
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_with(vars: &[(&str, &str)]) -> Result<bool, String> {
        wanted(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn traces_are_exported_only_when_an_endpoint_is_set_and_nothing_turns_them_off() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(wanted_with(&[]), Ok(false));
        assert_eq!(wanted_with(&[endpoint]), Ok(true));
        assert_eq!(
            wanted_with(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces"
            )]),
            Ok(true)
        );
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_SDK_DISABLED", "true")]),
            Ok(false)
        );
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]),
            Ok(false)
        );
        assert_eq!(
            wanted_with(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]),
            Ok(true)
        );
    }

    #[test]
    fn a_protocol_or_exporter_this_server_does_not_speak_stops_the_start_with_the_fix() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let grpc = wanted_with(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(
            grpc.contains("http/protobuf") && grpc.contains("4318"),
            "{grpc}"
        );
        let traces_only = wanted_with(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]);
        assert!(traces_only.is_err());
        let zipkin = wanted_with(&[endpoint, ("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
        assert!(zipkin.contains("Collector"), "{zipkin}");
    }
}
