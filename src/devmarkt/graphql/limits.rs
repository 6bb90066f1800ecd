//! What one GraphQL document may cost before anything of it runs.
//!
//! `User.applications → Application.user → User.applications …` nests
//! without end and multiplies the nodes per level, and a document can repeat
//! a field under thousands of aliases. So every document is measured first:
//!
//! - here, before parsing and validation: its length, its variables, its
//!   operations and the selections an executor would walk (with fragments
//!   expanded where they are spread);
//! - then by async-graphql's own limits (`SchemaBuilder::limit_*`, applied
//!   in `mod.rs`): depth, complexity (with `User.applications` weighted by
//!   [`fan_out`]), nesting of selection sets, directives per field.
//!
//! A refused document answers like any other document that fails before
//! execution: HTTP 200, `{"errors": [{"message": …}]}` without `data`, and
//! on a WebSocket one result with those errors, then `complete`: the limits
//! belong to the schema, not to a transport.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult};
use std::sync::Arc;

/// The bounds of one document. [`Limits::SERVED`] is what the service
/// applies; the others exist for benchmarks that measure what the limits
/// prevent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the query text.
    pub query_bytes: usize,
    /// Variables sent with the request, and variables one operation declares.
    pub variables: usize,
    /// Operations in one document (all of them are validated).
    pub operations: usize,
    /// Fields (every alias is one), fragment spreads and inline fragments,
    /// a named fragment counted each time it is spread.
    pub selections: usize,
    /// Nested fields, leaves included (async-graphql's `limit_depth`).
    pub depth: usize,
    /// async-graphql's complexity: 1 per field plus its selection, a
    /// `User.applications` [`FAN_OUT`] times its selection.
    pub complexity: usize,
    /// Nested selection sets, fragment spreads and inline fragments
    /// (async-graphql's `limit_recursive_depth`).
    pub recursive_depth: usize,
    /// Directives on one field (async-graphql's `limit_directives`).
    pub directives: usize,
}

impl Limits {
    /// The numbers the service runs with. The legitimate documents they
    /// were measured against (see the tests below): the QA suite's and the
    /// subscriptions' (at most depth 4, complexity 31, 38 selections) and
    /// the introspection query GraphiQL sends on load (depth 13, complexity
    /// 190, 200 selections: the largest document anyone sends).
    pub const SERVED: Limits = Limits {
        // The largest legitimate text inlines a whole application: 25
        // answers (createTemplate's most questions) of up to 1024
        // characters are ~27 KiB of ASCII. 64 KiB is more than twice that
        // and below the HTTP body and WebSocket message limit (100 KiB), so
        // a too long document gets GraphQL's answer rather than the
        // transport's. Clients with larger texts send them as variables, as
        // the QA suite does.
        query_bytes: 64 * 1024,
        // The QA suite sends at most 3 variables (some undeclared, spec
        // 1.1) and declares at most 2; a client passing each of 25 answers
        // as its own variables needs 50.
        variables: 64,
        // Every client here sends one operation per document; GraphiQL
        // sends the whole editor, which may hold a few.
        operations: 16,
        // GraphiQL's introspection query expands to 200 selections, the QA
        // documents to at most 38; 1,000 is five times the largest and
        // refuses alias floods (validation compares fields pairwise, so
        // thousands must not get that far).
        selections: 1_000,
        // Introspection nests 13 deep (`ofType` seven times below
        // `__schema.types.fields.args.type`), QA documents at most 4. A
        // depth without lists costs one batched read per level, so the
        // bound only has to admit introspection with room for a deeper
        // `ofType` chain; lists are bounded by the complexity.
        depth: 16,
        // Introspection costs 190 (its lists are in memory and have no
        // weight), the QA documents at most 31: five times below. A user's
        // applications with their users' applications, a dozen fields
        // each, cost 795 and pass; three nested levels of
        // `User.applications` cost 1,000 times their selection and are
        // refused, which is the document of the issue.
        complexity: 1_000,
        // Introspection nests 15 selection sets and spreads; 32 is
        // async-graphql's default and keeps the recursive checks far from
        // the stack's end.
        recursive_depth: 32,
        // A field can carry `@skip` and `@include` once each (unique
        // directives); 4 refuses thousands of them before validation.
        directives: 4,
    };
}

