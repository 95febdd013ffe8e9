//! The BFF server as a library, so tests can start it on a free port.

pub mod startup;
pub mod telemetry;
