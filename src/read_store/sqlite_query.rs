//! Queryable collections in the embedded store: for each, a typed table
//! (`rmq_<projection>_<collection>_<fingerprint>_v<layout>`) beside `rm_docs`,
//! one row per document with its declared fields as columns: each field has
//! a partial index with the generation, and one covering index holds them
//! all behind the position.
//! Commits keep it in step with the documents (same transaction); queries
//! become SQL over the columns, so a filter or a viewport reads an index and
//! the matching rows, never the documents of the whole collection.
//!
//! Semantics are those of [`projections::rsql::Predicate::matches`]
//! (MongoDB's): a missing field, or one of another type than the filter
//! value, fails every test but `!=`/`=out=`, which it passes.

use super::other;
use projections::query::time_millis;
use projections::rsql::{FieldTest, Predicate, Scalar};
use projections::{DocQuery, FieldKind, Namespace, Queryable, StoreError};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, Transaction};
use serde_json::Value;

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Tables of one queryable collection start with this.
fn table_prefix(projection: &str, queryable: &Queryable) -> String {
    format!("rmq_{}_{}_", clean(projection), clean(queryable.collection))
}

/// The layout of the tables and their indexes. A table of another layout
/// is dropped and filled again from the documents, like one of another
/// declaration. 2: one covering index instead of a position index.
const LAYOUT: u32 = 2;

/// The table of a queryable collection. Its name ends in the declaration's
/// fingerprint and the layout, so a changed declaration gets a table of its
/// own, filled from the documents, instead of rows that miss its columns.
pub fn table(projection: &str, queryable: &Queryable) -> String {
    format!(
        "{}{:08x}_v{LAYOUT}",
        table_prefix(projection, queryable),
        queryable.fingerprint()
    )
}

/// The index that holds every column: position first (a viewport is a
/// longitude range of it), then each field. Queries that test more than
/// one column read it and nothing else; see [`count`].
fn covering_index(t: &str) -> String {
    format!("{t}_covering")
}

fn column(i: usize) -> String {
    format!("f{i}")
}

/// Column list of the table after `generation, key`.
fn columns(q: &Queryable) -> Vec<String> {
    let mut columns: Vec<String> = (0..q.fields.len()).map(column).collect();
    if q.position.is_some() {
        columns.extend(["lng".to_owned(), "lat".to_owned()]);
    }
    columns
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |value, segment| value.get(segment))
}

/// The column values of a document, in [`columns`] order.
pub fn row(q: &Queryable, doc: &Value) -> Vec<Sql> {
    let mut values: Vec<Sql> = q
        .fields
        .iter()
        .map(|f| {
            let value = lookup(doc, f.path);
            let typed = match f.kind {
                FieldKind::Text => value.and_then(Value::as_str).map(|s| Sql::Text(s.to_owned())),
                FieldKind::Number => value.and_then(Value::as_f64).map(Sql::Real),
                FieldKind::Bool => value.and_then(Value::as_bool).map(|b| Sql::Integer(i64::from(b))),
                FieldKind::Time => value.and_then(time_millis).map(Sql::Integer),
            };
            typed.unwrap_or(Sql::Null)
        })
        .collect();
    if q.position.is_some() {
        let (lng, lat) = q
            .position_of(doc)
            .map_or((Sql::Null, Sql::Null), |(lng, lat)| (Sql::Real(lng), Sql::Real(lat)));
        values.extend([lng, lat]);
    }
    values
}