/// The length `User.applications` is weighted with: a user has one current
/// application and the processed ones (the seed's users have up to three).
pub const FAN_OUT: usize = 10;

/// The complexity of a `User.applications` whose selection costs
/// `child_complexity`. Capped far above any limit: async-graphql adds
/// complexities unchecked, and a nesting that wrapped around `usize` would
/// look cheap; a thousand selections of `u32::MAX` each still fit.
pub fn fan_out(child_complexity: usize) -> usize {
    child_complexity.saturating_mul(FAN_OUT).min(u32::MAX as usize)
}

/// The selections an executor would walk in `doc` (every operation):
/// fields (an alias is one more field), fragment spreads and inline
/// fragments, a named fragment's selections each time it is spread. Counts
/// at most to `bound + 1`, so a fragment spread many times over (whose
/// expansion grows exponentially) or a fragment cycle (refused later by
/// validation) costs no more than the bound.
pub fn selections(doc: &ExecutableDocument, bound: usize) -> usize {
    let mut count = 0;
    let mut pending: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    while let Some(set) = pending.pop() {
        for selection in &set.items {
            count += 1;
            if count > bound {
                return count;
            }
            match &selection.node {
                Selection::Field(field) => pending.push(&field.node.selection_set.node),
                Selection::InlineFragment(fragment) => pending.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    count
}

fn refused(message: String) -> ServerError {
    ServerError::new(message, None)
}

/// Checks `request` against the bounds async-graphql has no limit for and
/// hands on the parsed document, so nothing is parsed twice.
fn check(limits: &Limits, mut request: Request) -> ServerResult<Request> {
    let bytes = request.query.len();
    if bytes > limits.query_bytes {
        return Err(refused(format!(
            "The query is {bytes} bytes long, more than {}.",
            limits.query_bytes
        )));
    }
    if request.variables.len() > limits.variables {
        return Err(refused(format!(
            "The request has more than {} variables.",
            limits.variables
        )));
    }
    let doc = async_graphql::parser::parse_query(&request.query)?;
    let operations: Vec<_> = doc.operations.iter().collect();
    if operations.len() > limits.operations {
        return Err(refused(format!(
            "The document has more than {} operations.",
            limits.operations
        )));
    }
    if let Some((_, op)) = operations
        .iter()
        .find(|(_, op)| op.node.variable_definitions.len() > limits.variables)
    {
        return Err(ServerError::new(
            format!("The operation declares more than {} variables.", limits.variables),
            Some(op.pos),
        ));
    }
    if selections(&doc, limits.selections) > limits.selections {
        return Err(refused(format!(
            "The document has more than {} selections (fields, aliases and fragments, \
             a fragment counted each time it is spread).",
            limits.selections
        )));
    }
    request.set_parsed_query(doc);
    Ok(request)
}

/// async-graphql bounds depth, complexity, nesting and directives, but not
/// the length, variables, operations or the number of fields and aliases:
/// [`check`] does, in `prepare_request`, before the document is parsed by
/// anything else and before validation (whose pairwise field comparison and
/// fragment expansion would be the expensive part of an alias flood).
pub struct Bounds(pub Limits);

impl ExtensionFactory for Bounds {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Bounds(self.0))
    }
}

#[async_trait::async_trait]
impl Extension for Bounds {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, check(&self.0, request)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{limited, Mutation, Query, Subscription};
    use super::*;
    use async_graphql::extensions::Analyzer;
    use async_graphql::parser::parse_query;
    use async_graphql::Schema;

    /// What GraphiQL sends on load (graphql-js `getIntrospectionQuery` with
    /// every option on: the largest variant).
    const INTROSPECTION: &str = "query IntrospectionQuery { __schema { description queryType { name } \
        mutationType { name } subscriptionType { name } types { ...FullType } \
        directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } } } } \
        fragment FullType on __Type { kind name description specifiedByURL \
        fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } \
        type { ...TypeRef } isDeprecated deprecationReason } \
        inputFields(includeDeprecated: true) { ...InputValue } interfaces { ...TypeRef } \
        enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } \
        possibleTypes { ...TypeRef } } \
        fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue \
        isDeprecated deprecationReason } \
        fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name \
        ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

    /// The selections of `tests/devmarkt/rig.rs` the QA documents use.
    const FAILURE: &str = "__typename ... on Failure { errors { code data { \
        ... on NumberTemplateErrorData { number } \
        ... on NumberApplicationErrorData { number } \
        ... on AnswerTooShortApplicationErrorData { answerLength minimumLength number } \
        ... on TooLargeErrorData { size } } } }";
    const APPLICATION: &str = "id processTime status user { id { type number } role } \
        template { name questions { number question multiline minAnswerLength } } \
        answers { number answer question { number question } }";

    /// The largest documents of the QA suite (tests/devmarkt), the
    /// subscriptions' and the schema queries.
    fn legitimate() -> Vec<String> {
        vec![
            format!(
                "mutation($templateName: TemplateName!, $answers: [AnswerInput!]!) {{ \
                 createApplication(templateName: $templateName, answers: $answers) {{ {FAILURE} ... on Application {{ {APPLICATION} }} }} }}"
            ),
            format!(
                "query($id: ApplicationId!) {{ application(id: $id) {{ {FAILURE} ... on Application {{ {APPLICATION} }} }} }}"
            ),
            "query($id: UserIdInput!) { user(id: $id) { __typename \
             ... on User { id { type number } role currentApplication { id } applications { id status } } \
             ... on Failure { errors { code data { __typename } } } } }"
                .to_owned(),
            "mutation($name: TemplateName!, $updated: TemplateInput!) { \
             updateTemplate(name: $name, updated: $updated) { __typename \
             ... on Template { name questions { number question multiline minAnswerLength } } \
             ... on Failure { errors { code } } } }"
                .to_owned(),
            "subscription { applicationCreated { id status user { id { type number } } template { name } } }".to_owned(),
            "{ __schema { directives { name args { name } } types { name kind enumValues { name } } } }".to_owned(),
            INTROSPECTION.to_owned(),
        ]
    }

    /// A user's applications with their users' applications, a few fields
    /// each: the deepest a client plausibly asks.
    const NESTED: &str = "{ user(id: {type: \"testuser\", number: 1}) { ... on User { id { type number } role \
        applications { id status template { name } user { id { type number } role \
        applications { id status template { name } answers { number answer } } } } } } }";

    /// `levels` fields of `applications { user { applications { … } } }`
    /// below `user(id)`, as in the issue.
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

    fn schema() -> Schema<Query, Mutation, Subscription> {
        limited(Schema::build(Query, Mutation, Subscription), Limits::SERVED)
            .extension(Analyzer)
            .finish()
    }

    /// Complexity and depth async-graphql measured, or the refusal.
    async fn analyse(query: &str) -> Result<(usize, usize), Vec<String>> {
        let response = schema().execute(query).await;
        let analyzer = response.extensions.get("analyzer").and_then(|a| match a {
            async_graphql::Value::Object(a) => Some((a["complexity"].clone(), a["depth"].clone())),
            _ => None,
        });
        match analyzer {
            Some((async_graphql::Value::Number(c), async_graphql::Value::Number(d))) => {
                Ok((c.as_u64().unwrap() as usize, d.as_u64().unwrap() as usize))
            }
            _ => Err(response.errors.into_iter().map(|e| e.message).collect()),
        }
    }

    fn count(query: &str) -> usize {
        selections(&parse_query(query).unwrap(), usize::MAX)
    }

    #[test]
    fn selections_count_fields_aliases_and_expanded_fragments() {
        assert_eq!(count("{ roles }"), 1);
        assert_eq!(count("{ a: roles b: roles c: roles }"), 3);
        assert_eq!(count("{ templates { name questions { number } } }"), 4);
        // A spread is one selection plus its fragment's, each time.
        let fragment =
            "{ templates { ...T } t2: templates { ...T } } fragment T on Template { name questions { number } }";
        assert_eq!(count(fragment), 2 + 2 * (1 + 3));
        assert_eq!(count("{ template(name: \"x\") { ... on Template { name } } }"), 3);
        // Every operation is counted.
        assert_eq!(count("query A { roles } query B { roles templates { name } }"), 4);
    }

    #[test]
    fn selections_stop_at_the_bound() {
        // Each fragment spreads the next ten times: 10^6 expanded selections.
        let mut query = String::from("{ templates { ...F0 } }");
        for level in 0..6 {
            let spreads = format!(" ...F{}", level + 1).repeat(10);
            query.push_str(&format!(" fragment F{level} on Template {{{spreads} }}"));
        }
        query.push_str(" fragment F6 on Template { name }");
        assert_eq!(selections(&parse_query(&query).unwrap(), 1_000), 1_001);
        // A cycle (validation refuses it later) ends at the bound too.
        let cycle = "{ templates { ...A } } fragment A on Template { ...A }";
        assert_eq!(selections(&parse_query(cycle).unwrap(), 1_000), 1_001);
    }

    #[tokio::test]
    async fn legitimate_documents_pass_with_headroom() {
        let served = Limits::SERVED;
        for query in legitimate() {
            let query = query.as_str();
            let (complexity, depth) = analyse(query).await.unwrap_or_else(|e| panic!("{query}: {e:?}"));
            let selections = count(query);
            assert!(complexity * 2 <= served.complexity, "{complexity}: {query}");
            assert!(depth < served.depth, "{depth}: {query}");
            assert!(selections * 2 <= served.selections, "{selections}: {query}");
            assert!(query.len() * 16 <= served.query_bytes, "{query}");
        }
        // Two levels of `User.applications` pass, a dozen fields each.
        assert_eq!(analyse(NESTED).await, Ok((795, 6)));
        // The figures the comments on `Limits::SERVED` quote.
        assert_eq!(analyse(INTROSPECTION).await, Ok((190, 13)));
        assert_eq!(count(INTROSPECTION), 200);
        let qa = &legitimate()[..5];
        let mut most = (0, 0, 0);
        for query in qa {
            let (complexity, depth) = analyse(query).await.unwrap();
            most = (most.0.max(complexity), most.1.max(depth), most.2.max(count(query)));
        }
        assert_eq!(most, (31, 4, 38));
    }

    #[tokio::test]
    async fn deep_nesting_is_refused_by_its_complexity() {
        assert!(analyse(&deep(4)).await.is_ok());
        for levels in [6, 12] {
            assert_eq!(
                analyse(&deep(levels)).await,
                Err(vec!["Query is too complex.".to_owned()])
            );
        }
        // Without lists a chain is bounded by the depth.
        let mut chain = String::from("{ application(id: 1) { ... on Application { ");
        chain += &"user { currentApplication { ".repeat(8);
        chain += "id";
        chain += &" } }".repeat(8);
        chain += " } } }";
        assert_eq!(analyse(&chain).await, Err(vec!["Query is nested too deep.".to_owned()]));
    }

    #[tokio::test]
    async fn alias_floods_and_oversized_documents_are_refused() {
        let aliases: String = (0..5_000).map(|n| format!("a{n}:roles ")).collect();
        let refused = analyse(&format!("{{ {aliases}}}")).await.unwrap_err();
        assert!(
            refused[0].starts_with("The document has more than 1000 selections"),
            "{refused:?}"
        );
        let long = format!("{{ roles {} }}", " ".repeat(64 * 1024));
        let refused = analyse(&long).await.unwrap_err();
        assert!(refused[0].starts_with("The query is 65546 bytes long"), "{refused:?}");
        let operations: String = (0..17).map(|n| format!("query Q{n} {{ roles }} ")).collect();
        let refused = analyse(&operations).await.unwrap_err();
        assert_eq!(refused, vec!["The document has more than 16 operations.".to_owned()]);
        let variables: String = (0..65).map(|n| format!("$v{n}: Int ")).collect();
        let refused = analyse(&format!("query({variables}) {{ roles }}")).await.unwrap_err();
        assert_eq!(
            refused,
            vec!["The operation declares more than 64 variables.".to_owned()]
        );
        let directives =
            "{ roles @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) }";
        let refused = analyse(directives).await.unwrap_err();
        assert!(
            refused[0].starts_with("The number of directives on the field `roles`"),
            "{refused:?}"
        );
        // A syntax error still reads like one.
        let refused = analyse("{ roles").await.unwrap_err();
        assert!(refused[0].contains("expected"), "{refused:?}");
    }

    #[test]
    fn fan_out_never_wraps() {
        assert_eq!(fan_out(3), 30);
        assert_eq!(fan_out(usize::MAX), u32::MAX as usize);
    }
}
