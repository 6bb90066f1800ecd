//! Devmarkt's GraphQL API (spec 1, 5, 10): `POST`/`GET /graphql` (always
//! HTTP 200 for an executed request), GraphiQL at `/graphiql`, and
//! subscriptions on `/graphql-ws` in both WebSocket protocols
//! (`graphql-ws` of subscriptions-transport-ws and `graphql-transport-ws`).
//!
//! The caller is resolved once per request before execution (spec 8.1):
//! from the `Authorization` header, or on a WebSocket from the
//! `connection_init` payload's `Authorization`, else the upgrade request's.

mod directives;
mod gate;
pub mod limits;
mod loaders;
mod mutation;
mod query;
pub mod scalars;
mod subscription;
pub mod types;

use super::auth::Auth;
use super::Devmarkt;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::http::WebSocketProtocols;
use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, Response, Schema, SchemaBuilder, ServerError, Value};
use async_graphql_poem::{GraphQLProtocol, GraphQLRequest, GraphQLWebSocket};
use futures_util::{SinkExt, StreamExt};
use poem::http::StatusCode;
use poem::web::websocket::Message;
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::web::Html;
use poem::{get, handler, EndpointExt, IntoResponse, Route};
use std::sync::Arc;

pub use limits::Limits;
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type DevmarktSchema = Schema<Query, Mutation, Subscription>;

/// The epoch a request reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(pub u64);

/// The schema the service serves.
pub fn schema(devmarkt: Arc<Devmarkt>) -> DevmarktSchema {
    schema_with(devmarkt, Limits::SERVED)
}

/// The schema with other limits (benchmarks measure what they prevent).
pub fn schema_with(devmarkt: Arc<Devmarkt>, limits: Limits) -> DevmarktSchema {
    limited(Schema::build(Query, Mutation, Subscription), limits)
        .data(devmarkt.clone())
        .extension(loaders::Loaders(devmarkt))
        .extension(ErrorShape)
        .finish()
}

/// `limits` on a schema: async-graphql's own, and [`limits::Bounds`] for
/// what it has none for.
fn limited(
    builder: SchemaBuilder<Query, Mutation, Subscription>,
    limits: Limits,
) -> SchemaBuilder<Query, Mutation, Subscription> {
    builder
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_recursive_depth(limits.recursive_depth)
        .limit_directives(limits.directives)
        .extension(limits::Bounds(limits))
}

pub fn routes(devmarkt: Arc<Devmarkt>, route: Route) -> Route {
    let schema = schema(devmarkt.clone());
    route
        .at(
            "/graphql",
            get(graphql).post(graphql).data(schema.clone()).data(devmarkt.clone()),
        )
        .at("/graphiql", get(graphiql))
        .at("/graphql-ws", get(graphql_ws).data(schema).data(devmarkt))
}

pub(crate) fn devmarkt<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a Arc<Devmarkt>> {
    ctx.data::<Arc<Devmarkt>>()
}

pub(crate) fn epoch(ctx: &async_graphql::Context<'_>) -> u64 {
    ctx.data_opt::<Epoch>().map_or(0, |e| e.0)
}

/// A failure that is not the caller's (storage, conflicts).
pub(crate) fn internal(error: impl std::fmt::Display) -> async_graphql::Error {
    async_graphql::Error::new(error.to_string())
}

fn unavailable(error: impl std::fmt::Display) -> poem::Error {
    poem::Error::from_string(error.to_string(), StatusCode::SERVICE_UNAVAILABLE)
}

#[handler]
async fn graphql(
    req: &poem::Request,
    request: GraphQLRequest,
    schema: poem::web::Data<&DevmarktSchema>,
    devmarkt: poem::web::Data<&Arc<Devmarkt>>,
) -> poem::Result<poem::Response> {
    let epoch = devmarkt.prepare().await.map_err(unavailable)?;
    let caller = devmarkt
        .resolve(epoch, req.header("authorization"))
        .await
        .map_err(unavailable)?;
    let response = schema.execute(request.0.data(Auth(caller)).data(Epoch(epoch))).await;
    Ok(poem::Response::builder()
        .content_type("application/json")
        .body(response_body(response)))
}

/// The JSON body of spec 1.2: `data` is left out when the request failed
/// before execution (parse, validation, variables), where it is `null`.
fn response_body(response: Response) -> String {
    let mut json = serde_json::to_value(&response).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        if object.get("data").is_some_and(serde_json::Value::is_null) && object.contains_key("errors") {
            object.remove("data");
        }
    }
    json.to_string()
}

