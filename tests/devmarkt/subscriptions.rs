//! Spec 10: subscriptions over WebSockets, fed from the event log.

use crate::rig::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(dm: &Devmarkt, protocol: &str) -> Socket {
    let url = dm.service.url("/graphql-ws").replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::Text(message.to_string().into())).await.unwrap();
}

/// The next JSON message.
async fn next_raw(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// The next JSON message that is not a keep-alive.
pub async fn next(socket: &mut Socket) -> Value {
    loop {
        let value = next_raw(socket).await;
        if value["type"] != "ka" {
            return value;
        }
    }
}

on_both_backends!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_subscriber_sees_application_processed_after_a_process_mutation_on: a_subscriber_sees_application_processed_after_a_process_mutation, a_subscriber_sees_application_processed_after_a_process_mutation_on_mongodb);

async fn a_subscriber_sees_application_processed_after_a_process_mutation_on() {
    let dm = Devmarkt::start().await;
    // subscriptions-transport-ws (`graphql-ws`), credentials in connection_init.
    let mut socket = connect(&dm, "graphql-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": user()}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let query = "subscription { applicationProcessed { id status } }";
    send(
        &mut socket,
        json!({"id": "1", "type": "start", "payload": {"query": query, "variables": {}}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let process = "mutation { processApplication(id: 1, status: ACCEPTED) }";
    assert_eq!(
        dm.data(&admin(), process, json!({})).await,
        json!({"processApplication": true})
    );
    assert_eq!(
        next(&mut socket).await,
        json!({"id": "1", "type": "data", "payload": {"data": {"applicationProcessed": {"id": 1, "status": "ACCEPTED"}}}})
    );
    send(&mut socket, json!({"id": "1", "type": "stop"})).await;
    assert_eq!(next(&mut socket).await, json!({"id": "1", "type": "complete"}));
}

on_both_backends!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] created_and_deleted_over_graphql_transport_ws_with_role_gates_on: created_and_deleted_over_graphql_transport_ws_with_role_gates, created_and_deleted_over_graphql_transport_ws_with_role_gates_on_mongodb);

async fn created_and_deleted_over_graphql_transport_ws_with_role_gates_on() {
    let dm = Devmarkt::start().await;
    // graphql-transport-ws, credentials from the upgrade request's header.
    let url = dm.service.url("/graphql-ws").replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    request.headers_mut().insert("Authorization", admin().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut socket, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let created = "subscription { applicationCreated { id status user { id { type number } } template { name } } }";
    send(
        &mut socket,
        json!({"id": "c", "type": "subscribe", "payload": {"query": created}}),
    )
    .await;
    send(
        &mut socket,
        json!({"id": "d", "type": "subscribe", "payload": {"query": "subscription { applicationDeleted }"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let create =
        r#"mutation { createApplication(templateName: "Empty template", answers: []) { ... on Application { id } } }"#;
    assert_eq!(
        dm.data(&user(), create, json!({})).await,
        json!({"createApplication": {"id": 7}})
    );
    assert_eq!(
        next(&mut socket).await,
        json!({"id": "c", "type": "next", "payload": {"data": {"applicationCreated": {
            "id": 7, "status": "UNPROCESSED", "user": {"id": {"type": "testuser", "number": 2}}, "template": {"name": "Empty template"}
        }}}})
    );
    let delete = "mutation { deleteApplication(id: 7) }";
    assert_eq!(
        dm.data(&user(), delete, json!({})).await,
        json!({"deleteApplication": true})
    );
    assert_eq!(
        next(&mut socket).await,
        json!({"id": "d", "type": "next", "payload": {"data": {"applicationDeleted": 7}}})
    );

    // A user may not subscribe to applicationCreated: FORBIDDEN, then the operation ends.
    let mut socket = connect(&dm, "graphql-transport-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": user()}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "x", "type": "subscribe", "payload": {"query": created}}),
    )
    .await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "x");
    let payload = if refused["type"] == "error" {
        refused["payload"][0].clone()
    } else {
        refused["payload"]["errors"][0].clone()
    };
    assert_eq!(
        payload,
        json!({"message": "You're forbidden to use 'Subscription' @ 'applicationCreated'.", "extensions": {"classification": "FORBIDDEN"}})
    );
}

on_both_backends!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] a_role_change_ends_the_users_subscriptions_on: a_role_change_ends_the_users_subscriptions, a_role_change_ends_the_users_subscriptions_on_mongodb);

async fn a_role_change_ends_the_users_subscriptions_on() {
    let dm = Devmarkt::start().await;
    let mut socket = connect(&dm, "graphql-ws").await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": user()}}),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let query = "subscription { applicationDeleted }";
    send(
        &mut socket,
        json!({"id": "1", "type": "start", "payload": {"query": query}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let update = r#"mutation { updateUserRole(userId: {type: "testuser", number: 2}, role: NONE) { __typename } }"#;
    dm.data(&admin(), update, json!({})).await;
    assert_eq!(next(&mut socket).await, json!({"id": "1", "type": "complete"}));
}
