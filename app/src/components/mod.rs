//! Reusable pieces of the pages.

pub mod account;
pub mod claims_table;
pub mod problem;
pub mod table;
pub mod time;
