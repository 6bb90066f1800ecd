//! Running a multi-document transaction with the retry rules that hold on
//! MongoDB itself and on compatible servers.
//!
//! - A write conflict (code 112, with or without the `TransientTransactionError`
//!   label: Microsoft DocumentDB sends it without) or any error labelled
//!   `TransientTransactionError` means the transaction did not happen: run the
//!   whole callback again on a fresh snapshot.
//! - `UnknownTransactionCommitResult` means the commit may or may not have
//!   been applied: retry **only the commit** (commitTransaction is idempotent;
//!   the driver upgrades the retry to `w: majority`). Rerunning the callback
//!   would apply a write that already succeeded a second time — for an append
//!   it would find its own events and report a conflict.
//! - Anything else aborts and is returned.
//!
//! Retries stop at a deadline (the operation timeout), not after a fixed
//! count: a long failover must be ridden out, a hot counter document under
//! many writers needs many short retries.

use futures_util::future::BoxFuture;
use mongodb::error::{Error, ErrorKind, WriteFailure, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::TransactionOptions;
use mongodb::{Client, ClientSession};
use std::time::{Duration, Instant};

/// MongoDB's WriteConflict.
pub const WRITE_CONFLICT: i32 = 112;
/// MongoDB's DuplicateKey.
pub const DUPLICATE_KEY: i32 = 11000;
/// Microsoft DocumentDB passes PostgreSQL errors through with the SQLSTATE
/// packed into the code (six bits per character, first character lowest):
/// 40001 serialization_failure (a snapshot transaction lost a race) and
/// 40P01 deadlock_detected. Both mean the transaction was rolled back.
pub const PG_SERIALIZATION_FAILURE: i32 = sqlstate(*b"40001");
pub const PG_DEADLOCK_DETECTED: i32 = sqlstate(*b"40P01");

const fn sqlstate(code: [u8; 5]) -> i32 {
    let mut packed = 0;
    let mut i = 0;
    while i < 5 {
        packed |= ((code[i] - b'0') as i32 & 0x3f) << (6 * i);
        i += 1;
    }
    packed
}

/// Every server error code carried by `error` (command error, write error,
/// each write error of a bulk insert or write).
pub fn codes(error: &Error) -> Vec<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => vec![e.code],
        ErrorKind::Write(WriteFailure::WriteError(e)) => vec![e.code],
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => vec![e.code],
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .map(|w| w.code)
            .chain(e.write_concern_error.iter().map(|w| w.code))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn has_code(error: &Error, code: i32) -> bool {
    codes(error).contains(&code)
}

pub fn is_duplicate_key(error: &Error) -> bool {
    has_code(error, DUPLICATE_KEY)
}

/// A duplicate key on the index named `index` (MongoDB and DocumentDB both
/// name the index in the message: `index: position_1 dup key` / `Index 'position_1'`).
pub fn is_duplicate_on(error: &Error, index: &str) -> bool {
    let messages: Vec<&str> = match error.kind.as_ref() {
        ErrorKind::Command(e) => vec![&e.message],
        ErrorKind::Write(WriteFailure::WriteError(e)) => vec![&e.message],
        ErrorKind::InsertMany(e) => e.write_errors.iter().flatten().map(|w| w.message.as_str()).collect(),
        _ => Vec::new(),
    };
    is_duplicate_key(error) && messages.iter().any(|m| m.contains(index))
}

/// The transaction did not take effect and may simply be run again.
pub fn is_transient(error: &Error) -> bool {
    error.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || codes(error)
            .iter()
            .any(|c| matches!(*c, WRITE_CONFLICT | PG_SERIALIZATION_FAILURE | PG_DEADLOCK_DETECTED))
}

/// The commit's outcome is unknown: retry the commit, not the transaction.
pub fn is_unknown_commit(error: &Error) -> bool {
    error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && !is_max_time_expired(error)
}

fn is_max_time_expired(error: &Error) -> bool {
    const MAX_TIME_MS_EXPIRED: i32 = 50;
    has_code(error, MAX_TIME_MS_EXPIRED)
}

/// Why a transaction was given up.
#[derive(Debug)]
pub enum TxnError {
    /// A non-retryable error from the callback or the commit.
    Failed(Error),
    /// Still conflicting or unanswered when the deadline passed.
    TimedOut { attempts: u32, last: Error },
}

impl TxnError {
    pub fn error(&self) -> &Error {
        match self {
            Self::Failed(e) | Self::TimedOut { last: e, .. } => e,
        }
    }
}

impl std::fmt::Display for TxnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "{e}"),
            Self::TimedOut { attempts, last } => {
                write!(f, "transaction gave up after {attempts} attempts: {last}")
            }
        }
    }
}

