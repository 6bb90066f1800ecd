//! Devmarkt read models built from the event log.

use crate::Projection;
use std::sync::Arc;

/// Every Devmarkt projection (they live in the document store).
pub fn all() -> Vec<Arc<dyn Projection>> {
    Vec::new()
}
