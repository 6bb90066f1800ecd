//! `cvms`: one document per machine with its votes, reports and
//! repositionings (spec 10.1, 16.1), plus the per-identity indexes the
//! registration and reposition throttles read (9.5).
//!
//! - collection `cvms`: cvm id → [`CvmDocument`], live machines only
//! - collection `removed-cvms`: cvm id → [`CvmDocument`] of removed machines. A
//!   restore moves the document back as it was, so score, position, origin and
//!   history survive a remove/restore round trip as they do in the aggregate
//!   (the original re-created a blank document: bug 10).
//! - collection `registrations`: identity reference → [`ActivityIndex`] of the live
//!   machines it registered
//! - collection `repositionings`: identity reference → [`ActivityIndex`] of its
//!   repositionings of live machines
//! - collections `stats-totals` and `stats-days` ([`counters`]): what the KMC
//!   machine and vote statistics read
//!
//! Times are the events' `occurred_at` (millisecond ISO strings), so a replay
//! reproduces every document exactly. Identity references are stored as the
//! events carry them; erasing an identity needs nothing here, since nothing
//! links a reference to a person once the identity document is gone.

use super::{counters, decode, iso, occurred_at, Input};
use crate::{ChangeSet, FieldKind, PositionFields, Projection, ProjectionError, QueryField, Queryable, RecordedEvent};
use aggregates::kippenstummel::cvm::rules::{MAX_SCORE, MIN_SCORE};
use aggregates::kippenstummel::cvm::{
    CvmEvent, CvmImported, CvmRegistered, CvmReported, CvmRepositioned, CvmSynchronized, CvmVoted, ReportType,
};
use aggregates::kippenstummel::geo::Position;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "cvms";
pub const CVMS: &str = "cvms";
pub const REMOVED_CVMS: &str = "removed-cvms";
pub const REGISTRATIONS: &str = "registrations";
pub const REPOSITIONINGS: &str = "repositionings";

/// Statistics counters ([`counters`]): totals of live machines, of their
/// origins and scores, and of votes; per day the machines by day of
/// creation and origin, and the votes.
pub const MACHINES: &str = "machines";
pub const IMPORTS: &str = "imports";
pub const REGISTRATIONS_COUNT: &str = "registrations";
pub const SCORE_SUM: &str = "scoreSum";
pub const UPVOTES: &str = "upvotes";
pub const DOWNVOTES: &str = "downvotes";

pub struct Cvms;

/// What the machine lists and the filtered viewport query `cvms` by: the
/// targets of the public and KMC machine field sets (`rsql::FieldSet`), and
/// the position for `bbox` filters and viewports. The stores index these.
pub const QUERYABLE: &[Queryable] = &[Queryable {
    collection: CVMS,
    fields: &[
        QueryField {
            path: "aggregateId",
            kind: FieldKind::Text,
        },
        QueryField {
            path: "score",
            kind: FieldKind::Number,
        },
        QueryField {
            path: "imported",
            kind: FieldKind::Bool,
        },
        QueryField {
            path: "registeredBy",
            kind: FieldKind::Text,
        },
        QueryField {
            path: "createdAt",
            kind: FieldKind::Time,
        },
        QueryField {
            path: "updatedAt",
            kind: FieldKind::Time,
        },
        QueryField {
            path: "lastVotedAt",
            kind: FieldKind::Time,
        },
        // The weekly cleanup's selection.
        QueryField {
            path: "markedForDeletion",
            kind: FieldKind::Bool,
        },
        QueryField {
            path: "markedForDeletionAt",
            kind: FieldKind::Time,
        },
    ],
    position: Some(PositionFields {
        filter_path: "position",
        longitude: "longitude",
        latitude: "latitude",
    }),
}];

/// The queryable `cvms` collection.
pub fn machines() -> &'static Queryable {
    &QUERYABLE[0]
}

