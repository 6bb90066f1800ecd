//! The limits on one GraphQL document (src/devmarkt/graphql/limits.rs):
//! expensive documents are refused before anything runs, in GraphQL's error
//! shape (HTTP 200, `errors`, no `data`), on HTTP and WebSockets; documents
//! inside the limits answer as before, through the batched loaders.

use crate::rig::*;
use crate::subscriptions::{connect, next, send};
use serde_json::{json, Value};

/// `levels` nested fields of `applications { user { applications … } }`
/// below `user(testuser:1)`, as in the issue.
fn deep(levels: usize) -> String {
    let mut query = String::from("{ user(id: {type: \"testuser\", number: 1}) { ... on User { ");
    for level in 0..levels {
        query.push_str(if level % 2 == 0 {
            "applications { id "
        } else {
            "user { role "
        });
    }
    query + &"} ".repeat(levels) + "} } }"
}

/// The only error of a refused document, which has no `data`.
fn refusal(body: &Value) -> &str {
    assert!(body.get("data").is_none(), "{body}");
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(errors.len(), 1, "{body}");
    errors[0]["message"].as_str().unwrap()
}

#[tokio::test]
async fn a_deep_nesting_of_applications_and_users_is_refused() {
    let dm = Devmarkt::start().await;
    let body = dm.gql(&admin(), &deep(12), json!({})).await;
    assert_eq!(body, json!({"errors": [{"message": "Query is too complex."}]}));
    // A mutation refused for its selection is not executed either.
    let create = "mutation { createApplication(templateName: \"Empty template\", answers: []) { \
        ... on Application { user { applications { user { applications { user { applications { id } } } } } } } } }";
    let body = dm.gql(&user(), create, json!({})).await;
    assert_eq!(refusal(&body), "Query is too complex.");
    let create =
        "mutation { createApplication(templateName: \"Empty template\", answers: []) { ... on Application { id } } }";
    assert_eq!(
        dm.data(&user(), create, json!({})).await,
        json!({"createApplication": {"id": 7}})
    );
    // A chain without lists is bounded by its depth.
    let chain = format!(
        "{{ application(id: 1) {{ ... on Application {{ {} id {} }} }} }}",
        "user { currentApplication { ".repeat(8),
        "} } ".repeat(8)
    );
    let body = dm.gql(&admin(), &chain, json!({})).await;
    assert_eq!(refusal(&body), "Query is nested too deep.");
}

#[tokio::test]
async fn alias_floods_and_oversized_documents_are_refused() {
    let dm = Devmarkt::start().await;
    let aliases: String = (0..5_000).map(|n| format!("a{n}:roles ")).collect();
    let body = dm.gql(&admin(), &format!("{{ {aliases}}}"), json!({})).await;
    assert!(
        refusal(&body).starts_with("The document has more than 1000 selections"),
        "{body}"
    );
    // The same flood through one fragment spread many times.
    let spreads = "...R ".repeat(2_000);
    let body = dm
        .gql(
            &admin(),
            &format!("{{ {spreads}}} fragment R on Query {{ roles }}"),
            json!({}),
        )
        .await;
    assert!(refusal(&body).starts_with("The document has more than 1000 selections"));
    // Longer than 64 KiB, shorter than the HTTP body limit: still GraphQL's shape.
    let long = format!("{{ roles {}}}", " ".repeat(70_000));
    let body = dm.gql(&admin(), &long, json!({})).await;
    let message = format!("The query is {} bytes long, more than 65536.", long.len());
    assert_eq!(refusal(&body), message);
    let operations: String = (0..17).map(|n| format!("query Q{n} {{ roles }} ")).collect();
    let body = dm.gql(&admin(), &operations, json!({})).await;
    assert_eq!(refusal(&body), "The document has more than 16 operations.");
}

#[tokio::test]
async fn documents_just_inside_the_limits_are_answered() {
    let dm = Devmarkt::start().await;
    // Two levels of a user's applications (complexity 795 of 1,000).
    let nested = "{ user(id: {type: \"testuser\", number: 1}) { ... on User { id { type number } role \
        applications { id status template { name } user { id { type number } role \
        applications { id status template { name } answers { number } } } } } } }";
    let data = dm.data(&admin(), nested, json!({})).await;
    let owner = json!({"type": "testuser", "number": 1});
    let inner = json!([
        {"id": 1, "status": "UNPROCESSED", "template": {"name": "Dev offered"}, "answers": [{"number": 0}, {"number": 1}, {"number": 2}]},
        {"id": 3, "status": "REJECTED", "template": {"name": "Dev offered"}, "answers": [{"number": 0}, {"number": 1}, {"number": 2}]},
        {"id": 2, "status": "ACCEPTED", "template": {"name": "Empty template"}, "answers": []}
    ]);
    let user = json!({"id": owner, "role": "NONE", "applications": inner});
    let outer: Vec<Value> = [
        (1, "UNPROCESSED", "Dev offered"),
        (3, "REJECTED", "Dev offered"),
        (2, "ACCEPTED", "Empty template"),
    ]
    .into_iter()
    .map(|(id, status, template)| json!({"id": id, "status": status, "template": {"name": template}, "user": user}))
    .collect();
    assert_eq!(
        data,
        json!({"user": {"id": owner, "role": "NONE", "applications": outer}})
    );
    // A chain exactly as deep as allowed (16 fields, the leaf included).
    let chain = format!(
        "{{ application(id: 1) {{ ... on Application {{ {} id {} }} }} }}",
        "user { currentApplication { ".repeat(7),
        "} } ".repeat(7)
    );
    let mut expected = json!({"id": 1});
    for _ in 0..7 {
        expected = json!({"user": {"currentApplication": expected}});
    }
    assert_eq!(
        dm.data(&admin(), &chain, json!({})).await,
        json!({"application": expected})
    );
}

