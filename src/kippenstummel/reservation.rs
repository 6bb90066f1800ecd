//! Spatial reservations: "no two machines within 50 m", even when
//! registrations or imports race (the original locked one geohash-8 cell,
//! so two requests in neighbouring cells both got through: bug 12).
//!
//! A registration locks every geohash-6 cell (≈ 1.2 × 0.6 km) that the
//! 50 m box around its position touches — at most four — through the
//! read-model store's leases (Redis, MongoDB or SQLite, so it holds across
//! instances), all or nothing, in sorted order. Two registrations within
//! 50 m of each other always share a cell, so they run one after the other.
//! Inside the lock the caller waits until the projection it checks against
//! has applied every event appended before the lock was taken: whatever an
//! earlier holder registered is then visible, although read models lag.

use crate::http::error::{self, ApiError};
use aggregates::kippenstummel::geo::Position;
use projections::ReadStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Radius within which two machines are the same one (SAME_CVM_RADIUS).
pub const SAME_MACHINE_KM: f64 = 0.05;
const CELL_PRECISION: usize = 6;
const LEASE_TTL: Duration = Duration::from_secs(10);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct SpatialLocks {
    store: Arc<dyn ReadStore>,
}

/// The corners of the box that contains every point within
/// `SAME_MACHINE_KM` of `p` (clamped to valid coordinates).
pub fn same_machine_box(p: Position) -> [Position; 4] {
    let dlat = SAME_MACHINE_KM / 111.32;
    let dlng = SAME_MACHINE_KM / (111.32 * p.latitude.to_radians().cos().max(1e-6));
    [(-dlng, -dlat), (-dlng, dlat), (dlng, -dlat), (dlng, dlat)].map(|(dx, dy)| {
        Position::new(
            (p.longitude + dx).clamp(-180.0, 180.0),
            (p.latitude + dy).clamp(-90.0, 90.0),
        )
    })
}

/// The geohash cells the `SAME_MACHINE_KM` box around `p` touches, sorted.
pub fn cells_around(p: Position) -> Vec<String> {
    let mut cells: Vec<String> = same_machine_box(p)
        .iter()
        .chain(std::iter::once(&p))
        .filter_map(|c| {
            geohash::encode(
                geohash::Coord {
                    x: c.longitude,
                    y: c.latitude,
                },
                CELL_PRECISION,
            )
            .ok()
        })
        .collect();
    cells.sort();
    cells.dedup();
    cells
}

impl SpatialLocks {
    pub fn new(store: Arc<dyn ReadStore>) -> Self {
        Self { store }
    }

    /// Runs `work` while holding every cell around `position`; always releases.
    pub async fn exclusive<T, F, Fut>(&self, position: Position, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        self.exclusive_all(&[position], work).await
    }

    /// Runs `work` holding the cells around every one of `positions` (a
    /// bulk import's batch), taken all at once.
    pub async fn exclusive_all<T, F, Fut>(&self, positions: &[Position], work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let mut names: Vec<String> = positions
            .iter()
            .flat_map(|p| cells_around(*p))
            .map(|c| format!("cvm-cell:{c}"))
            .collect();
        names.sort();
        names.dedup();
        let owner = uuid::Uuid::new_v4().to_string();
        self.acquire(&names, &owner).await?;
        let result = work().await;
        if let Err(e) = self.store.release_leases(&names, &owner).await {
            tracing::warn!(error = %e, cells = names.len(), "could not release cell locks (they expire)");
        }
        result
    }

    async fn acquire(&self, names: &[String], owner: &str) -> Result<(), ApiError> {
        let deadline = Instant::now() + ACQUIRE_TIMEOUT;
        let mut attempt: u64 = 0;
        loop {
            if self
                .store
                .try_leases(names, owner, LEASE_TTL)
                .await
                .map_err(ApiError::unavailable)?
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ApiError::new(error::CONFLICT));
            }
            attempt += 1;
            let jitter = rand::random::<u64>() % 10;
            tokio::time::sleep(Duration::from_millis((2 + attempt.min(20) + jitter).min(50))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aggregates::kippenstummel::geo::km;

    #[test]
    fn two_positions_within_50_m_share_a_cell() {
        // Walk across cell borders in small steps: every pair of points closer
        // than 50 m must have a cell in common.
        let base = Position::new(8.40395, 49.0092);
        for i in 0..400 {
            let a = Position::new(base.longitude + i as f64 * 0.00013, base.latitude + i as f64 * 0.00007);
            for j in 0..6 {
                let b = Position::new(a.longitude + 0.0001 * j as f64, a.latitude - 0.00005 * j as f64);
                if km(a, b) <= SAME_MACHINE_KM {
                    let (ca, cb) = (cells_around(a), cells_around(b));
                    assert!(ca.iter().any(|c| cb.contains(c)), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn at_most_four_cells() {
        for lat in [-80.0, -45.0, 0.0, 49.0, 70.0] {
            let cells = cells_around(Position::new(8.4, lat));
            assert!((1..=4).contains(&cells.len()), "{lat}: {cells:?}");
        }
    }
}