/// Creates the table and its indexes if missing, filling a new table from
/// the documents already stored (a store that predates the declaration).
pub fn create(conn: &mut Connection, projection: &str, q: &Queryable) -> Result<(), StoreError> {
    let t = table(projection, q);
    let exists: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [&t],
            |r| r.get::<_, i64>(0),
        )
        .map_err(other)?
        > 0;
    if exists {
        return Ok(());
    }
    let tx = conn.transaction().map_err(other)?;
    let stale: Vec<String> = {
        let mut names = tx
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, length(?1)) = ?1")
            .map_err(other)?;
        let found = names
            .query_map([table_prefix(projection, q)], |r| r.get(0))
            .map_err(other)?;
        found.collect::<Result<_, _>>().map_err(other)?
    };
    for old in stale {
        tx.execute_batch(&format!("DROP TABLE {old};")).map_err(other)?;
    }
    // Untyped columns: no affinity converts a stored value (a numeric-looking text stays text).
    let defs: Vec<String> = columns(q);
    let mut ddl = format!(
        "CREATE TABLE {t} (generation INTEGER NOT NULL, key TEXT NOT NULL, {}, PRIMARY KEY (generation, key)) WITHOUT ROWID;",
        defs.join(", ")
    );
    for i in 0..q.fields.len() {
        let c = column(i);
        // Partial: a row without the field (no vote yet, no registrant) costs
        // this index nothing, and every test but `!=`/`=out=`, which cannot
        // use an index anyway, fails on a missing field.
        ddl.push_str(&format!(
            "CREATE INDEX {t}_{c} ON {t} (generation, {c}) WHERE {c} IS NOT NULL;"
        ));
    }
    // Position first: a viewport reads a longitude range of this index.
    let mut covered = defs;
    covered.rotate_right(if q.position.is_some() { 2 } else { 0 });
    ddl.push_str(&format!(
        "CREATE INDEX {} ON {t} (generation, {});",
        covering_index(&t),
        covered.join(", ")
    ));
    tx.execute_batch(&ddl).map_err(other)?;
    {
        let mut docs = tx
            .prepare("SELECT generation, key, doc FROM rm_docs WHERE projection = ?1 AND collection = ?2")
            .map_err(other)?;
        let rows = docs
            .query_map([projection, q.collection], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .map_err(other)?;
        for found in rows {
            let (generation, key, doc) = found.map_err(other)?;
            let doc: Value = serde_json::from_str(&doc).map_err(other)?;
            upsert(&tx, &t, q, generation, &key, &doc)?;
        }
    }
    tx.commit().map_err(other)
}

fn upsert(
    tx: &Transaction<'_>,
    t: &str,
    q: &Queryable,
    generation: i64,
    key: &str,
    doc: &Value,
) -> Result<(), StoreError> {
    upsert_row(tx, t, q, generation, key, row(q, doc))
}

fn upsert_row(
    tx: &Transaction<'_>,
    t: &str,
    q: &Queryable,
    generation: i64,
    key: &str,
    row: Vec<Sql>,
) -> Result<(), StoreError> {
    let names = columns(q);
    let marks = vec!["?"; names.len() + 2].join(", ");
    let sql = format!(
        "INSERT OR REPLACE INTO {t} (generation, key, {}) VALUES ({marks})",
        names.join(", ")
    );
    let mut values = vec![Sql::Integer(generation), Sql::Text(key.to_owned())];
    values.extend(row);
    tx.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params_from_iter(values)))
        .map(|_| ())
        .map_err(other)
}

/// Keeps the table in step with a document write of the same transaction:
/// the document's [`row`], or `None` for a deleted document.
pub fn write(
    tx: &Transaction<'_>,
    ns: &Namespace,
    q: &Queryable,
    key: &str,
    row: Option<Vec<Sql>>,
) -> Result<(), StoreError> {
    let t = table(&ns.projection, q);
    let generation = ns.generation as i64;
    match row {
        Some(row) => upsert_row(tx, &t, q, generation, key, row),
        None => tx
            .prepare_cached(&format!("DELETE FROM {t} WHERE generation = ?1 AND key = ?2"))
            .and_then(|mut s| s.execute(rusqlite::params![generation, key]))
            .map(|_| ())
            .map_err(other),
    }
}

/// Gathers the statistics SQLite's planner chooses indexes by. Without them
/// it guesses, and for a filter beside a viewport (`score>=0` within a box)
/// it walked the whole generation in key order instead of the position
/// index: 100,000 rows read for the few hundred in the box.
pub fn analyze(conn: &Connection, projection: &str, q: &Queryable) -> Result<(), StoreError> {
    conn.execute_batch(&format!("ANALYZE {};", table(projection, q)))
        .map_err(other)
}

