//! Black-box API tests.

mod sandbox;
