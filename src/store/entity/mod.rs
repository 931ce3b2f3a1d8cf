//! SeaORM entities, one module per table.

pub mod agreement;
pub mod agreement_line;
pub mod audit_event;
pub mod customer;
pub mod product;
pub mod psa_connection;
pub mod session;
pub mod sign_in_throttle;
pub mod sync_run;
pub mod tenant;
pub mod user;
