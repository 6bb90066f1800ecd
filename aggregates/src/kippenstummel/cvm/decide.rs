//! Command handling (spec 9.4): each command's checks, in the spec's order,
//! and the events it yields. Pure: reads only the state and the command.

use chrono::{DateTime, Utc};

use super::commands::{CvmCommand, VoteOrigin};
use super::error::CvmError;
use super::events::{
    CvmDeletionMarked, CvmDeletionUnmarked, CvmEvent, CvmImported, CvmRegistered, CvmRemoved, CvmReported,
    CvmRepositioned, CvmRestored, CvmSynchronized, CvmVoted, PartialPosition, ReportType,
};
use super::rules::{
    is_valid_position, is_valid_score, still_blocks, within, CLEANUP_GRACE_PERIOD, DELETION_THRESHOLD, MAX_SCORE,
    MIN_SCORE, NEARBY_RADIUS_KM, REPORT_WINDOW, REPOSITION_RADIUS_KM, REPOSITION_WINDOW, VOTE_IMPACT, VOTE_WINDOW,
};
use super::state::Cvm;
use super::IdentityRef;
use crate::kippenstummel::geo::Position;

/// Which way a vote goes.
#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

impl Cvm {
    /// The events `command` yields on this state, or why it is refused. An
    /// empty list is a silent no-op (a repeat within the window, or a vote at
    /// the score bound).
    pub fn decide(&self, command: CvmCommand) -> Result<Vec<CvmEvent>, CvmError> {
        match command {
            CvmCommand::Register {
                cvm_id,
                position,
                creator,
                throttled,
            } => self.register(cvm_id, position, creator, throttled),
            CvmCommand::Import {
                cvm_id,
                position,
                score,
            } => self.import(cvm_id, position, score),
            CvmCommand::Upvote { voter, origin, now } => {
                let voter_position = match origin {
                    VoteOrigin::At(position) => Some(position),
                    VoteOrigin::NearbyRegistration => None,
                };
                self.vote(Direction::Up, voter, voter_position, now)
            }
            CvmCommand::Downvote {
                voter,
                voter_position,
                now,
            } => self.vote(Direction::Down, voter, Some(voter_position), now),
            CvmCommand::Report {
                reporter,
                reporter_position,
                report_type,
                now,
            } => self.report(reporter, reporter_position, report_type, now),
            CvmCommand::Reposition {
                editor,
                editor_position,
                new_position,
                throttled,
                now,
            } => self.reposition(editor, editor_position, new_position, throttled, now),
            CvmCommand::Remove => self.remove(),
            CvmCommand::RemoveForCleanup { now } => self.remove_for_cleanup(now),
            CvmCommand::Restore => self.restore(),
            CvmCommand::Synchronize {
                longitude,
                latitude,
                score,
                now,
            } => self.synchronize(PartialPosition { longitude, latitude }, score, now),
        }
    }

