//! The datasets' SQL, read from the `.sql` files in the crate's `sql/` folder.
//!
//! Each file is one dataset and describes itself in its leading comment lines:
//! ```sql
//! -- dataset: nodes                      (the dataset id is <DataSourceId>-nodes)
//! -- name: Patch compliance by node      (the name QuickSight shows)
//! -- column: account_id STRING           (one line per output column, in order)
//! ```
//! The text may use `${Database}`, `${ConfigDatabase}` and `${ConfigTable}` (the names the named
//! queries' `Fn::Sub` uses), replaced by quoted identifiers' contents when the dataset is built,
//! and `${ConfigObjectKey}`, replaced by Athena's `"$path"` (the snapshot's object).
//! A line `-- include: <path>` takes in a part the named queries share (`cfn/queries/parts/`):
//! `build.rs` renders the files into `OUT_DIR` and those renderings are compiled in. The files
//! are the single source of truth: the SQL checks in `tests/sql/` render them the same way
//! (`cfn/render.py`), read the same headers and compare them with what the query returns.

use std::sync::OnceLock;

use aws_sdk_quicksight::types::InputColumnDataType;

/// What a dataset needs from its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The resource data sync tables.
    Inventory,
    /// The AWS Config snapshot table.
    Config,
}

/// One dataset's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSql {
    /// The file it came from, for messages.
    pub file: &'static str,
    /// The suffix of the dataset id (`nodes` → `<DataSourceId>-nodes`).
    pub key: String,
    /// The dataset's name in QuickSight.
    pub name: String,
    /// Output columns in order, with their QuickSight input types.
    pub columns: Vec<(String, InputColumnDataType)>,
    /// Which tables the query reads.
    pub source: Source,
    template: &'static str,
}

/// The files, in the order the datasets are built.
const FILES: [(&str, &str); 4] = [
    (
        "nodes.sql",
        include_str!(concat!(env!("OUT_DIR"), "/nodes.sql")),
    ),
    (
        "patches.sql",
        include_str!(concat!(env!("OUT_DIR"), "/patches.sql")),
    ),
    (
        "node_tags.sql",
        include_str!(concat!(env!("OUT_DIR"), "/node_tags.sql")),
    ),
    (
        "config_compliance.sql",
        include_str!(concat!(env!("OUT_DIR"), "/config_compliance.sql")),
    ),
];

/// Placeholder names a template may use.
pub const PLACEHOLDERS: [&str; 4] = [
    "Database",
    "ConfigDatabase",
    "ConfigTable",
    "ConfigObjectKey",
];

/// The names substituted into a template. Callers validate them (letters, digits, `_`, `-`), so
/// substitution into double-quoted identifiers cannot change the query's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names<'a> {
    /// Glue database of the resource data sync tables.
    pub database: &'a str,
    /// Glue database and table of the Config snapshots, when there are any.
    pub config: Option<(&'a str, &'a str)>,
}

impl DatasetSql {
    /// Parses one file's header.
    pub fn parse(file: &'static str, text: &'static str) -> Result<Self, String> {
        let (mut key, mut name, mut columns) = (None, None, Vec::new());
        for line in text.lines() {
            let Some(comment) = line.strip_prefix("--") else {
                break;
            };
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("dataset:") {
                key = Some(v.trim().to_owned());
            } else if let Some(v) = comment.strip_prefix("name:") {
                name = Some(v.trim().to_owned());
            } else if let Some(v) = comment.strip_prefix("column:") {
                let mut parts = v.split_whitespace();
                let (Some(col), Some(ty), None) = (parts.next(), parts.next(), parts.next()) else {
                    return Err(format!(
                        "{file}: {line:?} must be `-- column: <name> <TYPE>`"
                    ));
                };
                let ty = match ty {
                    "STRING" => InputColumnDataType::String,
                    "INTEGER" => InputColumnDataType::Integer,
                    "DECIMAL" => InputColumnDataType::Decimal,
                    "DATETIME" => InputColumnDataType::Datetime,
                    "BOOLEAN" => InputColumnDataType::Boolean,
                    other => {
                        return Err(format!(
                            "{file}: column {col} has type {other}; use STRING, INTEGER, DECIMAL, DATETIME or BOOLEAN"
                        ));
                    }
                };
                columns.push((col.to_owned(), ty));
            }
        }
        let key = key
            .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
            .ok_or_else(|| {
                format!("{file}: needs a `-- dataset: <key>` line (lowercase letters and '-')")
            })?;
        let name = name
            .filter(|n| (1..=100).contains(&n.chars().count()))
            .ok_or_else(|| format!("{file}: needs a `-- name: <1 to 100 characters>` line"))?;
        if columns.is_empty() {
            return Err(format!("{file}: needs `-- column: <name> <TYPE>` lines"));
        }
        let source = if text.contains("${ConfigTable}") {
            Source::Config
        } else {
            Source::Inventory
        };
        let dataset = Self {
            file,
            key,
            name,
            columns,
            source,
            template: text,
        };
        // Every placeholder must be one we fill.
        let probe = dataset.render(&Names {
            database: "d",
            config: Some(("c", "t")),
        });
        if let Some(at) = probe.find("${") {
            let rest: String = probe[at..].chars().take(30).collect();
            return Err(format!("{file}: unknown placeholder at {rest:?}"));
        }
        Ok(dataset)
    }

    /// The query with the names filled in. A Config dataset without Config names keeps its
    /// placeholders; callers only build Config datasets when the names are known.
    ///
    /// Comment lines are left out: QuickSight wraps custom SQL in a subquery, and a `--` comment
    /// that lost its line break there would swallow the rest of the query.
    pub fn render(&self, names: &Names<'_>) -> String {
        let body: Vec<&str> = self
            .template
            .lines()
            .filter(|line| !line.trim_start().starts_with("--") && !line.trim().is_empty())
            .collect();
        let mut sql = body.join("\n").replace("${Database}", names.database);
        if let Some((database, table)) = names.config {
            // The snapshot table's object names are Athena's "$path" pseudo-column
            // (cfn/queries/parts/newest_config_snapshot.sql).
            sql = sql
                .replace("${ConfigDatabase}", database)
                .replace("${ConfigTable}", table)
                .replace("${ConfigObjectKey}", "\"$path\"");
        }
        sql
    }
}

/// Every dataset definition, parsed once.
///
/// # Panics
/// If a file's header is malformed: the files are compiled in, and a unit test parses all of them,
/// so this cannot happen in a tested build.
pub fn datasets() -> &'static [DatasetSql] {
    static PARSED: OnceLock<Vec<DatasetSql>> = OnceLock::new();
    PARSED.get_or_init(|| {
        FILES
            .iter()
            .map(|(file, text)| DatasetSql::parse(file, text))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("malformed dataset SQL: {e}"))
    })
}

/// Every dataset key this resource may have created, whatever the properties: Delete and Update
/// remove the ones not wanted.
pub fn all_keys() -> impl Iterator<Item = &'static str> {
    datasets().iter().map(|d| d.key.as_str())
}
