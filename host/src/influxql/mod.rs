//! The read side's query language: InfluxDB 1.x's InfluxQL, the subset that
//! Grafana's InfluxDB datasource sends plus what people type by hand, parsed
//! (`lexer`, `parser` → `ast`) and run over the embedded store (`catalog`:
//! what exists; `condition`: WHERE; `window`: GROUP BY time; `reduce`: the
//! functions; `select`, `show`: the statements; `response`: the JSON).

pub mod ast;
mod catalog;
mod condition;
pub mod lexer;
pub mod parser;
mod reduce;
pub mod response;
mod select;
mod show;
mod window;

#[cfg(test)]
mod tests;

use crate::store::Store;
use ast::Statement;
pub use parser::{parse, ParseError};
use response::{QueryResponse, StatementResult, TimeFormat};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The name `SHOW DATABASES` lists when `query.database` is not set.
pub const DEFAULT_DATABASE: &str = "datalogger";

/// The `"query"` section: how `/query` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerySettings {
    /// The one database name clients must use; unset, any name is accepted
    /// (a single-database server), and `SHOW DATABASES` lists `datalogger`.
    pub database: Option<String>,
    /// Most rows one statement answers.
    pub max_points: u64,
    /// Most series one statement answers.
    pub max_series: u64,
    /// Longest one request may run.
    pub timeout_ms: u64,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings {
            database: None,
            max_points: 1_000_000,
            max_series: 10_000,
            timeout_ms: 30_000,
        }
    }
}

/// What a statement runs with.
pub struct Context<'a> {
    store: &'a Store,
    settings: &'a QuerySettings,
    catalog: catalog::Catalog,
    now_ns: i64,
    time_format: TimeFormat,
    deadline: Instant,
    /// Raw samples older than this have been pruned (store retention).
    raw_kept_from: Option<i64>,
}

impl Context<'_> {
    fn check_deadline(&self) -> Result<(), String> {
        if Instant::now() > self.deadline {
            return Err(format!(
                "the query ran longer than {} ms (query.timeout_ms); ask for a shorter time range or fewer series",
                self.settings.timeout_ms
            ));
        }
        Ok(())
    }

    fn count_points(&self, n: usize) -> Result<(), String> {
        if n as u64 > self.settings.max_points {
            return Err(format!(
                "the answer would have more than {} rows (query.max_points); narrow the time range, \
                 use a larger GROUP BY time interval, or add LIMIT",
                self.settings.max_points
            ));
        }
        Ok(())
    }

    fn count_series(&self, n: usize) -> Result<(), String> {
        if n as u64 > self.settings.max_series {
            return Err(format!(
                "the answer would have more than {} series (query.max_series); narrow the WHERE clause or add SLIMIT",
                self.settings.max_series
            ));
        }
        Ok(())
    }
}

/// One request: its statements, the `db` it names and the `epoch` it asks for.
pub struct Request {
    pub statements: Vec<Statement>,
    pub db: Option<String>,
    pub time_format: TimeFormat,
}

/// Runs the statements in order; like InfluxDB, the first that fails ends
/// the request with its error.
pub async fn run(store: &Store, settings: &QuerySettings, request: Request) -> QueryResponse {
    let deadline = Instant::now() + Duration::from_millis(settings.timeout_ms);
    let mut results = Vec::new();
    let catalog = match catalog::Catalog::load(store).await {
        Ok(c) => c,
        Err(e) => {
            return QueryResponse {
                results: vec![StatementResult::error(0, format!("reading the store failed: {e:#}"))],
            }
        }
    };
    let ctx = Context {
        store,
        settings,
        catalog,
        now_ns: crate::sample::now_ns(),
        time_format: request.time_format,
        deadline,
        raw_kept_from: store.oldest_kept_ns(),
    };
    for (id, statement) in request.statements.iter().enumerate() {
        let answer = match (&settings.database, &request.db) {
            (Some(ours), Some(asked)) if ours != asked && needs_database(statement) => {
                Err(format!("database not found: {asked}"))
            }
            _ => {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, statement_series(&ctx, statement)).await {
                    Ok(answer) => answer,
                    Err(_) => Err(format!(
                        "the query ran longer than {} ms (query.timeout_ms); ask for a shorter time range or fewer series",
                        settings.timeout_ms
                    )),
                }
            }
        };
        match answer {
            Ok(series) => results.push(StatementResult {
                statement_id: id,
                series,
                error: None,
            }),
            Err(e) => {
                results.push(StatementResult::error(id, e));
                break;
            }
        }
    }
    QueryResponse { results }
}

fn needs_database(s: &Statement) -> bool {
    !matches!(s, Statement::ShowDatabases | Statement::CreateDatabase { .. })
}

async fn statement_series(ctx: &Context<'_>, s: &Statement) -> Result<Vec<response::Series>, String> {
    match s {
        Statement::Select(select) => select::select(ctx, select).await,
        Statement::ShowDatabases => Ok(show::databases(ctx)),
        Statement::ShowMeasurements(meta) => show::measurements(ctx, meta),
        Statement::ShowFieldKeys(meta) => Ok(show::field_keys(ctx, meta)),
        Statement::ShowTagKeys(meta) => show::tag_keys(ctx, meta),
        Statement::ShowTagValues { meta, keys } => show::tag_values(ctx, meta, keys),
        Statement::ShowSeries(meta) => show::series(ctx, meta),
        Statement::ShowRetentionPolicies { .. } => Ok(show::retention_policies(ctx)),
        Statement::CreateDatabase { .. } => Ok(Vec::new()),
        Statement::Unsupported(what) => Err(format!("not supported: {what}")),
        Statement::Invalid(why) => Err(why.clone()),
    }
}
