//! `karma`: karma amount and history per identity reference, and the
//! leaderboard (spec 12.5, 4.8, 4.9).
//!
//! - collection `karma`: reference → `{amount, history: [{type, delta, occurredAt, cvmId}]}`
//! - collection `cvm-owners`: cvm id → `{creator: reference | null}` (who receives vote karma)
//! - sorted set `leaderboard`: reference → −amount, only for amount > 0, so an
//!   ascending range is "karma descending, then oldest reference first"
//!
//! Karma only ever changes for references that are registered and not
//! erased: no documents for unknown or deleted identities (bug 7's upserts).

use super::{decode, iso, occurred_at, Input};
use crate::{ChangeSet, Projection, ProjectionError, RecordedEvent};
use aggregates::kippenstummel::cvm::CvmEvent;
use aggregates::kippenstummel::ident::IdentEvent;
use aggregates::kippenstummel::karma::{delta, KarmaAction, INITIAL_KARMA};
use async_trait::async_trait;
use serde_json::{json, Value};

pub const NAME: &str = "karma";
pub const KARMA: &str = "karma";
pub const CVM_OWNERS: &str = "cvm-owners";
pub const LEADERBOARD: &str = "leaderboard";

pub struct Karma;

struct Award<'a> {
    reference: &'a str,
    action: KarmaAction,
    self_interaction: bool,
    cvm_id: &'a str,
    at: &'a str,
}

async fn award(changes: &mut ChangeSet<'_>, award: Award<'_>) -> Result<(), ProjectionError> {
    let Some(mut doc) = changes.get(KARMA, award.reference).await? else {
        return Ok(()); // unknown or erased identity
    };
    let delta = delta(award.action, award.self_interaction);
    let amount = doc["amount"].as_i64().unwrap_or(0) + delta;
    doc["amount"] = json!(amount);
    if let Some(history) = doc["history"].as_array_mut() {
        history.push(
            json!({"type": award.action.as_str(), "delta": delta, "occurredAt": award.at, "cvmId": award.cvm_id}),
        );
    }
    changes.put(KARMA, award.reference, doc);
    rank(changes, award.reference, amount);
    Ok(())
}

fn rank(changes: &mut ChangeSet<'_>, reference: &str, amount: i64) {
    if amount > 0 {
        changes.zadd(LEADERBOARD, reference, -(amount as f64));
    } else {
        changes.zrem(LEADERBOARD, reference);
    }
}

/// `actor` did something to a machine: karma for the actor (`cast`) and for
/// the machine's creator (`received`); nothing changes hands on one's own machine.
async fn interaction(
    changes: &mut ChangeSet<'_>,
    cvm_id: &str,
    actor: &str,
    (cast, received): (KarmaAction, KarmaAction),
    at: &str,
) -> Result<(), ProjectionError> {
    let owner = owner(changes, cvm_id).await?;
    let own = owner.as_deref() == Some(actor);
    award(
        changes,
        Award {
            reference: actor,
            action: cast,
            self_interaction: own,
            cvm_id,
            at,
        },
    )
    .await?;
    if let Some(owner) = &owner {
        award(
            changes,
            Award {
                reference: owner,
                action: received,
                self_interaction: own,
                cvm_id,
                at,
            },
        )
        .await?;
    }
    Ok(())
}

async fn owner(changes: &ChangeSet<'_>, cvm_id: &str) -> Result<Option<String>, ProjectionError> {
    Ok(changes
        .get(CVM_OWNERS, cvm_id)
        .await?
        .and_then(|d| d["creator"].as_str().map(str::to_owned)))
}

#[async_trait]
impl Projection for Karma {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        1
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let at = iso(occurred_at(event));
        match decode(event)? {
            Input::Ident(IdentEvent::IdentRegistered { .. }) => {
                changes.put(
                    KARMA,
                    &event.aggregate_id,
                    json!({"amount": INITIAL_KARMA, "history": []}),
                );
                rank(changes, &event.aggregate_id, INITIAL_KARMA);
            }
            Input::Ident(IdentEvent::IdentErased {}) => {
                changes.delete(KARMA, &event.aggregate_id);
                changes.zrem(LEADERBOARD, &event.aggregate_id);
            }
            Input::Cvm(CvmEvent::Registered(e)) => {
                changes.put(CVM_OWNERS, &e.cvm_id, json!({"creator": e.creator_identity}));
                let registration = Award {
                    reference: &e.creator_identity,
                    action: KarmaAction::Registration,
                    self_interaction: false,
                    cvm_id: &e.cvm_id,
                    at: &at,
                };
                award(changes, registration).await?;
            }
            Input::Cvm(CvmEvent::Imported(e)) => changes.put(CVM_OWNERS, &e.cvm_id, json!({"creator": Value::Null})),
            Input::Cvm(CvmEvent::Upvoted(e)) => {
                let actions = (KarmaAction::UpvoteCast, KarmaAction::UpvoteReceived);
                interaction(changes, &e.cvm_id, &e.voter_identity, actions, &at).await?;
            }
            Input::Cvm(CvmEvent::Downvoted(e)) => {
                let actions = (KarmaAction::DownvoteCast, KarmaAction::DownvoteReceived);
                interaction(changes, &e.cvm_id, &e.voter_identity, actions, &at).await?;
            }
            Input::Cvm(CvmEvent::Reported(e)) => {
                let actions = (KarmaAction::ReportCast, KarmaAction::ReportReceived);
                interaction(changes, &e.cvm_id, &e.reporter_identity, actions, &at).await?;
            }
            Input::Cvm(_) | Input::Other => {}
        }
        Ok(())
    }
}