    /// 9.4.1 step 3 (the service already found no machine within 50 m).
    fn register(
        &self,
        cvm_id: String,
        position: Position,
        creator: IdentityRef,
        throttled: bool,
    ) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_new()?;
        require_valid_position(position)?;
        if throttled {
            return Err(CvmError::Throttled);
        }
        Ok(vec![CvmEvent::Registered(CvmRegistered {
            cvm_id,
            position,
            creator_identity: creator,
        })])
    }

    /// 9.4.7, no machine within 50 m.
    fn import(&self, cvm_id: String, position: Position, score: Option<i32>) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_new()?;
        require_valid_position(position)?;
        require_valid_score(score)?;
        Ok(vec![CvmEvent::Imported(CvmImported {
            cvm_id,
            position,
            initial_score: score,
        })])
    }

    /// 9.4.2 (and 9.4.1 step 4 when `voter_position` is `None`). The repeat
    /// window is checked here against the aggregate's own record of votes,
    /// not a read model (bug 12).
    fn vote(
        &self,
        direction: Direction,
        voter: IdentityRef,
        voter_position: Option<Position>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        if let Some(position) = voter_position {
            self.require_within_reach(position)?;
        }
        if self.recent_voters.blocks(&voter, now, VOTE_WINDOW) {
            return Ok(vec![]);
        }
        self.require_not_removed()?;
        let (at_bound, score_after) = match direction {
            Direction::Up => (self.score >= MAX_SCORE, self.score + VOTE_IMPACT),
            Direction::Down => (self.score <= MIN_SCORE, self.score - VOTE_IMPACT),
        };
        if at_bound {
            return Ok(vec![]);
        }
        let voted = CvmVoted {
            cvm_id: self.id.clone(),
            voter_identity: voter,
            impact: VOTE_IMPACT,
            voted_at: Some(now),
        };
        let mut events = vec![match direction {
            Direction::Up => CvmEvent::Upvoted(voted),
            Direction::Down => CvmEvent::Downvoted(voted),
        }];
        events.extend(self.deletion_mark_change(score_after.clamp(MIN_SCORE, MAX_SCORE), now));
        Ok(events)
    }

    /// 9.4.3. Reports never change the score.
    fn report(
        &self,
        reporter: IdentityRef,
        reporter_position: Position,
        report_type: ReportType,
        now: DateTime<Utc>,
    ) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        self.require_within_reach(reporter_position)?;
        if self.recent_reporters.blocks(&reporter, now, REPORT_WINDOW) {
            return Ok(vec![]);
        }
        self.require_not_removed()?;
        Ok(vec![CvmEvent::Reported(CvmReported {
            cvm_id: self.id.clone(),
            reporter_identity: reporter,
            report_type,
            timestamp: now,
        })])
    }

    /// 9.4.4, checks in the spec's order: reach, alteration distance,
    /// throttle, the editor's 7-day window (also 429), removed.
    fn reposition(
        &self,
        editor: IdentityRef,
        editor_position: Position,
        new_position: Position,
        throttled: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        require_valid_position(new_position)?;
        self.require_within_reach(editor_position)?;
        if !within(self.position(), new_position, REPOSITION_RADIUS_KM) {
            return Err(CvmError::AlterationConflict);
        }
        if throttled || self.recent_editors.blocks(&editor, now, REPOSITION_WINDOW) {
            return Err(CvmError::Throttled);
        }
        self.require_not_removed()?;
        Ok(vec![CvmEvent::Repositioned(CvmRepositioned {
            cvm_id: self.id.clone(),
            editor_identity: editor,
            former_position: self.position(),
            repositioned_position: new_position,
            repositioned_at: Some(now),
        })])
    }

    /// 9.4.5.
    fn remove(&self) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        self.require_not_removed()?;
        Ok(vec![self.removed_event()])
    }

    /// 9.4.8 as intended (bug 1): only a machine marked for deletion before
    /// `now − 7 days` (strictly, like the original's `$lt: cutoff`).
    fn remove_for_cleanup(&self, now: DateTime<Utc>) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        self.require_not_removed()?;
        let due = self.marked_for_deletion
            && self
                .marked_for_deletion_at
                .is_some_and(|marked_at| !still_blocks(marked_at, now, CLEANUP_GRACE_PERIOD));
        if !due {
            return Err(CvmError::NotDueForCleanup);
        }
        Ok(vec![self.removed_event()])
    }

    /// 9.4.6.
    fn restore(&self) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        if !self.removed {
            return Err(CvmError::NotRemoved);
        }
        Ok(vec![CvmEvent::Restored(CvmRestored {
            cvm_id: self.id.clone(),
            position: self.position(),
        })])
    }

    /// 9.4.7, machine found: a removed machine is restored (and nothing
    /// else); otherwise the given parts are overwritten, followed by the
    /// deletion-mark check when a score was given.
    fn synchronize(
        &self,
        position: PartialPosition,
        score: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CvmEvent>, CvmError> {
        self.require_existing()?;
        require_valid_score(score)?;
        let merged = position.over(self.position());
        require_valid_position(merged)?;
        if self.removed {
            return Ok(vec![CvmEvent::Restored(CvmRestored {
                cvm_id: self.id.clone(),
                position: merged,
            })]);
        }
        let mut events = vec![CvmEvent::Synchronized(CvmSynchronized {
            cvm_id: self.id.clone(),
            position,
            forced_score: score,
        })];
        if let Some(score) = score {
            events.extend(self.deletion_mark_change(score, now));
        }
        Ok(events)
    }

    /// The deletion-marking check of 9.3, for the score the machine will have.
    fn deletion_mark_change(&self, score_after: i32, now: DateTime<Utc>) -> Option<CvmEvent> {
        let cvm_id = self.id.clone();
        match (score_after <= DELETION_THRESHOLD, self.marked_for_deletion) {
            (true, false) => Some(CvmEvent::DeletionMarked(CvmDeletionMarked { cvm_id, marked_at: now })),
            (false, true) => Some(CvmEvent::DeletionUnmarked(CvmDeletionUnmarked { cvm_id })),
            _ => None,
        }
    }

    fn removed_event(&self) -> CvmEvent {
        CvmEvent::Removed(CvmRemoved {
            cvm_id: self.id.clone(),
            position: self.position(),
        })
    }

    fn require_new(&self) -> Result<(), CvmError> {
        if self.exists() {
            Err(CvmError::AlreadyExists)
        } else {
            Ok(())
        }
    }

    fn require_existing(&self) -> Result<(), CvmError> {
        if self.exists() {
            Ok(())
        } else {
            Err(CvmError::NotFound)
        }
    }

    fn require_not_removed(&self) -> Result<(), CvmError> {
        if self.removed {
            Err(CvmError::Removed)
        } else {
            Ok(())
        }
    }

    fn require_within_reach(&self, user_position: Position) -> Result<(), CvmError> {
        if within(self.position(), user_position, NEARBY_RADIUS_KM) {
            Ok(())
        } else {
            Err(CvmError::OutOfReach)
        }
    }
}

fn require_valid_position(position: Position) -> Result<(), CvmError> {
    if is_valid_position(position) {
        Ok(())
    } else {
        Err(CvmError::InvalidPosition(position))
    }
}

fn require_valid_score(score: Option<i32>) -> Result<(), CvmError> {
    match score {
        Some(score) if !is_valid_score(score) => Err(CvmError::ScoreOutOfRange(score)),
        _ => Ok(()),
    }
}
