//! MongoDB-only cases: what a real database holds besides our own writes
//! (another application's collections, numbers in other widths).

use crate::support::*;
use aggregates::probe::{Probe, ProbeCommand};
use cqrs_es::{AggregateContext, EventStore};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use projections::{Change, EventSource, Namespace, ReadStore};
use std::collections::BTreeMap;
use stummel::config::{Config, Source};
use stummel::engine::Engine;
use stummel::event_store::{AggregateStore, CommandBus, CommandMetadata};
use stummel::kippenstummel::idents::{IdentDoc, IdentStore, MongoIdents};
use stummel::mongo::Mongo;

async fn dump(db: &mongodb::Database, name: &str) -> (Vec<Document>, Vec<String>) {
    let collection = db.collection::<Document>(name);
    let docs = collection
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut indexes = collection.list_index_names().await.unwrap();
    indexes.sort();
    (docs, indexes)
}

/// A test configuration (a deployment with MONGO_URI must name its NODE_ENV).
fn config(pairs: &[(&str, &str)]) -> Config {
    let mut all: std::collections::HashMap<String, String> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.entry("NODE_ENV".to_owned()).or_insert_with(|| "test".to_owned());
    Config::from_source(&Source::from_map(all)).unwrap()
}

fn ident(identity: &str, reference: &str) -> IdentDoc {
    let now = chrono::Utc::now();
    IdentDoc {
        identity: identity.into(),
        secret_hash: "hash".into(),
        reference: reference.into(),
        username: None,
        suffix: None,
        trusted: false,
        last_active_at: now,
        created_at: now,
        updated_at: now,
    }
}

/// The original Kippenstummel keeps `events`, `snapshots`, `idents`, ... in
/// the database stummel may be pointed at. Its indexes would collide with
/// ours (two idents without `reference` break a unique index on it) and its
/// documents must never be read or written by us.
pub async fn an_existing_kippenstummel_database_is_left_alone(mongo: &MongoDb) {
    let db = &mongo.db;
    let events = db.collection::<Document>("events");
    events
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"streamId": 1, "version": 1})
                .options(mongodb::options::IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    events
        .insert_one(doc! {"_id": "01J0000000000000000000000", "streamId": "cvm-1", "event": "cvm-registered", "version": 1, "payload": {}})
        .await
        .unwrap();
    db.collection::<Document>("snapshots")
        .insert_one(doc! {"streamId": "cvm-1", "version": 1, "latest": "latest#cvm-1"})
        .await
        .unwrap();
    let idents = db.collection::<Document>("idents");
    idents
        .insert_many([
            doc! {"identity": "original-1", "secret": "x", "trusted": false},
            doc! {"identity": "original-2", "secret": "y", "trusted": true},
        ])
        .await
        .unwrap();
    let originals = ["events", "snapshots", "idents"];
    let mut before = BTreeMap::new();
    for name in originals {
        before.insert(name, dump(db, name).await);
    }

    let dir = tempfile::tempdir().unwrap();
    let uri = mongo_uri_for(mongo);
    let data_dir = dir.path().to_str().unwrap();
    for prefix in [None, Some("kms_")] {
        let mut pairs = vec![("MONGO_URI", uri.as_str()), ("DATA_DIR", data_dir)];
        if let Some(prefix) = prefix {
            pairs.push(("MONGO_COLLECTION_PREFIX", prefix));
        }
        let engine = Engine::start(config(&pairs)).await.unwrap();
        // Writes through every kind of store: the log, a read model, an identity.
        let bus = CommandBus::<Probe>::new(engine.events.clone(), 1, 3, (), engine.metrics.clone());
        let metadata = CommandMetadata::new("t", None, chrono::Utc::now());
        bus.execute("cvm-1", ProbeCommand::Record { value: 1 }, &metadata)
            .await
            .unwrap();
        let projector = engine.projector("event-stats").unwrap();
        projector.rebuild(0, &[], &mut |_, _| {}).await.unwrap();
        let handle = Mongo::with_database(mongo.client.clone(), db.clone())
            .with_prefix(prefix.unwrap_or(stummel::mongo::DEFAULT_COLLECTION_PREFIX));
        let idents = MongoIdents::open(&handle).await.unwrap();
        idents.insert(&ident("original-1", "ref-1")).await.unwrap();
        assert_eq!(idents.all().await.unwrap().len(), 1, "only our own identities");
    }

    for name in originals {
        assert_eq!(dump(db, name).await, before[name], "{name} was touched");
    }
    let mut ours: Vec<String> = db
        .list_collection_names()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| !originals.contains(&n.as_str()))
        .collect();
    ours.sort();
    assert!(
        ours.iter().all(|n| n.starts_with("stummel_") || n.starts_with("kms_")),
        "{ours:?}"
    );
    for name in [
        "events",
        "snapshots",
        "counters",
        "idents",
        "rm_docs",
        "rm_checkpoints",
        "leases",
    ] {
        for prefix in ["stummel_", "kms_"] {
            assert!(ours.contains(&format!("{prefix}{name}")), "{prefix}{name} in {ours:?}");
        }
    }
}

