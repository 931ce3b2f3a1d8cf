//! Sync 365 portal: connects an MSP's PSA (ConnectWise Manage or Autotask) and retrieves its
//! customers, agreements and products. `main.rs` only parses the command line; everything is
//! built here so tests start the real application.

pub mod domain;
pub mod psa;
pub mod sandbox;
