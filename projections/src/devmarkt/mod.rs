//! Devmarkt read models built from the event log.
//!
//! One projection, `devmarkt`, holds templates, applications and users, so
//! a cascade (a deleted user takes its applications along) is one batch.
//! Every Devmarkt aggregate id is `<epoch>/<natural id>` (see [`keys`]); the
//! documents are keyed by that aggregate id, so the data of a QA reseed
//! (a new epoch) never mixes with the old one.

pub mod keys;
mod model;

pub use model::{Devmarkt, APPLICATIONS, NAME, SEQUENCES, TEMPLATES, USERS};

use crate::Projection;
use std::sync::Arc;

/// Every Devmarkt projection (they live in the document store).
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(Devmarkt)]
}