/// The batched loaders answer what the read model holds, per epoch: after
/// a QA reseed the ids restart and nothing of the old epoch shows.
#[tokio::test]
async fn nested_fields_follow_writes_and_reseeds() {
    let dm = Devmarkt::start().await;
    let query = "{ a: user(id: {type: \"testuser\", number: 2}) { ...U } b: user(id: {type: \"testuser\", number: 3}) { ...U } } \
        fragment U on User { currentApplication { id user { id { number } } } \
        applications { id status user { id { number } currentApplication { id } } } }";
    let seeded = json!({
        "a": {"currentApplication": null, "applications": [
            {"id": 4, "status": "ACCEPTED", "user": {"id": {"number": 2}, "currentApplication": null}},
            {"id": 5, "status": "REJECTED", "user": {"id": {"number": 2}, "currentApplication": null}}
        ]},
        "b": {"currentApplication": {"id": 6, "user": {"id": {"number": 3}}}, "applications": [
            {"id": 6, "status": "UNPROCESSED", "user": {"id": {"number": 3}, "currentApplication": {"id": 6}}}
        ]}
    });
    assert_eq!(dm.data(&admin(), query, json!({})).await, seeded);

    let create =
        "mutation { createApplication(templateName: \"Empty template\", answers: []) { ... on Application { id \
        user { currentApplication { id } applications { id } } } } }";
    assert_eq!(
        dm.data(&user(), create, json!({})).await,
        json!({"createApplication": {"id": 7, "user": {"currentApplication": {"id": 7}, "applications": [{"id": 4}, {"id": 5}, {"id": 7}]}}})
    );
    let after = dm.data(&admin(), query, json!({})).await;
    assert_eq!(
        after["a"]["currentApplication"],
        json!({"id": 7, "user": {"id": {"number": 2}}})
    );
    assert_eq!(
        after["a"]["applications"][2],
        json!({"id": 7, "status": "UNPROCESSED", "user": {"id": {"number": 2}, "currentApplication": {"id": 7}}})
    );

    dm.seed().await;
    assert_eq!(dm.data(&admin(), query, json!({})).await, seeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_hold_on_websockets() {
    let dm = Devmarkt::start().await;
    let mut socket = connect(&dm, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": admin()}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let deep_subscription = "subscription { applicationCreated { user { applications { user { applications { \
        user { applications { id } } } } } } } }";
    let long = format!("subscription {{ applicationDeleted {}}}", " ".repeat(70_000));
    let too_long = format!("The query is {} bytes long, more than 65536.", long.len());
    let cases = [
        ("1", deep_subscription.to_owned(), "Query is too complex.".to_owned()),
        ("2", deep(12), "Query is too complex.".to_owned()),
        ("3", long, too_long),
    ];
    for (id, query, message) in cases {
        send(
            &mut socket,
            json!({"id": id, "type": "subscribe", "payload": {"query": query}}),
        )
        .await;
        // As every request failing before execution does on a socket: one
        // result with the errors, then the end of the operation.
        assert_eq!(
            next(&mut socket).await,
            json!({"id": id, "type": "next", "payload": {"data": null, "errors": [{"message": message}]}})
        );
        assert_eq!(next(&mut socket).await, json!({"id": id, "type": "complete"}));
    }
    // The socket still serves what is inside the limits.
    send(
        &mut socket,
        json!({"id": "4", "type": "subscribe", "payload": {"query": "{ roles }"}}),
    )
    .await;
    assert_eq!(
        next(&mut socket).await,
        json!({"id": "4", "type": "next", "payload": {"data": {"roles": ["ADMIN", "USER", "NONE"]}}})
    );
}

/// A socket message larger than the HTTP body limit closes the socket
/// instead of being buffered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_socket_message_closes_the_socket() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let dm = Devmarkt::start().await;
    let mut socket = connect(&dm, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": admin()}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let huge = json!({"id": "1", "type": "subscribe", "payload": {"query": "{ roles }", "variables": {"x": "x".repeat(200_000)}}});
    // The server may close while the message is still being written.
    let _ = socket.send(Message::Text(huge.to_string().into())).await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket stays open");
}
