//! Black-box tests: the real app (and the PSA sandbox) on random ports, a fresh database each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod autotask;
mod browser;
mod connectwise;
mod data;
mod health;
mod hostile;
mod integrations;
mod outage;
mod redirects;
mod restart;
mod sandbox;
mod secrets;
mod security;
mod support;
mod sync;
mod users;
