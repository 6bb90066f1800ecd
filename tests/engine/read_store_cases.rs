//! Read-model store conformance cases; each takes a fresh, empty store.

use projections::{ActiveModel, Change, Namespace, ReadStore, StoreError};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn put(collection: &str, key: &str, doc: serde_json::Value) -> Change {
    Change::PutDoc {
        collection: collection.into(),
        key: key.into(),
        doc,
    }
}

fn zadd(set: &str, member: &str, score: f64) -> Change {
    Change::ZAdd {
        set: set.into(),
        member: member.into(),
        score,
    }
}

pub async fn documents_and_sets_round_trip(store: Arc<dyn ReadStore>, _: &Path) {
    store.ping().await.unwrap();
    let ns = Namespace::new("t", 1);
    assert_eq!(store.checkpoint(&ns).await.unwrap(), 0);
    let changes = vec![
        put("c", "b", json!({"n": 2, "nested": {"s": "ü"}})),
        put("c", "a", json!({"n": 1})),
        put("other", "a", json!(null)),
        zadd("z", "alice", 5.0),
        zadd("z", "bob", 7.5),
        zadd("z", "carol", 5.0),
        zadd("z", "dave", -1.0),
    ];
    store.commit(&ns, 0, 10, &changes).await.unwrap();
    assert_eq!(store.checkpoint(&ns).await.unwrap(), 10);
    assert_eq!(
        store.get_doc(&ns, "c", "b").await.unwrap(),
        Some(json!({"n": 2, "nested": {"s": "ü"}}))
    );
    assert_eq!(store.get_doc(&ns, "c", "zz").await.unwrap(), None);
    let listed = store.list_docs(&ns, "c").await.unwrap();
    assert_eq!(
        listed,
        vec![
            ("a".into(), json!({"n": 1})),
            ("b".into(), json!({"n": 2, "nested": {"s": "ü"}}))
        ]
    );
    assert_eq!(store.zscore(&ns, "z", "bob").await.unwrap(), Some(7.5));
    assert_eq!(store.zscore(&ns, "z", "nobody").await.unwrap(), None);
    let top = store.zrange_desc(&ns, "z", 0, 3).await.unwrap();
    assert_eq!(
        top,
        vec![("bob".into(), 7.5), ("carol".into(), 5.0), ("alice".into(), 5.0)]
    );
    assert_eq!(
        store.zrange_desc(&ns, "z", 3, 10).await.unwrap(),
        vec![("dave".into(), -1.0)]
    );
    assert!(store.zrange_desc(&ns, "z", 0, 0).await.unwrap().is_empty());
    // Client-given pages far past the end are empty, not wrapped to the start or the end.
    for offset in [usize::MAX, 1 << 63, (1 << 62) + 1, 1 << 40] {
        assert!(
            store.zrange_desc(&ns, "z", offset, 50).await.unwrap().is_empty(),
            "{offset}"
        );
        assert!(
            store.zrange_asc(&ns, "z", offset, 50).await.unwrap().is_empty(),
            "{offset}"
        );
    }
    assert_eq!(store.zrange_asc(&ns, "z", 0, usize::MAX).await.unwrap().len(), 4);
    let bottom = store.zrange_asc(&ns, "z", 0, 3).await.unwrap();
    assert_eq!(
        bottom,
        vec![("dave".into(), -1.0), ("alice".into(), 5.0), ("carol".into(), 5.0)]
    );
    assert_eq!(
        store.zrange_asc(&ns, "z", 3, 10).await.unwrap(),
        vec![("bob".into(), 7.5)]
    );
    assert_eq!(store.zcard(&ns, "z").await.unwrap(), 4);
    assert_eq!(store.zcard(&ns, "nothing").await.unwrap(), 0);

    let removals = vec![
        Change::DeleteDoc {
            collection: "c".into(),
            key: "a".into(),
        },
        Change::ZRem {
            set: "z".into(),
            member: "bob".into(),
        },
        zadd("z", "alice", 9.0),
    ];
    store.commit(&ns, 10, 11, &removals).await.unwrap();
    assert_eq!(store.list_docs(&ns, "c").await.unwrap().len(), 1);
    assert_eq!(
        store.zrange_desc(&ns, "z", 0, 1).await.unwrap(),
        vec![("alice".into(), 9.0)]
    );
}

