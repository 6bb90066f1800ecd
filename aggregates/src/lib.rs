//! The domain: aggregates, their commands, events and errors, and the pure
//! rules around them.
//!
//! Pure code: no I/O, no clocks, no randomness. Time and ids come in with the
//! commands. Every aggregate implements cqrs-es's `Aggregate`.

pub mod devmarkt;
pub mod kippenstummel;
pub mod probe;
