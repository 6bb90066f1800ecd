//! stummel: one event-sourced CQRS engine serving Kippenstummel and Devmarkt.
//!
//! See ARCHITECTURE.md for the map of the code.

pub mod cli;
pub mod config;
pub mod devmarkt;
pub mod engine;
pub mod event_store;
pub mod http;
pub mod jobs;
pub mod kippenstummel;
pub mod loadgen;
pub mod metrics;
pub mod mongo;
pub mod read_store;
pub mod replay;
pub mod serve;
pub mod telemetry;
pub mod upcasters;
