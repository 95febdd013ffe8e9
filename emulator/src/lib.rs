//! Microsoft Entra ID emulator (see issue: its content is being built).
#![warn(missing_docs)]
