//! One run of a background job (spec 13): the console's job history, kept
//! as an event-sourced aggregate so that every instance sees the same
//! history, a run can only be started once (the id of a scheduled tick is
//! the cluster-wide "at most one runner" guard), and a run whose instance
//! died is marked orphaned exactly once even when several instances check.
//!
//! Aggregate id: `<queue>:<jobId>`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The statuses of a run as the console shows them (spec 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Completed,
    Failed,
    /// Its runner stopped (the instance died) before it finished.
    Orphaned,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Orphaned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Orphaned => "orphaned",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobRunCommand {
    Start {
        queue: String,
        name: String,
        data: Value,
        /// When the job was created (BullMQ's `timestamp`), epoch ms.
        timestamp: i64,
        instance: String,
    },
    Log {
        line: String,
    },
    /// Units of work done so far (an import: batches), for resuming.
    Progress {
        done: u64,
    },
    Complete {
        result: Option<Value>,
    },
    Fail {
        reason: String,
    },
    MarkOrphaned,
    /// Runs an orphaned or failed run again, as a further attempt.
    Resume {
        instance: String,
    },
    /// Removes a finished run from the history (`job-management` `cleanup`).
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum JobRunEvent {
    JobStarted {
        queue: String,
        name: String,
        data: Value,
        timestamp: i64,
        instance: String,
    },
    JobLogged {
        line: String,
    },
    JobProgressed {
        done: u64,
    },
    JobCompleted {
        result: Option<Value>,
    },
    JobFailed {
        reason: String,
    },
    JobOrphaned {},
    JobResumed {
        instance: String,
    },
    JobRunDeleted {},
}

impl DomainEvent for JobRunEvent {
    fn event_type(&self) -> String {
        match self {
            JobRunEvent::JobStarted { .. } => "job-started",
            JobRunEvent::JobLogged { .. } => "job-logged",
            JobRunEvent::JobProgressed { .. } => "job-progressed",
            JobRunEvent::JobCompleted { .. } => "job-completed",
            JobRunEvent::JobFailed { .. } => "job-failed",
            JobRunEvent::JobOrphaned {} => "job-orphaned",
            JobRunEvent::JobResumed { .. } => "job-resumed",
            JobRunEvent::JobRunDeleted {} => "job-run-deleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobRunError {
    #[error("the job run exists already")]
    AlreadyStarted,
    #[error("the job run is unknown or deleted")]
    Unknown,
    #[error("the job run is not running")]
    NotRunning,
    #[error("the job run is still running")]
    StillRunning,
    #[error("only an orphaned or failed run can be resumed")]
    NotResumable,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub status: Option<JobStatus>,
    pub deleted: bool,
    pub done: u64,
}

impl JobRun {
    fn exists(&self) -> Result<JobStatus, JobRunError> {
        match self.status {
            Some(status) if !self.deleted => Ok(status),
            _ => Err(JobRunError::Unknown),
        }
    }

    fn running(&self) -> Result<(), JobRunError> {
        match self.exists()? {
            JobStatus::Running => Ok(()),
            _ => Err(JobRunError::NotRunning),
        }
    }
}

impl Aggregate for JobRun {
    const TYPE: &'static str = "job-run";
    type Command = JobRunCommand;
    type Event = JobRunEvent;
    type Error = JobRunError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            JobRunCommand::Start {
                queue,
                name,
                data,
                timestamp,
                instance,
            } => {
                if self.status.is_some() {
                    return Err(JobRunError::AlreadyStarted);
                }
                JobRunEvent::JobStarted {
                    queue,
                    name,
                    data,
                    timestamp,
                    instance,
                }
            }
            JobRunCommand::Log { line } => {
                self.running()?;
                JobRunEvent::JobLogged { line }
            }
            JobRunCommand::Progress { done } => {
                self.running()?;
                JobRunEvent::JobProgressed { done }
            }
            JobRunCommand::Complete { result } => {
                self.running()?;
                JobRunEvent::JobCompleted { result }
            }
            JobRunCommand::Fail { reason } => {
                self.running()?;
                JobRunEvent::JobFailed { reason }
            }
            JobRunCommand::MarkOrphaned => {
                self.running()?;
                JobRunEvent::JobOrphaned {}
            }
            JobRunCommand::Resume { instance } => match self.exists()? {
                JobStatus::Orphaned | JobStatus::Failed => JobRunEvent::JobResumed { instance },
                _ => return Err(JobRunError::NotResumable),
            },
            JobRunCommand::Delete => match self.exists()? {
                JobStatus::Running => return Err(JobRunError::StillRunning),
                _ => JobRunEvent::JobRunDeleted {},
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            JobRunEvent::JobStarted { .. } | JobRunEvent::JobResumed { .. } => self.status = Some(JobStatus::Running),
            JobRunEvent::JobLogged { .. } => {}
            JobRunEvent::JobProgressed { done } => self.done = done,
            JobRunEvent::JobCompleted { .. } => self.status = Some(JobStatus::Completed),
            JobRunEvent::JobFailed { .. } => self.status = Some(JobStatus::Failed),
            JobRunEvent::JobOrphaned {} => self.status = Some(JobStatus::Orphaned),
            JobRunEvent::JobRunDeleted {} => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    fn started() -> JobRunEvent {
        JobRunEvent::JobStarted {
            queue: "cvm-import".into(),
            name: "manual".into(),
            data: json!({"cvms": []}),
            timestamp: 1,
            instance: "a".into(),
        }
    }

    fn start() -> JobRunCommand {
        JobRunCommand::Start {
            queue: "cvm-import".into(),
            name: "manual".into(),
            data: json!({"cvms": []}),
            timestamp: 1,
            instance: "a".into(),
        }
    }

    #[test]
    fn a_run_starts_once() {
        TestFramework::<JobRun>::with(())
            .given_no_previous_events()
            .when(start())
            .then_expect_events(vec![started()]);
        TestFramework::<JobRun>::with(())
            .given(vec![started()])
            .when(start())
            .then_expect_error(JobRunError::AlreadyStarted);
    }

    #[test]
    fn only_a_running_run_is_orphaned_and_only_once() {
        TestFramework::<JobRun>::with(())
            .given(vec![started()])
            .when(JobRunCommand::MarkOrphaned)
            .then_expect_events(vec![JobRunEvent::JobOrphaned {}]);
        TestFramework::<JobRun>::with(())
            .given(vec![started(), JobRunEvent::JobOrphaned {}])
            .when(JobRunCommand::MarkOrphaned)
            .then_expect_error(JobRunError::NotRunning);
        TestFramework::<JobRun>::with(())
            .given(vec![started(), JobRunEvent::JobCompleted { result: None }])
            .when(JobRunCommand::MarkOrphaned)
            .then_expect_error(JobRunError::NotRunning);
    }

    #[test]
    fn orphaned_and_failed_runs_resume_finished_ones_do_not() {
        for end in [
            JobRunEvent::JobOrphaned {},
            JobRunEvent::JobFailed { reason: "x".into() },
        ] {
            TestFramework::<JobRun>::with(())
                .given(vec![started(), end])
                .when(JobRunCommand::Resume { instance: "b".into() })
                .then_expect_events(vec![JobRunEvent::JobResumed { instance: "b".into() }]);
        }
        TestFramework::<JobRun>::with(())
            .given(vec![started(), JobRunEvent::JobCompleted { result: None }])
            .when(JobRunCommand::Resume { instance: "b".into() })
            .then_expect_error(JobRunError::NotResumable);
    }

    #[test]
    fn a_running_run_is_not_deleted_and_a_deleted_one_takes_no_more_commands() {
        TestFramework::<JobRun>::with(())
            .given(vec![started()])
            .when(JobRunCommand::Delete)
            .then_expect_error(JobRunError::StillRunning);
        TestFramework::<JobRun>::with(())
            .given(vec![
                started(),
                JobRunEvent::JobCompleted { result: None },
                JobRunEvent::JobRunDeleted {},
            ])
            .when(JobRunCommand::Log { line: "x".into() })
            .then_expect_error(JobRunError::Unknown);
    }

    #[test]
    fn event_names_are_stable() {
        let json = serde_json::to_value(started()).unwrap();
        assert_eq!(json["type"], "job-started");
        assert_eq!(started().event_type(), "job-started");
    }
}