pub async fn commit_is_fenced_by_the_checkpoint(store: Arc<dyn ReadStore>, _: &Path) {
    let ns = Namespace::new("t", 1);
    store.commit(&ns, 0, 5, &[put("c", "k", json!(1))]).await.unwrap();
    // A writer that still believes the checkpoint is 0 (it lost its lease).
    let error = store
        .commit(&ns, 0, 3, &[put("c", "k", json!(2)), zadd("z", "m", 1.0)])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Fenced { expected: 0, found: 5 }),
        "{error:?}"
    );
    assert_eq!(
        store.get_doc(&ns, "c", "k").await.unwrap(),
        Some(json!(1)),
        "nothing of the fenced batch"
    );
    assert_eq!(store.zscore(&ns, "z", "m").await.unwrap(), None);
    assert_eq!(store.checkpoint(&ns).await.unwrap(), 5);
}

pub async fn generations_are_isolated_and_dropped(store: Arc<dyn ReadStore>, _: &Path) {
    assert_eq!(store.active("p").await.unwrap(), None);
    let first = store.next_generation("p").await.unwrap();
    let second = store.next_generation("p").await.unwrap();
    assert!(second > first);
    let (old, new) = (Namespace::new("p", first), Namespace::new("p", second));
    store
        .commit(&old, 0, 1, &[put("c", "k", json!("old")), zadd("z", "m", 1.0)])
        .await
        .unwrap();
    store.commit(&new, 0, 2, &[put("c", "k", json!("new"))]).await.unwrap();
    assert_eq!(store.get_doc(&old, "c", "k").await.unwrap(), Some(json!("old")));
    assert_eq!(store.get_doc(&new, "c", "k").await.unwrap(), Some(json!("new")));
    store
        .activate(
            "p",
            ActiveModel {
                generation: first,
                version: 1,
            },
        )
        .await
        .unwrap();
    store
        .activate(
            "p",
            ActiveModel {
                generation: second,
                version: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.active("p").await.unwrap(),
        Some(ActiveModel {
            generation: second,
            version: 2
        })
    );
    // Another projection with the same generation number is separate.
    store
        .commit(&Namespace::new("q", first), 0, 9, &[put("c", "k", json!("q"))])
        .await
        .unwrap();
    store.drop_generation(&old).await.unwrap();
    assert_eq!(store.get_doc(&old, "c", "k").await.unwrap(), None);
    assert_eq!(store.zscore(&old, "z", "m").await.unwrap(), None);
    assert_eq!(store.checkpoint(&old).await.unwrap(), 0);
    assert_eq!(store.get_doc(&new, "c", "k").await.unwrap(), Some(json!("new")));
    assert_eq!(
        store.get_doc(&Namespace::new("q", first), "c", "k").await.unwrap(),
        Some(json!("q"))
    );
}

pub async fn leases_are_exclusive_and_expire(store: Arc<dyn ReadStore>, _: &Path) {
    let ttl = Duration::from_millis(300);
    assert!(store.try_lease("l", "one", ttl).await.unwrap());
    assert!(!store.try_lease("l", "two", ttl).await.unwrap(), "held by one");
    assert!(store.try_lease("l", "one", ttl).await.unwrap(), "renewal");
    assert!(
        store.try_lease("other", "two", ttl).await.unwrap(),
        "leases are independent"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(
        store.try_lease("l", "two", ttl).await.unwrap(),
        "expired lease taken over"
    );
    assert!(!store.try_lease("l", "one", ttl).await.unwrap());
    store.release_lease("l", "one").await.unwrap(); // not the holder: no effect
    assert!(!store.try_lease("l", "one", ttl).await.unwrap());
    store.release_lease("l", "two").await.unwrap();
    assert!(
        store.try_lease("l", "one", ttl).await.unwrap(),
        "released lease is free"
    );
}