/// [`analyze`] a table that never was (one filled before statistics were gathered).
pub fn analyze_if_never(conn: &Connection, projection: &str, q: &Queryable) -> Result<(), StoreError> {
    let t = table(projection, q);
    let has_stats: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(other)?
        > 0
        && conn
            .query_row("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = ?1", [&t], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(other)?
            > 0;
    if has_stats {
        return Ok(());
    }
    analyze(conn, projection, q)
}

/// Removes a generation's rows.
pub fn drop_generation(tx: &Transaction<'_>, ns: &Namespace, q: &Queryable) -> Result<(), StoreError> {
    tx.execute(
        &format!("DELETE FROM {} WHERE generation = ?1", table(&ns.projection, q)),
        [ns.generation as i64],
    )
    .map(|_| ())
    .map_err(other)
}

/// `rsql_like(pattern, text)`: the `=like=` test, with each statement's
/// pattern compiled once (SQLite has no regular expressions of its own).
pub fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    conn.create_scalar_function(
        "rsql_like",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let pattern = ctx.get_or_create_aux(0, |value| {
                let text = value
                    .as_str()
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
                projections::rsql::LikePattern::parse(text).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
            })?;
            let text: Option<String> = ctx.get(1)?;
            Ok(text.is_some_and(|t| pattern.is_match(&t)))
        },
    )
    .map_err(other)
}

/// A WHERE clause and its parameters.
struct Condition {
    sql: String,
    params: Vec<Sql>,
}

/// The value of `scalar` as column `kind` stores it, or `None` when the
/// types differ (the test then behaves as on a missing field).
fn value_of(kind: FieldKind, scalar: &Scalar) -> Option<Sql> {
    match (kind, scalar) {
        (FieldKind::Text, Scalar::Text(s)) => Some(Sql::Text(s.clone())),
        (FieldKind::Number, Scalar::Number(n)) => Some(Sql::Real(*n)),
        (FieldKind::Bool, Scalar::Bool(b)) => Some(Sql::Integer(i64::from(*b))),
        (FieldKind::Time, Scalar::Date(d)) => Some(Sql::Integer(d.timestamp_millis())),
        _ => None,
    }
}

impl Condition {
    fn translate(q: &Queryable, predicate: &Predicate, out: &mut Vec<Sql>) -> Result<String, StoreError> {
        Ok(match predicate {
            Predicate::And(l, r) => format!("({} AND {})", Self::translate(q, l, out)?, Self::translate(q, r, out)?),
            Predicate::Or(l, r) => format!("({} OR {})", Self::translate(q, l, out)?, Self::translate(q, r, out)?),
            Predicate::Field { path, test } => {
                if let (Some(fields), FieldTest::WithinBox(b)) = (q.position, test) {
                    if fields.filter_path == path {
                        out.extend([b.min_lng, b.max_lng, b.min_lat, b.max_lat].map(Sql::Real));
                        return Ok("(lng >= ? AND lng <= ? AND lat >= ? AND lat <= ?)".into());
                    }
                }
                let Some(index) = q.fields.iter().position(|f| f.path == path) else {
                    return Err(other(format!("{}: {path} is not a queryable field", q.collection)));
                };
                let (c, kind) = (column(index), q.fields[index].kind);
                let mut bind = |scalar: &Scalar| {
                    value_of(kind, scalar).map(|v| {
                        out.push(v);
                        "?"
                    })
                };
                match test {
                    FieldTest::Eq(v) => bind(v).map_or("0".into(), |p| format!("{c} = {p}")),
                    FieldTest::Ne(v) => bind(v).map_or("1".into(), |p| format!("({c} IS NULL OR {c} <> {p})")),
                    FieldTest::Lt(v) => bind(v).map_or("0".into(), |p| format!("{c} < {p}")),
                    FieldTest::Le(v) => bind(v).map_or("0".into(), |p| format!("{c} <= {p}")),
                    FieldTest::Gt(v) => bind(v).map_or("0".into(), |p| format!("{c} > {p}")),
                    FieldTest::Ge(v) => bind(v).map_or("0".into(), |p| format!("{c} >= {p}")),
                    FieldTest::In(values) => {
                        let marks: Vec<&str> = values.iter().filter_map(&mut bind).collect();
                        if marks.is_empty() {
                            "0".into()
                        } else {
                            format!("{c} IN ({})", marks.join(", "))
                        }
                    }
                    FieldTest::Nin(values) => {
                        let marks: Vec<&str> = values.iter().filter_map(&mut bind).collect();
                        if marks.is_empty() {
                            "1".into()
                        } else {
                            format!("({c} IS NULL OR {c} NOT IN ({}))", marks.join(", "))
                        }
                    }
                    FieldTest::Like(pattern) if kind == FieldKind::Text => {
                        out.push(Sql::Text(pattern.as_str().to_owned()));
                        format!("rsql_like(?, {c})")
                    }
                    FieldTest::Like(_) | FieldTest::WithinBox(_) => "0".into(),
                }
            }
        })
    }