/// Our numbers may come back narrower or as doubles (another tool rewrote
/// them, a server normalised them): loads, appends, reads and read-model
/// checkpoints must still work.
pub async fn integers_in_any_width_are_read_back(mongo: &MongoDb) {
    let repo = mongo_events(mongo).await;
    let bus = CommandBus::<Probe>::new(repo.clone(), 2, 3, (), stummel::metrics::Metrics::new());
    let metadata = CommandMetadata::new("t", None, chrono::Utc::now());
    for value in 1..=5 {
        bus.execute("w", ProbeCommand::Record { value }, &metadata)
            .await
            .unwrap();
    }
    let db = &mongo.db;
    let name = |c: &str| format!("{}{c}", stummel::mongo::DEFAULT_COLLECTION_PREFIX);
    db.collection::<Document>(&name("counters"))
        .update_one(doc! {"_id": "events"}, doc! {"$set": {"position": Bson::Int32(5)}})
        .await
        .unwrap();
    let events = db.collection::<Document>(&name("events"));
    for position in 1..=5_i64 {
        events
            .update_one(
                doc! {"position": position},
                doc! {"$set": {"position": Bson::Int32(position as i32), "sequence": Bson::Double(position as f64)}},
            )
            .await
            .unwrap();
    }
    db.collection::<Document>(&name("snapshots"))
        .update_many(
            doc! {},
            doc! {"$set": {"last_sequence": Bson::Int32(4), "snapshot_no": Bson::Double(2.0)}},
        )
        .await
        .unwrap();

    let store = AggregateStore::<Probe>::new(repo.clone(), 2);
    let mut context = store.load_aggregate("w").await.unwrap();
    assert_eq!(context.aggregate().sum, 15);
    bus.execute("w", ProbeCommand::Record { value: 6 }, &metadata)
        .await
        .unwrap();
    let all = repo.read_after(0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(all[5].sequence, 6);
    assert_eq!(repo.head().await.unwrap(), 6);

    let reads = mongo_reads(mongo).await;
    let ns = Namespace::new("widths", 1);
    let set = Change::ZAdd {
        set: "s".into(),
        member: "m".into(),
        score: 3.0,
    };
    reads.commit(&ns, 0, 7, &[set]).await.unwrap();
    db.collection::<Document>(&name("rm_checkpoints"))
        .update_many(doc! {}, doc! {"$set": {"position": Bson::Int32(7)}})
        .await
        .unwrap();
    db.collection::<Document>(&name("rm_zsets"))
        .update_many(doc! {}, doc! {"$set": {"score": Bson::Int32(3)}})
        .await
        .unwrap();
    assert_eq!(reads.checkpoint(&ns).await.unwrap(), 7);
    assert_eq!(reads.zscore(&ns, "s", "m").await.unwrap(), Some(3.0));
    assert_eq!(
        reads.zrange_desc(&ns, "s", 0, 10).await.unwrap(),
        vec![("m".to_owned(), 3.0)]
    );
    reads.commit(&ns, 7, 8, &[]).await.unwrap();
}

/// Erasing an identity deletes the only document that maps it to its
/// reference; afterwards neither value can be found in any document we
/// keep, nor through any index of the identity collection.
pub async fn erased_identities_leave_no_link_in_documents_or_indexes(mongo: &MongoDb) {
    let handle = Mongo::with_database(mongo.client.clone(), mongo.db.clone());
    let idents = MongoIdents::open(&handle).await.unwrap();
    let now = chrono::Utc::now();
    for (identity, reference) in [
        ("erased-identity", "erased-reference"),
        ("kept-identity", "kept-reference"),
    ] {
        idents.insert(&ident(identity, reference)).await.unwrap();
        idents
            .set_username(identity, Some(&format!("{identity}-name")), Some("1234"), now)
            .await
            .unwrap();
    }
    let erased = idents.delete("erased-identity").await.unwrap().unwrap();
    assert_eq!(erased.reference, "erased-reference");
    assert!(idents.get("erased-identity").await.unwrap().is_none());

    let needles = ["erased-identity", "erased-reference", "erased-identity-name"];
    let collection = mongo.db.collection::<Document>(&handle.name("idents"));
    let indexes: Vec<mongodb::IndexModel> = collection.list_indexes().await.unwrap().try_collect().await.unwrap();
    assert!(indexes.len() >= 4, "{indexes:?}");
    for index in &indexes {
        let options = index.options.as_ref();
        let name = options.and_then(|o| o.name.clone()).unwrap();
        // A partial index only serves queries within its filter.
        let partial = options.and_then(|o| o.partial_filter_expression.clone());
        for (field, _) in index.keys.iter() {
            for needle in needles {
                let mut filter = partial.clone().unwrap_or_default();
                filter.insert(field, needle);
                let found = collection
                    .count_documents(filter)
                    .hint(mongodb::options::Hint::Name(name.clone()))
                    .await
                    .unwrap();
                assert_eq!(found, 0, "{needle} still reachable through index {name}");
            }
        }
    }
    let mut found_kept = false;
    for name in mongo.db.list_collection_names().await.unwrap() {
        let docs: Vec<Document> = mongo
            .db
            .collection::<Document>(&name)
            .find(doc! {})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let text = format!("{docs:?}");
        for needle in needles {
            assert!(!text.contains(needle), "{needle} still stored in {name}");
        }
        found_kept |= text.contains("kept-reference") && text.contains("kept-identity");
    }
    assert!(found_kept, "the scan finds what is stored");
}
