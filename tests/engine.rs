//! The engine's conformance suites, run against every backend:
//! - event stores: embedded SQLite and MongoDB;
//! - read-model stores: embedded SQLite, Redis (a private redis-server) and MongoDB;
//! - the projector runtime on each read-model store.
//!
//! MongoDB variants are ignored unless STUMMEL_TEST_MONGO_URI is set (see scripts/test.sh).

mod support;

#[path = "engine/event_store_cases.rs"]
mod event_store_cases;
#[path = "engine/mongo_cases.rs"]
mod mongo_cases;
#[path = "engine/projector_cases.rs"]
mod projector_cases;
#[path = "engine/read_store_cases.rs"]
mod read_store_cases;

use support::*;

/// One test per (backend, case) for the event store.
macro_rules! event_store_suite {
    ($($case:ident),* $(,)?) => {
        mod embedded_event_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    crate::event_store_cases::$case(crate::embedded_events(dir.path())).await;
                }
            )*
        }
        mod mongo_event_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs STUMMEL_TEST_MONGO_URI"]
                async fn $case() {
                    let mongo = crate::MongoDb::fresh().await;
                    crate::event_store_cases::$case(crate::mongo_events(&mongo).await).await;
                    mongo.drop_database().await;
                }
            )*
        }
    };
}

event_store_suite!(
    append_and_load,
    metadata_is_recorded,
    conflicting_append_fails_and_writes_nothing,
    conflicting_commands_are_retried,
    snapshot_equals_full_rebuild,
    corrupt_snapshot_falls_back_to_events,
    global_order_under_concurrent_appenders,
    old_event_versions_are_upcast,
    user_errors_write_nothing,
);

/// One test per (backend, case) for read-model stores and projectors.
macro_rules! read_store_suite {
    ($module:ident, $cases:ident: $($case:ident),* $(,)?) => {
        mod $module {
            mod embedded {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $case() {
                        let dir = tempfile::tempdir().unwrap();
                        let store = std::sync::Arc::new(crate::embedded_reads(dir.path()));
                        crate::$cases::$case(store, dir.path()).await;
                    }
                )*
            }
            mod redis {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $case() {
                        let dir = tempfile::tempdir().unwrap();
                        let redis = crate::RedisServer::start();
                        let store = std::sync::Arc::new(crate::redis_reads(&redis).await);
                        crate::$cases::$case(store, dir.path()).await;
                    }
                )*
            }
            mod mongo {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    #[ignore = "needs STUMMEL_TEST_MONGO_URI"]
                    async fn $case() {
                        let dir = tempfile::tempdir().unwrap();
                        let mongo = crate::MongoDb::fresh().await;
                        let store = std::sync::Arc::new(crate::mongo_reads(&mongo).await);
                        crate::$cases::$case(store, dir.path()).await;
                        mongo.drop_database().await;
                    }
                )*
            }
        }
    };
}

read_store_suite!(read_store, read_store_cases:
    documents_and_sets_round_trip,
    commit_is_fenced_by_the_checkpoint,
    generations_are_isolated_and_dropped,
    leases_are_exclusive_and_expire,
    queryable_collections_answer_like_the_reference,
);

read_store_suite!(projector, projector_cases:
    projector_tails_the_log_live,
    restart_resumes_without_double_counting,
    duplicate_delivery_is_fenced,
    rebuild_matches_live_model_and_swaps_atomically,
    version_change_rebuilds_at_start,
    second_instance_takes_over_an_expired_lease,
    failing_event_stops_the_projection_without_skipping,
);

/// Cases that only exist on MongoDB.
macro_rules! mongo_suite {
    ($($case:ident),* $(,)?) => {
        mod mongo_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs STUMMEL_TEST_MONGO_URI"]
                async fn $case() {
                    let mongo = crate::MongoDb::fresh().await;
                    crate::mongo_cases::$case(&mongo).await;
                    mongo.drop_database().await;
                }
            )*
        }
    };
}

mongo_suite!(
    an_existing_kippenstummel_database_is_left_alone,
    integers_in_any_width_are_read_back,
    erased_identities_leave_no_link_in_documents_or_indexes,
);