/// A machine as the `cvms` and `removed-cvms` collections store it. Field
/// order is the document's key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvmDocument {
    pub aggregate_id: String,
    pub longitude: f64,
    pub latitude: f64,
    pub score: i32,
    pub imported: bool,
    pub marked_for_deletion: bool,
    pub marked_for_deletion_at: Option<String>,
    /// `null` for imported machines.
    pub registered_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_voted_at: Option<String>,
    pub votes: Vec<VoteEntry>,
    pub reports: Vec<ReportEntry>,
    pub repositionings: Vec<RepositioningEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteType {
    Upvote,
    Downvote,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteEntry {
    pub identity: Option<String>,
    #[serde(rename = "type")]
    pub vote_type: VoteType,
    pub impact: i32,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportEntry {
    pub identity: Option<String>,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositioningEntry {
    pub identity: Option<String>,
    pub longitude: f64,
    pub latitude: f64,
    pub created_at: String,
}

/// A `registrations` or `repositionings` document: what one identity did to
/// live machines, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityIndex {
    pub items: Vec<ActivityItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityItem {
    pub cvm_id: String,
    pub created_at: String,
}

impl CvmDocument {
    fn new(cvm_id: &str, position: Position, at: &str) -> Self {
        Self {
            aggregate_id: cvm_id.to_owned(),
            longitude: position.longitude,
            latitude: position.latitude,
            score: 0,
            imported: false,
            marked_for_deletion: false,
            marked_for_deletion_at: None,
            registered_by: None,
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
            last_voted_at: None,
            votes: Vec::new(),
            reports: Vec::new(),
            repositionings: Vec::new(),
        }
    }

    fn registered(e: &CvmRegistered, at: &str) -> Self {
        Self {
            registered_by: Some(e.creator_identity.clone()),
            ..Self::new(&e.cvm_id, e.position, at)
        }
    }

    fn imported(e: &CvmImported, at: &str) -> Self {
        Self {
            imported: true,
            score: e.initial_score.unwrap_or(0),
            ..Self::new(&e.cvm_id, e.position, at)
        }
    }

    /// Clamped like the aggregate, so the two agree even on a vote at the bound.
    fn vote(&mut self, vote_type: VoteType, e: &CvmVoted, at: &str) {
        self.score = match vote_type {
            VoteType::Upvote => (self.score + e.impact).min(MAX_SCORE),
            VoteType::Downvote => (self.score - e.impact).max(MIN_SCORE),
        };
        self.votes.push(VoteEntry {
            identity: Some(e.voter_identity.clone()),
            vote_type,
            impact: e.impact,
            created_at: at.to_owned(),
        });
        self.last_voted_at = Some(at.to_owned());
    }

    fn report(&mut self, e: &CvmReported, at: &str) {
        self.reports.push(ReportEntry {
            identity: Some(e.reporter_identity.clone()),
            report_type: e.report_type,
            created_at: at.to_owned(),
        });
    }

    fn reposition(&mut self, e: &CvmRepositioned, at: &str) {
        self.set_position(e.repositioned_position);
        self.repositionings.push(RepositioningEntry {
            identity: Some(e.editor_identity.clone()),
            longitude: e.repositioned_position.longitude,
            latitude: e.repositioned_position.latitude,
            created_at: at.to_owned(),
        });
    }

    /// Only the given parts; the score only when one was forced (bug 2).
    fn synchronize(&mut self, e: &CvmSynchronized) {
        self.set_position(e.position.over(self.position()));
        if let Some(score) = e.forced_score {
            self.score = score;
        }
    }

    fn mark_for_deletion(&mut self, at: &str) {
        self.marked_for_deletion = true;
        self.marked_for_deletion_at = Some(at.to_owned());
    }

    fn unmark_for_deletion(&mut self) {
        self.marked_for_deletion = false;
        self.marked_for_deletion_at = None;
    }

    fn position(&self) -> Position {
        Position::new(self.longitude, self.latitude)
    }

    fn set_position(&mut self, position: Position) {
        self.longitude = position.longitude;
        self.latitude = position.latitude;
    }

    /// The identities with a repositioning here, each once.
    fn editors(&self) -> Vec<&str> {
        let mut editors: Vec<&str> = self
            .repositionings
            .iter()
            .filter_map(|r| r.identity.as_deref())
            .collect();
        editors.sort_unstable();
        editors.dedup();
        editors
    }
}

/// Where a machine's document lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Live,
    Removed,
}

impl Place {
    fn collection(self) -> &'static str {
        match self {
            Place::Live => CVMS,
            Place::Removed => REMOVED_CVMS,
        }
    }
}

async fn read<T: DeserializeOwned>(
    changes: &ChangeSet<'_>,
    event: &RecordedEvent,
    collection: &str,
    key: &str,
) -> Result<Option<T>, ProjectionError> {
    match changes.get(collection, key).await? {
        Some(doc) => serde_json::from_value(doc)
            .map(Some)
            .map_err(|e| ProjectionError::bad_event(event, format!("stored {collection}/{key}: {e}"))),
        None => Ok(None),
    }
}

fn write<T: Serialize>(changes: &mut ChangeSet<'_>, collection: &str, key: &str, doc: &T) {
    changes.put(
        collection,
        key,
        serde_json::to_value(doc).expect("read-model documents serialize"),
    );
}

/// The machine's document and where it is: live first, since almost every
/// event is about a live machine (a removed one costs a second read).
async fn find(
    changes: &ChangeSet<'_>,
    event: &RecordedEvent,
    cvm_id: &str,
) -> Result<Option<(Place, CvmDocument)>, ProjectionError> {
    for place in [Place::Live, Place::Removed] {
        if let Some(doc) = read(changes, event, place.collection(), cvm_id).await? {
            return Ok(Some((place, doc)));
        }
    }
    Ok(None)
}

/// Applies `change` to the machine's document where it is and stamps
/// `updatedAt`. Events about unknown machines change nothing (the aggregate
/// never emits them; failing would stop the projection for good). Returns
/// where the document was, after moving the statistics by the change of a
/// live machine's score.
async fn update(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    cvm_id: &str,
    at: &str,
    change: impl FnOnce(&mut CvmDocument),
) -> Result<Option<Place>, ProjectionError> {
    let Some((place, mut doc)) = find(changes, event, cvm_id).await? else {
        return Ok(None);
    };
    let score = doc.score;
    change(&mut doc);
    doc.updated_at = at.to_owned();
    write(changes, place.collection(), cvm_id, &doc);
    if place == Place::Live {
        counters::add_total(changes, event, SCORE_SUM, f64::from(doc.score - score)).await?;
    }
    Ok(Some(place))
}

/// Adds (`sign` 1) or takes away (`sign` −1) a live machine from the
/// statistics: the totals, and the count of its day of creation by origin.
async fn count_machine(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    doc: &CvmDocument,
    sign: f64,
) -> Result<(), ProjectionError> {
    let origin = if doc.imported { IMPORTS } else { REGISTRATIONS_COUNT };
    counters::add_total(changes, event, MACHINES, sign).await?;
    counters::add_total(changes, event, origin, sign).await?;
    counters::add_total(changes, event, SCORE_SUM, sign * f64::from(doc.score)).await?;
    counters::add_day(changes, event, &doc.created_at, origin, sign).await
}

/// Counts a vote on a live machine (the `votes` collection of spec 5.4).
async fn count_vote(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    place: Option<Place>,
    vote_type: VoteType,
    at: &str,
) -> Result<(), ProjectionError> {
    if place != Some(Place::Live) {
        return Ok(());
    }
    let counter = match vote_type {
        VoteType::Upvote => UPVOTES,
        VoteType::Downvote => DOWNVOTES,
    };
    counters::add_total(changes, event, counter, 1.0).await?;
    counters::add_day(changes, event, at, counter, 1.0).await
}

/// Adds an item to an identity's index, keeping the items ordered by time
/// (a restore puts old items back between newer ones).
async fn index_add(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    collection: &str,
    identity: &str,
    item: ActivityItem,
) -> Result<(), ProjectionError> {
    let mut index: ActivityIndex = read(changes, event, collection, identity).await?.unwrap_or_default();
    let at = index.items.partition_point(|i| i.created_at <= item.created_at);
    index.items.insert(at, item);
    write(changes, collection, identity, &index);
    Ok(())
}

/// Drops every item of `cvm_id` from an identity's index (the document goes when empty).
async fn index_remove(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    collection: &str,
    identity: &str,
    cvm_id: &str,
) -> Result<(), ProjectionError> {
    let Some(mut index) = read::<ActivityIndex>(changes, event, collection, identity).await? else {
        return Ok(());
    };
    index.items.retain(|i| i.cvm_id != cvm_id);
    if index.items.is_empty() {
        changes.delete(collection, identity);
    } else {
        write(changes, collection, identity, &index);
    }
    Ok(())
}

async fn register(changes: &mut ChangeSet<'_>, event: &RecordedEvent, doc: CvmDocument) -> Result<(), ProjectionError> {
    if let Some(identity) = &doc.registered_by {
        let item = ActivityItem {
            cvm_id: doc.aggregate_id.clone(),
            created_at: doc.created_at.clone(),
        };
        index_add(changes, event, REGISTRATIONS, identity, item).await?;
    }
    count_machine(changes, event, &doc, 1.0).await?;
    write(changes, CVMS, &doc.aggregate_id, &doc);
    Ok(())
}

async fn reposition(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    e: &CvmRepositioned,
    at: &str,
) -> Result<(), ProjectionError> {
    let place = update(changes, event, &e.cvm_id, at, |doc| doc.reposition(e, at)).await?;
    if place == Some(Place::Live) {
        let item = ActivityItem {
            cvm_id: e.cvm_id.clone(),
            created_at: at.to_owned(),
        };
        index_add(changes, event, REPOSITIONINGS, &e.editor_identity, item).await?;
    }
    Ok(())
}

/// Moves a live machine to `removed-cvms` and out of the throttle indexes.
/// Removal clears the deletion mark, as in the aggregate.
async fn remove(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    cvm_id: &str,
    at: &str,
) -> Result<(), ProjectionError> {
    let Some(mut doc) = read::<CvmDocument>(changes, event, CVMS, cvm_id).await? else {
        return Ok(());
    };
    if let Some(identity) = &doc.registered_by {
        index_remove(changes, event, REGISTRATIONS, identity, cvm_id).await?;
    }
    for editor in doc.editors() {
        index_remove(changes, event, REPOSITIONINGS, editor, cvm_id).await?;
    }
    count_machine(changes, event, &doc, -1.0).await?;
    doc.unmark_for_deletion();
    doc.updated_at = at.to_owned();
    changes.delete(CVMS, cvm_id);
    write(changes, REMOVED_CVMS, cvm_id, &doc);
    Ok(())
}

/// Moves a removed machine back, with its index entries at their original
/// times. The payload's position is not applied (spec 9.3).
async fn restore(
    changes: &mut ChangeSet<'_>,
    event: &RecordedEvent,
    cvm_id: &str,
    at: &str,
) -> Result<(), ProjectionError> {
    let Some(mut doc) = read::<CvmDocument>(changes, event, REMOVED_CVMS, cvm_id).await? else {
        return Ok(());
    };
    if let Some(identity) = &doc.registered_by {
        let item = ActivityItem {
            cvm_id: cvm_id.to_owned(),
            created_at: doc.created_at.clone(),
        };
        index_add(changes, event, REGISTRATIONS, identity, item).await?;
    }
    for entry in &doc.repositionings {
        if let Some(editor) = &entry.identity {
            let item = ActivityItem {
                cvm_id: cvm_id.to_owned(),
                created_at: entry.created_at.clone(),
            };
            index_add(changes, event, REPOSITIONINGS, editor, item).await?;
        }
    }
    count_machine(changes, event, &doc, 1.0).await?;
    doc.updated_at = at.to_owned();
    changes.delete(REMOVED_CVMS, cvm_id);
    write(changes, CVMS, cvm_id, &doc);
    Ok(())
}

#[async_trait]
impl Projection for Cvms {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: statistics counters.
    fn version(&self) -> u32 {
        2
    }

    fn queryable(&self) -> &'static [Queryable] {
        QUERYABLE
    }

    async fn apply(&self, event: &RecordedEvent, changes: &mut ChangeSet<'_>) -> Result<(), ProjectionError> {
        let Input::Cvm(cvm_event) = decode(event)? else {
            return Ok(()); // ident events (erasure) and other aggregates change nothing here
        };
        let at = &iso(occurred_at(event));
        match &cvm_event {
            CvmEvent::Registered(e) => register(changes, event, CvmDocument::registered(e, at)).await?,
            CvmEvent::Imported(e) => register(changes, event, CvmDocument::imported(e, at)).await?,
            CvmEvent::Upvoted(e) => {
                let place = update(changes, event, &e.cvm_id, at, |doc| doc.vote(VoteType::Upvote, e, at)).await?;
                count_vote(changes, event, place, VoteType::Upvote, at).await?;
            }
            CvmEvent::Downvoted(e) => {
                let place = update(changes, event, &e.cvm_id, at, |doc| doc.vote(VoteType::Downvote, e, at)).await?;
                count_vote(changes, event, place, VoteType::Downvote, at).await?;
            }
            CvmEvent::Reported(e) => {
                update(changes, event, &e.cvm_id, at, |doc| doc.report(e, at)).await?;
            }
            CvmEvent::Repositioned(e) => reposition(changes, event, e, at).await?,
            CvmEvent::Synchronized(e) => {
                update(changes, event, &e.cvm_id, at, |doc| doc.synchronize(e)).await?;
            }
            CvmEvent::DeletionMarked(e) => {
                let marked_at = iso(e.marked_at);
                update(changes, event, &e.cvm_id, at, |doc| doc.mark_for_deletion(&marked_at)).await?;
            }
            CvmEvent::DeletionUnmarked(e) => {
                update(changes, event, &e.cvm_id, at, CvmDocument::unmark_for_deletion).await?;
            }
            CvmEvent::Removed(e) => remove(changes, event, &e.cvm_id, at).await?,
            CvmEvent::Restored(e) => restore(changes, event, &e.cvm_id, at).await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, EventLog, MemoryStore};
    use crate::Namespace;
    use aggregates::kippenstummel::cvm::{
        CvmDeletionMarked, CvmDeletionUnmarked, CvmRemoved, CvmRestored, PartialPosition,
    };
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::{json, Value};

    const A: &str = "cvm-a";
    const B: &str = "cvm-b";

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap()
    }

    fn ns() -> Namespace {
        Namespace::new(NAME, 1)
    }

    fn here() -> Position {
        Position::new(8.40395, 49.0092)
    }

    fn registered(id: &str, by: &str) -> CvmEvent {
        CvmEvent::Registered(CvmRegistered {
            cvm_id: id.into(),
            position: here(),
            creator_identity: by.into(),
        })
    }

    fn imported(id: &str, initial_score: Option<i32>) -> CvmEvent {
        CvmEvent::Imported(CvmImported {
            cvm_id: id.into(),
            position: here(),
            initial_score,
        })
    }

    fn vote(id: &str, by: &str, impact: i32) -> CvmVoted {
        CvmVoted {
            cvm_id: id.into(),
            voter_identity: by.into(),
            impact,
            voted_at: None,
        }
    }

    fn reported(id: &str, by: &str, report_type: ReportType, log: &EventLog) -> CvmEvent {
        CvmEvent::Reported(CvmReported {
            cvm_id: id.into(),
            reporter_identity: by.into(),
            report_type,
            timestamp: log.now(),
        })
    }

    fn repositioned(id: &str, by: &str, from: Position, to: Position) -> CvmEvent {
        CvmEvent::Repositioned(CvmRepositioned {
            cvm_id: id.into(),
            editor_identity: by.into(),
            former_position: from,
            repositioned_position: to,
            repositioned_at: None,
        })
    }

    fn synchronized(id: &str, longitude: Option<f64>, latitude: Option<f64>, forced_score: Option<i32>) -> CvmEvent {
        CvmEvent::Synchronized(CvmSynchronized {
            cvm_id: id.into(),
            position: PartialPosition { longitude, latitude },
            forced_score,
        })
    }

    fn removed(id: &str) -> CvmEvent {
        CvmEvent::Removed(CvmRemoved {
            cvm_id: id.into(),
            position: here(),
        })
    }

    fn restored(id: &str, position: Position) -> CvmEvent {
        CvmEvent::Restored(CvmRestored {
            cvm_id: id.into(),
            position,
        })
    }

    fn minute(n: i64) -> String {
        iso(start() + chrono::TimeDelta::minutes(n))
    }

    async fn project(log: &EventLog) -> MemoryStore {
        let store = MemoryStore::default();
        run(&Cvms, &store, &ns(), log.events(), 3)
            .await
            .expect("projection applies");
        store
    }

    fn doc(store: &MemoryStore, collection: &str, key: &str) -> Option<Value> {
        store.dump(&ns()).get(collection).and_then(|c| c.get(key)).cloned()
    }

    fn cvm(store: &MemoryStore, key: &str) -> CvmDocument {
        serde_json::from_value(doc(store, CVMS, key).expect("live cvm document")).expect("a cvm document")
    }

    fn index(store: &MemoryStore, collection: &str, identity: &str) -> Vec<(String, String)> {
        doc(store, collection, identity)
            .map(|d| serde_json::from_value::<ActivityIndex>(d).expect("an index"))
            .map(|i| i.items.into_iter().map(|i| (i.cvm_id, i.created_at)).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn registration_writes_the_exact_document_and_indexes_it() {
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"));
        let store = project(&log).await;

        let expected = json!({
            "aggregateId": A, "longitude": 8.40395, "latitude": 49.0092, "score": 0, "imported": false,
            "markedForDeletion": false, "markedForDeletionAt": null, "registeredBy": "ref-1",
            "createdAt": "2026-01-01T10:00:00.000Z", "updatedAt": "2026-01-01T10:00:00.000Z",
            "lastVotedAt": null, "votes": [], "reports": [], "repositionings": []
        });
        let stored = doc(&store, CVMS, A).expect("document");
        // Compared as text so the key order counts too.
        assert_eq!(stored.to_string(), expected.to_string());
        assert_eq!(index(&store, REGISTRATIONS, "ref-1"), vec![(A.to_owned(), minute(0))]);
    }

    #[tokio::test]
    async fn import_has_no_registrant_and_starts_at_its_score_or_zero() {
        let mut log = EventLog::starting(start());
        log.cvm(imported(A, Some(4))).cvm(imported(B, None));
        let store = project(&log).await;

        let a = cvm(&store, A);
        assert_eq!((a.imported, a.score, a.registered_by.clone()), (true, 4, None));
        assert_eq!(doc(&store, CVMS, A).unwrap()["registeredBy"], Value::Null);
        assert_eq!(cvm(&store, B).score, 0);
        assert!(
            !store.dump(&ns()).contains_key(REGISTRATIONS),
            "imports register nobody"
        );
    }

    #[tokio::test]
    async fn votes_change_the_score_and_are_recorded() {
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"))
            .cvm(CvmEvent::Upvoted(vote(A, "ref-2", 1)))
            .cvm(CvmEvent::Upvoted(vote(A, "ref-3", 1)))
            .cvm(CvmEvent::Downvoted(vote(A, "ref-4", 1)));
        let store = project(&log).await;

        let a = cvm(&store, A);
        assert_eq!(a.score, 1);
        assert_eq!(a.last_voted_at.as_deref(), Some(minute(3).as_str()));
        assert_eq!(
            (a.created_at.as_str(), a.updated_at.as_str()),
            (minute(0).as_str(), minute(3).as_str())
        );
        let stored = doc(&store, CVMS, A).unwrap();
        assert_eq!(
            stored["votes"],
            json!([
                {"identity": "ref-2", "type": "upvote", "impact": 1, "createdAt": minute(1)},
                {"identity": "ref-3", "type": "upvote", "impact": 1, "createdAt": minute(2)},
                {"identity": "ref-4", "type": "downvote", "impact": 1, "createdAt": minute(3)},
            ])
        );
    }

    #[tokio::test]
    async fn scores_clamp_to_the_aggregates_range() {
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1")).cvm(imported(B, Some(-9)));
        for n in 0..12 {
            log.cvm(CvmEvent::Upvoted(vote(A, &format!("up-{n}"), 1)));
        }
        log.cvm(CvmEvent::Downvoted(vote(B, "down", 3)));
        let store = project(&log).await;

        assert_eq!(cvm(&store, A).score, MAX_SCORE);
        assert_eq!(cvm(&store, A).votes.len(), 12, "every vote is still recorded");
        assert_eq!(cvm(&store, B).score, MIN_SCORE);
    }

    #[tokio::test]
    async fn reports_are_recorded_with_their_type() {
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"));
        let missing = reported(A, "ref-2", ReportType::Missing, &log);
        log.cvm(missing);
        let inaccessible = reported(A, "ref-3", ReportType::Inaccessible, &log);
        log.cvm(inaccessible);
        let store = project(&log).await;

        let stored = doc(&store, CVMS, A).unwrap();
        assert_eq!(
            stored["reports"],
            json!([
                {"identity": "ref-2", "type": "missing", "createdAt": minute(1)},
                {"identity": "ref-3", "type": "inaccessible", "createdAt": minute(2)},
            ])
        );
        assert_eq!(stored["updatedAt"], json!(minute(2)));
        assert_eq!(stored["score"], json!(0), "reports do not touch the score");
    }

    #[tokio::test]
    async fn repositioning_moves_the_machine_and_indexes_the_editor() {
        let moved = Position::new(8.4041, 49.0093);
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"))
            .cvm(repositioned(A, "ref-2", here(), moved));
        let store = project(&log).await;

        let a = cvm(&store, A);
        assert_eq!((a.longitude, a.latitude), (moved.longitude, moved.latitude));
        assert_eq!(
            doc(&store, CVMS, A).unwrap()["repositionings"],
            json!([{"identity": "ref-2", "longitude": 8.4041, "latitude": 49.0093, "createdAt": minute(1)}])
        );
        assert_eq!(index(&store, REPOSITIONINGS, "ref-2"), vec![(A.to_owned(), minute(1))]);
        assert_eq!(a.updated_at, minute(1));
    }

    #[tokio::test]
    async fn synchronization_replaces_given_parts_and_only_a_forced_score() {
        let mut log = EventLog::starting(start());
        log.cvm(imported(A, Some(5)))
            .cvm(synchronized(A, None, Some(49.5), None))
            .cvm(imported(B, Some(5)))
            .cvm(synchronized(B, Some(9.0), None, Some(-3)));
        let store = project(&log).await;

        let a = cvm(&store, A);
        assert_eq!(
            (a.longitude, a.latitude, a.score),
            (8.40395, 49.5, 5),
            "null forcedScore keeps it (bug 2)"
        );
        assert_eq!(a.updated_at, minute(1));
        let b = cvm(&store, B);
        assert_eq!((b.longitude, b.latitude, b.score), (9.0, 49.0092, -3));
    }

    #[tokio::test]
    async fn deletion_marks_set_and_clear_the_flags() {
        let marked_at = start() + chrono::TimeDelta::hours(1);
        let mark = CvmEvent::DeletionMarked(CvmDeletionMarked {
            cvm_id: A.into(),
            marked_at,
        });
        let mut log = EventLog::starting(start());
        log.cvm(imported(A, Some(-8))).cvm(mark);
        let marked = project(&log).await;
        let a = cvm(&marked, A);
        assert!(a.marked_for_deletion);
        assert_eq!(a.marked_for_deletion_at, Some(iso(marked_at)));

        log.cvm(CvmEvent::DeletionUnmarked(CvmDeletionUnmarked { cvm_id: A.into() }));
        let unmarked = project(&log).await;
        let a = cvm(&unmarked, A);
        assert!(!a.marked_for_deletion);
        assert_eq!(a.marked_for_deletion_at, None);
        assert_eq!(a.updated_at, minute(2));
    }

    #[tokio::test]
    async fn removal_hides_the_machine_and_restore_brings_it_back_unchanged() {
        let moved = Position::new(8.4041, 49.0093);
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"))
            .cvm(CvmEvent::Upvoted(vote(A, "ref-2", 1)))
            .cvm(repositioned(A, "ref-3", here(), moved))
            .cvm(registered(B, "ref-1"));
        let before = cvm(&project(&log).await, A);

        log.cvm(removed(A));
        let gone = project(&log).await;
        assert_eq!(doc(&gone, CVMS, A), None, "nothing lists a removed machine");
        assert!(doc(&gone, REMOVED_CVMS, A).is_some());
        assert_eq!(index(&gone, REGISTRATIONS, "ref-1"), vec![(B.to_owned(), minute(3))]);
        assert_eq!(doc(&gone, REPOSITIONINGS, "ref-3"), None, "an emptied index is deleted");

        // The restore's payload position is informational; the machine keeps its own.
        log.cvm(restored(A, Position::new(1.0, 1.0)));
        let back = project(&log).await;
        assert_eq!(doc(&back, REMOVED_CVMS, A), None);
        let after = cvm(&back, A);
        assert_eq!(
            CvmDocument {
                updated_at: before.updated_at.clone(),
                ..after.clone()
            },
            before,
            "score, origin, position and history survive (bug 10)"
        );
        assert_eq!((after.score, after.registered_by.as_deref()), (1, Some("ref-1")));
        assert_eq!(after.updated_at, minute(5));
        assert_eq!(
            index(&back, REGISTRATIONS, "ref-1"),
            vec![(A.to_owned(), minute(0)), (B.to_owned(), minute(3))],
            "restored entries keep their time and order"
        );
        assert_eq!(index(&back, REPOSITIONINGS, "ref-3"), vec![(A.to_owned(), minute(2))]);
    }

    #[tokio::test]
    async fn removal_clears_the_deletion_mark_like_the_aggregate() {
        let mut log = EventLog::starting(start());
        log.cvm(imported(A, Some(-9)))
            .cvm(CvmEvent::DeletionMarked(CvmDeletionMarked {
                cvm_id: A.into(),
                marked_at: start(),
            }))
            .cvm(removed(A))
            .cvm(restored(A, here()));
        let a = cvm(&project(&log).await, A);
        assert!(!a.marked_for_deletion);
        assert_eq!(a.marked_for_deletion_at, None);
        assert_eq!((a.score, a.imported), (-9, true));
    }

    #[tokio::test]
    async fn indexes_keep_other_machines_and_other_identities() {
        let moved = Position::new(8.4041, 49.0093);
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"))
            .cvm(registered(B, "ref-2"))
            .cvm(repositioned(A, "ref-3", here(), moved))
            .cvm(repositioned(B, "ref-3", here(), moved))
            .cvm(removed(A));
        let store = project(&log).await;
        assert_eq!(doc(&store, REGISTRATIONS, "ref-1"), None);
        assert_eq!(index(&store, REGISTRATIONS, "ref-2"), vec![(B.to_owned(), minute(1))]);
        assert_eq!(index(&store, REPOSITIONINGS, "ref-3"), vec![(B.to_owned(), minute(3))]);
    }

    #[tokio::test]
    async fn ident_events_and_unknown_machines_change_nothing() {
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1")).ident_erased("ref-1");
        let before = project(&log).await.dump(&ns());
        log.cvm(CvmEvent::Upvoted(vote("unknown", "ref-2", 1)))
            .cvm(removed("unknown"))
            .cvm(restored("unknown", here()))
            .push("devmarkt-template", "t-1", "template-created", json!({"whatever": 1}));
        let after = project(&log).await.dump(&ns());
        assert_eq!(after, before);
        assert_eq!(cvm(&project(&log).await, A).registered_by.as_deref(), Some("ref-1"));
    }

    fn busy_log() -> EventLog {
        let moved = Position::new(8.4041, 49.0093);
        let mut log = EventLog::starting(start());
        log.cvm(registered(A, "ref-1"))
            .cvm(imported(B, Some(3)))
            .cvm(CvmEvent::Upvoted(vote(A, "ref-2", 1)))
            .cvm(CvmEvent::Downvoted(vote(B, "ref-1", 1)))
            .cvm(repositioned(A, "ref-2", here(), moved))
            .cvm(synchronized(B, Some(8.5), None, Some(-8)))
            .cvm(CvmEvent::DeletionMarked(CvmDeletionMarked {
                cvm_id: B.into(),
                marked_at: start(),
            }))
            .cvm(removed(B))
            .cvm(removed(A))
            .cvm(restored(A, moved))
            .ident_erased("ref-2");
        let report = reported(A, "ref-3", ReportType::Spam, &log);
        log.cvm(report);
        log
    }

    #[tokio::test]
    async fn a_replay_gives_identical_documents_whatever_the_batching() {
        let log = busy_log();
        let once = project(&log).await.dump(&ns());
        let again = project(&log).await.dump(&ns());
        assert_eq!(once, again);
        assert!(once.get(CVMS).is_some_and(|c| c.contains_key(A)));
        assert!(once.get(REMOVED_CVMS).is_some_and(|c| c.contains_key(B)));
        for batch in [1, log.events().len()] {
            let store = MemoryStore::default();
            run(&Cvms, &store, &ns(), log.events(), batch).await.unwrap();
            assert_eq!(store.dump(&ns()), once, "batch size {batch}");
        }
    }
}
