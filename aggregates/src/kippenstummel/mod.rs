//! Kippenstummel's domain: the CVM aggregate and the pure rules around
//! identities (credibility, karma, usernames, throttling).

pub mod cvm;
pub mod geo;
pub mod ident;
