//! The domain: aggregates, their commands, events and errors.
//!
//! Pure code: no I/O, no clocks, no randomness. Time and ids come in with the
//! commands. Every aggregate implements cqrs-es's `Aggregate`.

pub mod probe;