/// Runs `callback` in a transaction on a fresh session with `options`,
/// retrying by the rules above until `timeout` has passed; errors for which
/// `transient` holds rerun the transaction (pass [`is_transient`] or a wider
/// rule). `context` is handed to every run (it is what the callback's future
/// may borrow).
pub async fn run<C, R, F>(
    client: &Client,
    options: &TransactionOptions,
    timeout: Duration,
    transient: fn(&Error) -> bool,
    mut context: C,
    mut callback: F,
) -> Result<R, TxnError>
where
    F: for<'b> FnMut(&'b mut ClientSession, &'b mut C) -> BoxFuture<'b, Result<R, Error>>,
{
    let deadline = Instant::now() + timeout;
    let mut attempt = 0u32;
    let give_up = |attempt: u32, last: Error| {
        if Instant::now() >= deadline {
            Err(TxnError::TimedOut {
                attempts: attempt,
                last,
            })
        } else {
            Ok(last)
        }
    };
    'transaction: loop {
        attempt += 1;
        let mut session = client.start_session().await.map_err(TxnError::Failed)?;
        session
            .start_transaction()
            .with_options(options.clone())
            .await
            .map_err(TxnError::Failed)?;
        let value = match callback(&mut session, &mut context).await {
            Ok(value) => value,
            Err(error) => {
                // The server may have aborted already; a failed abort changes nothing.
                let _ = session.abort_transaction().await;
                if !transient(&error) {
                    return Err(TxnError::Failed(error));
                }
                give_up(attempt, error)?;
                tokio::time::sleep(backoff(attempt)).await;
                continue 'transaction;
            }
        };
        loop {
            match session.commit_transaction().await {
                Ok(()) => return Ok(value),
                Err(error) if is_unknown_commit(&error) => {
                    give_up(attempt, error)?;
                    tokio::time::sleep(backoff(1)).await;
                }
                Err(error) if transient(&error) => {
                    give_up(attempt, error)?;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue 'transaction;
                }
                Err(error) => return Err(TxnError::Failed(error)),
            }
        }
    }
}

/// Exponential backoff with full jitter, 1 ms .. 100 ms: writers that
/// conflicted on one document must not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let cap = 100f64.min(1.5f64.powi(attempt.min(20) as i32));
    Duration::from_micros((rand::random::<f64>() * cap * 1000.0) as u64 + 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::error::{CommandError, WriteError};

    fn command_error(code: i32) -> Error {
        let e: CommandError = mongodb::bson::from_document(mongodb::bson::doc! {
            "code": code, "codeName": "X", "errmsg": "x"
        })
        .unwrap();
        Error::from(ErrorKind::Command(e))
    }

    fn write_error(code: i32) -> Error {
        let e: WriteError = mongodb::bson::from_document(mongodb::bson::doc! {
            "code": code, "errmsg": "x"
        })
        .unwrap();
        Error::from(ErrorKind::Write(WriteFailure::WriteError(e)))
    }

    #[test]
    fn a_write_conflict_without_label_is_transient() {
        assert!(is_transient(&command_error(WRITE_CONFLICT)));
        assert!(is_transient(&write_error(WRITE_CONFLICT)));
        assert!(!is_transient(&command_error(DUPLICATE_KEY)));
        assert!(is_duplicate_key(&write_error(DUPLICATE_KEY)));
    }

    /// An error carrying `label` (the driver adds labels only itself; a
    /// write-concern error's labels are lifted onto the error).
    fn labelled(code: i32, label: &str) -> Error {
        let e: mongodb::error::WriteConcernError = mongodb::bson::from_document(mongodb::bson::doc! {
            "code": code, "errmsg": "x", "errorLabels": [label]
        })
        .unwrap();
        Error::from(ErrorKind::Write(WriteFailure::WriteConcernError(e)))
    }

    #[test]
    fn labels_decide_between_rerun_and_commit_retry() {
        let transient = labelled(251, TRANSIENT_TRANSACTION_ERROR);
        assert!(is_transient(&transient) && !is_unknown_commit(&transient));
        let unknown = labelled(91, UNKNOWN_TRANSACTION_COMMIT_RESULT);
        assert!(is_unknown_commit(&unknown) && !is_transient(&unknown));
        // MaxTimeMSExpired on commit: the specification says not to retry the commit.
        let expired = labelled(50, UNKNOWN_TRANSACTION_COMMIT_RESULT);
        assert!(!is_unknown_commit(&expired));
    }

    #[test]
    fn documentdb_passes_postgres_sqlstates_through() {
        // Seen from DocumentDB under concurrent snapshot transactions.
        assert_eq!(PG_SERIALIZATION_FAILURE, 16_777_220);
        assert!(is_transient(&command_error(PG_SERIALIZATION_FAILURE)));
        assert!(is_transient(&command_error(PG_DEADLOCK_DETECTED)));
    }

    #[test]
    fn backoff_stays_within_bounds() {
        for attempt in 0..100 {
            let b = backoff(attempt);
            assert!(
                b >= Duration::from_millis(1) && b <= Duration::from_millis(101),
                "{b:?}"
            );
        }
    }
}
