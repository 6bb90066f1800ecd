//! Kippenstummel's domain: the CVM aggregate and the pure rules around
//! identities (credibility, karma, usernames, throttling).

pub mod credibility;
pub mod cvm;
pub mod geo;
pub mod ident;
pub mod job_run;
pub mod karma;
pub mod throttle;
pub mod usage;
pub mod username;
