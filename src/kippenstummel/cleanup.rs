//! The weekly cleanup (spec 9.4.8): machines marked for deletion more than
//! 7 days ago are removed. The original queried a field that does not exist
//! and never removed anything (bug 1). Runs as the job `cvm-management` /
//! `cleanup` on its cron schedule (`kippenstummel::jobs`).

use super::Kippenstummel;
use crate::event_store::CommandMetadata;
use aggregates::kippenstummel::cvm::CvmCommand;
use chrono::{DateTime, Duration, Utc};
use projections::rsql::{FieldTest, Predicate, Scalar};
use projections::DocQuery;
use std::str::FromStr;

/// Mondays at 00:00 UTC, as the original's `0 0 * * 1` (with seconds).
pub const DEFAULT_SCHEDULE: &str = "0 0 0 * * Mon";
const GRACE_DAYS: i64 = 7;

impl Kippenstummel {
    /// Removes every machine marked for deletion before `now − 7 days`.
    /// Returns how many were removed; a machine that fails is logged and skipped.
    pub async fn cleanup(&self, now: DateTime<Utc>) -> Result<usize, crate::http::error::ApiError> {
        let cutoff = now - Duration::days(GRACE_DAYS);
        let field = |path: &str, test| Predicate::Field {
            path: path.to_owned(),
            test,
        };
        let due = Predicate::And(
            Box::new(field("markedForDeletion", FieldTest::Eq(Scalar::Bool(true)))),
            Box::new(field("markedForDeletionAt", FieldTest::Lt(Scalar::Date(cutoff)))),
        );
        let due: Vec<String> = self
            .machines_matching(&DocQuery::all(Some(&due)))
            .await?
            .iter()
            .filter_map(|m| m["aggregateId"].as_str().map(str::to_owned))
            .collect();
        let mut removed = 0;
        for id in due {
            let metadata = CommandMetadata::new(format!("cleanup-{}", now.timestamp()), None, now);
            match self
                .cvm_commands
                .execute(&id, CvmCommand::RemoveForCleanup { now }, &metadata)
                .await
            {
                Ok(()) => removed += 1,
                Err(error) => tracing::warn!(%error, cvm = %id, "cleanup could not remove a machine"),
            }
        }
        Ok(removed)
    }
}

/// Parses a cron expression (with seconds), for the configuration.
pub fn parse_schedule(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_monday_midnight() {
        let schedule = parse_schedule(DEFAULT_SCHEDULE).unwrap();
        let after: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap(); // a Wednesday
        let next = schedule.after(&after).next().unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-30T00:00:00+00:00");
        assert!(parse_schedule("every monday").is_err());
    }
}