    fn of(q: &Queryable, ns: &Namespace, query: &DocQuery<'_>) -> Result<Self, StoreError> {
        let mut params = vec![Sql::Integer(ns.generation as i64)];
        let mut sql = "generation = ?".to_owned();
        if let Some(b) = query.within {
            if q.position.is_none() {
                return Err(other(format!("{} has no position", q.collection)));
            }
            sql.push_str(" AND lng >= ? AND lng <= ? AND lat >= ? AND lat <= ?");
            params.extend([b.min_lng, b.max_lng, b.min_lat, b.max_lat].map(Sql::Real));
        }
        if let Some(predicate) = query.predicate {
            let condition = Self::translate(q, predicate, &mut params)?;
            sql.push_str(" AND ");
            sql.push_str(&condition);
        }
        Ok(Self { sql, params })
    }
}

/// Documents selected by `query`, by key, paged.
pub fn select_docs(
    conn: &Connection,
    ns: &Namespace,
    q: &Queryable,
    query: &DocQuery<'_>,
    (offset, limit): (usize, usize),
) -> Result<Vec<(String, Value)>, StoreError> {
    let t = table(&ns.projection, q);
    let Condition { sql, mut params } = Condition::of(q, ns, query)?;
    params.extend([
        Sql::Text(ns.projection.clone()),
        Sql::Text(q.collection.to_owned()),
        Sql::Integer(limit as i64),
        Sql::Integer(offset as i64),
    ]);
    let n = params.len();
    let statement = format!(
        "SELECT t.key, d.doc FROM (SELECT generation, key FROM {t} WHERE {sql} ORDER BY key LIMIT ?{} OFFSET ?{}) t
         JOIN rm_docs d ON d.projection = ?{} AND d.generation = t.generation AND d.collection = ?{} AND d.key = t.key
         ORDER BY t.key",
        n - 1,
        n,
        n - 3,
        n - 2
    );
    let mut stmt = conn.prepare(&statement).map_err(other)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(other)?;
    rows.map(|found| {
        let (key, doc) = found.map_err(other)?;
        Ok((key, serde_json::from_str(&doc).map_err(other)?))
    })
    .collect()
}

/// How many documents `query` selects.
///
/// SQLite answers a condition on several columns with the index of one of
/// them and a lookup of the row for each entry to test the others: at
/// 100,000 machines `score>=0;imported==true` took 55–80 ms that way, the
/// one-column count 5 ms. It does not intersect indexes and, even with
/// statistics, prefers that plan to reading the covering index, which holds
/// every column and needs no lookup (12 ms for the same count, whatever the
/// selectivity). So a count that tests more than one column reads the
/// covering index; one with a single test is left to the planner, which
/// then picks that column's index.
pub fn count(conn: &Connection, ns: &Namespace, q: &Queryable, query: &DocQuery<'_>) -> Result<u64, StoreError> {
    let Condition { sql, params } = Condition::of(q, ns, query)?;
    let t = table(&ns.projection, q);
    // Two tests of one column (`createdAt>a;createdAt<b`) are one range of its index.
    let mut paths: Vec<&str> = query
        .predicate
        .map(Predicate::tests)
        .unwrap_or_default()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    if query.within.is_some() {
        paths.extend(q.position.map(|p| p.filter_path)); // a viewport tests the position, as `bbox` does
    }
    paths.sort_unstable();
    paths.dedup();
    let hint = if paths.len() > 1 {
        format!("INDEXED BY {}", covering_index(&t))
    } else {
        String::new()
    };
    conn.query_row(
        &format!("SELECT COUNT(*) FROM {t} {hint} WHERE {sql}"),
        params_from_iter(params),
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(other)
}

pub fn positions(
    conn: &Connection,
    ns: &Namespace,
    q: &Queryable,
    query: &DocQuery<'_>,
) -> Result<Vec<(String, f64, f64)>, StoreError> {
    let Condition { sql, params } = Condition::of(q, ns, query)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT key, lng, lat FROM {} WHERE {sql} AND lng IS NOT NULL ORDER BY key",
            table(&ns.projection, q)
        ))
        .map_err(other)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(other)?;
    rows.map(|r| r.map_err(other)).collect()
}
