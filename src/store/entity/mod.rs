//! SeaORM entities, one module per table.

pub mod audit_event;
pub mod session;
pub mod sign_in_throttle;
pub mod tenant;
pub mod user;