#[handler]
fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql-ws")
            .finish(),
    )
}

#[handler]
async fn graphql_ws(
    req: &poem::Request,
    websocket: WebSocket,
    protocol: GraphQLProtocol,
    schema: poem::web::Data<&DevmarktSchema>,
    devmarkt: poem::web::Data<&Arc<Devmarkt>>,
) -> impl IntoResponse {
    let header = req.header("authorization").map(str::to_owned);
    let (schema, devmarkt) = (schema.0.clone(), devmarkt.0.clone());
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(message_limit())
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            let (outgoing, forwarded) = tokio::sync::mpsc::channel::<Message>(64);
            let legacy = protocol.0 == WebSocketProtocols::SubscriptionsTransportWS;
            let forwarder = tokio::spawn(forward(forwarded, sink, legacy));
            let to_forwarder = futures_util::sink::unfold(outgoing, |outgoing, message: Message| async move {
                outgoing.send(message).await.map_err(|_| "socket closed")?;
                Ok::<_, &'static str>(outgoing)
            });
            GraphQLWebSocket::new_with_pair(Box::pin(to_forwarder), stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let from_payload = payload.get("Authorization").and_then(|v| v.as_str()).map(str::to_owned);
                    let header = from_payload.or(header);
                    let epoch = devmarkt
                        .prepare()
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    let caller = devmarkt
                        .resolve(epoch, header.as_deref())
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    let mut data = Data::default();
                    data.insert(Auth(caller));
                    data.insert(Epoch(epoch));
                    Ok(data)
                })
                .serve()
                .await;
            let _ = forwarder.await;
        })
}

/// A socket message is what a POST body is on HTTP, so it gets the body's
/// limit (tungstenite would buffer up to 64 MiB before the document's own
/// limits see it); a larger message closes the socket.
fn message_limit() -> WebSocketConfig {
    let limit = Some(crate::http::BODY_LIMIT_BYTES);
    WebSocketConfig::default().max_message_size(limit).max_frame_size(limit)
}

/// How often the legacy protocol's keep-alive goes out (spec 10.2).
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Writes the server's messages to the socket. For subscriptions-transport-ws
/// it adds `{"type":"ka"}` right after `connection_ack` and every 15 s, as
/// the reference did (async-graphql does not send it).
async fn forward<S>(mut messages: tokio::sync::mpsc::Receiver<Message>, mut sink: S, legacy: bool)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let keep_alive = || Message::Text(r#"{"type":"ka"}"#.to_owned());
    let mut acknowledged = false;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    loop {
        let message = tokio::select! {
            message = messages.recv() => match message {
                Some(message) => message,
                None => break,
            },
            _ = ticker.tick(), if acknowledged => keep_alive(),
        };
        let ack = legacy && !acknowledged && matches!(&message, Message::Text(t) if t.contains("connection_ack"));
        if sink.send(message).await.is_err() {
            break;
        }
        if ack {
            acknowledged = true;
            if sink.send(keep_alive()).await.is_err() {
                break;
            }
        }
    }
    let _ = sink.close().await;
}

/// Gives UNAUTHORIZED and FORBIDDEN errors the exact shape of spec 8.6: no
/// `locations`, no `path`.
struct ErrorShape;

impl ExtensionFactory for ErrorShape {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorShape)
    }
}

fn reshape(response: &mut Response) {
    for error in &mut response.errors {
        if is_auth_error(error) {
            error.locations.clear();
            error.path.clear();
        }
    }
}

fn is_auth_error(error: &ServerError) -> bool {
    let classification = error.extensions.as_ref().and_then(|e| e.get("classification"));
    matches!(classification, Some(Value::String(c)) if c == gate::UNAUTHORIZED || c == gate::FORBIDDEN)
}

#[async_trait::async_trait]
impl Extension for ErrorShape {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        reshape(&mut response);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                reshape(&mut response);
                response
            })
            .boxed()
    }
}

/// A root field's outcome with errors reported and the field `null`
/// (spec 1.2: `{"data": {"roles": null}, "errors": [...]}`); a resolver
/// error would otherwise null the whole `data`.
pub(crate) fn nullable<T>(
    ctx: &async_graphql::Context<'_>,
    result: async_graphql::Result<Option<T>>,
) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            let mut error = error.into_server_error(ctx.item.pos);
            error.path = vec![async_graphql::PathSegment::Field(
                ctx.item.node.response_key().node.to_string(),
            )];
            ctx.add_error(error);
            Ok(None)
        }
    }
}
