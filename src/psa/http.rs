//! Outbound HTTP to PSAs.
