//! The SQL a report run sends to Athena: the shipped named queries and dataset queries, unchanged
//! except for their placeholders, and the staging statements that let them read each JSON sync
//! table once.
//!
//! Every shipped query reads the sync tables (JSON objects, one per node and type) and reduces
//! them to each node's newest rows; nine queries would read `aws_instanceinformation` nine times
//! and Athena charges for every byte each reads. A run therefore first copies each sync table the
//! queries read into Parquet (`CREATE TABLE AS SELECT *`, one read of the JSON), then runs the
//! shipped SQL with the copies in place of the originals: same rows and columns, so the same
//! answers, but a query now reads only the Parquet columns it names, compressed. The AWS Config
//! snapshot table is copied the same way, with each row's object name (Athena's `"$path"`, which
//! the Config queries order a day's snapshots by) kept in a column `object_key`, the value the
//! queries' `${ConfigObjectKey}` placeholder takes for the copy. The copies are dropped and their
//! objects deleted when the run ends, whatever happened.

use crate::athena::Statement;

/// The sync tables the report's queries read, copied once per run.
pub const STAGED_TABLES: [&str; 5] = [
    "aws_instanceinformation",
    "aws_compliancesummary",
    "aws_complianceitem",
    "aws_patchsummary",
    "aws_tag",
];

/// The name of the copy of the AWS Config snapshot table (after the run's prefix).
pub const CONFIG_COPY: &str = "config_snapshot";
/// The copy's column holding each row's object name (`"$path"` of the original).
pub const OBJECT_KEY: &str = "object_key";

/// One of the shipped queries the report runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipped {
    /// The file, relative to the repository (for the report's list of sources).
    pub path: &'static str,
    /// Its rendered text (includes expanded at build time).
    pub text: &'static str,
    /// True when it reads the AWS Config snapshot table (skipped without Config analytics).
    pub reads_config: bool,
    /// The only rows of its answer the report reads, as a condition on its output columns,
    /// applied by Athena around the unchanged query: the report holds every row of an answer
    /// in memory, and a realistic node reports hundreds of compliance items of which a few are
    /// non-compliant.
    pub rows: Option<&'static str>,
}

macro_rules! shipped {
    ($folder:literal, $source:literal, $file:literal) => {
        Shipped {
            path: concat!($source, "/", $file),
            text: include_str!(concat!(env!("OUT_DIR"), "/", $folder, "/", $file)),
            reads_config: false,
            rows: None,
        }
    };
}

/// The dataset query of every live managed node.
pub const NODES: Shipped = shipped!("datasets", "crates/quicksight-builder/sql", "nodes.sql");
/// Every compliance item of every live node; the report reads the non-compliant ones.
pub const PATCHES: Shipped = Shipped {
    rows: Some("status = 'NON_COMPLIANT'"),
    ..shipped!("datasets", "crates/quicksight-builder/sql", "patches.sql")
};
/// Every tag of every live node.
pub const NODE_TAGS: Shipped =
    shipped!("datasets", "crates/quicksight-builder/sql", "node_tags.sql");
/// AWS Config's view of every instance.
pub const CONFIG_COMPLIANCE: Shipped = Shipped {
    reads_config: true,
    ..shipped!(
        "datasets",
        "crates/quicksight-builder/sql",
        "config_compliance.sql"
    )
};
/// Nodes per account, Region and compliance level.
pub const COMPLIANCE_SUMMARY: Shipped = shipped!("named", "cfn/queries", "compliance_summary.sql");
/// EC2 instances Systems Manager does not manage.
pub const EC2_NOT_MANAGED: Shipped = Shipped {
    reads_config: true,
    ..shipped!("named", "cfn/queries", "ec2_not_managed.sql")
};
/// Compliant nodes.
pub const COMPLIANT_NODES: Shipped = shipped!("named", "cfn/queries", "compliant_nodes.sql");
/// Non-compliant nodes.
pub const NONCOMPLIANT_NODES: Shipped = shipped!("named", "cfn/queries", "noncompliant_nodes.sql");
/// Each node's patch summary.
pub const PATCH_SUMMARY: Shipped = shipped!("named", "cfn/queries", "patch_summary.sql");

/// Every query a run sends, in the order they are started.
pub const ALL: [Shipped; 9] = [
    PATCHES,
    NODES,
    NODE_TAGS,
    NONCOMPLIANT_NODES,
    COMPLIANCE_SUMMARY,
    COMPLIANT_NODES,
    PATCH_SUMMARY,
    CONFIG_COMPLIANCE,
    EC2_NOT_MANAGED,
];

/// Where a run's tables are, and what it calls its copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The crawler's database of sync tables.
    pub database: String,
    /// The database the run's Parquet copies go in.
    pub staging_database: String,
    /// The run's copies are `<prefix><table>`: unique per run, so runs never collide.
    pub staging_prefix: String,
    /// The Config snapshot table, when Config analytics is on: (database, table).
    pub config: Option<(String, String)>,
}

/// A placeholder without a value after rendering: the query and the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} uses the placeholder {placeholder}, which the report has no value for")]
pub struct UnknownPlaceholder {
    pub path: &'static str,
    /// The placeholder left.
    pub placeholder: String,
}

/// A name as Athena's DML (Trino: SELECT, CREATE TABLE AS SELECT) quotes it: in double quotes, a
/// double quote written twice ("To escape reserved keywords in SQL SELECT statements ... enclose
/// them in double quotes", Athena User Guide, "Reserved keywords"; "When running SELECT, CTAS, or
/// VIEW queries, put quotation marks around identifiers", "Names for tables, databases, and
/// columns").
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A name as Athena's DDL (Hive: DROP TABLE, ALTER TABLE, MSCK REPAIR TABLE ...) quotes it: in
/// backticks, a backtick written twice, as Hive's quoted identifiers write it ("To escape reserved
/// keywords in DDL statements, enclose them in backticks", "Reserved keywords"; "Athena DDL is based
/// on HiveQL DDL", "SQL reference for Athena"). Athena refuses a DDL statement whose names are in
/// double quotes.
fn backquoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Catalog {
    /// The staging copy of `table`, as DML names it.
    pub fn staged(&self, table: &str) -> String {
        format!(
            "{}.{}",
            quoted(&self.staging_database),
            quoted(&format!("{}{table}", self.staging_prefix))
        )
    }

    /// The staging copy of `table`, as DDL names it.
    fn staged_for_ddl(&self, table: &str) -> String {
        format!(
            "{}.{}",
            backquoted(&self.staging_database),
            backquoted(&format!("{}{table}", self.staging_prefix))
        )
    }

    /// The statements that copy each sync table (and the Config table) into Parquet.
    pub fn stage(&self) -> Vec<Statement> {
        // format PARQUET with SNAPPY: CREATE TABLE AS (Athena User Guide) lists both; the location
        // is the workgroup's (`tables/<query id>/` under its result location), as a workgroup that
        // enforces its settings requires.
        let copy = |copy: &str, select: String, from: String| Statement {
            name: format!("staging copy of {from}"),
            sql: format!(
                "CREATE TABLE {} WITH (format = 'PARQUET', write_compression = 'SNAPPY') AS SELECT {select} FROM {from}",
                self.staged(copy)
            ),
        };
        let mut statements: Vec<Statement> = STAGED_TABLES
            .iter()
            .map(|table| {
                copy(
                    table,
                    "*".into(),
                    format!("{}.{}", quoted(&self.database), quoted(table)),
                )
            })
            .collect();
        if let Some((database, table)) = &self.config {
            statements.push(copy(
                CONFIG_COPY,
                format!("*, \"$path\" AS {OBJECT_KEY}"),
                format!("{}.{}", quoted(database), quoted(table)),
            ));
        }
        statements
    }

    fn copies(&self) -> Vec<&str> {
        let mut copies = STAGED_TABLES.to_vec();
        if self.config.is_some() {
            copies.push(CONFIG_COPY);
        }
        copies
    }

    /// The statements that drop the copies (their objects are deleted separately: DROP TABLE
    /// "Removes the metadata table definition ... the underlying data remains intact"). DROP TABLE
    /// is Hive DDL: its names take backticks, where the CTAS that made the copies (Trino) takes
    /// double quotes.
    pub fn unstage(&self) -> Vec<Statement> {
        self.copies()
            .iter()
            .map(|table| Statement {
                name: format!("dropping the copy of {table}"),
                sql: format!("DROP TABLE IF EXISTS {}", self.staged_for_ddl(table)),
            })
            .collect()
    }

    /// A shipped query as the run sends it: the staged copies in place of the sync and Config
    /// tables.
    ///
    /// Whole-line comments are left out: they describe the query for its readers in the
    /// repository and name placeholders in prose.
    pub fn render(&self, query: &Shipped) -> Result<Statement, UnknownPlaceholder> {
        let mut sql: String = query
            .text
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for table in STAGED_TABLES {
            sql = sql.replace(&format!("\"${{Database}}\".{table}"), &self.staged(table));
        }
        if self.config.is_some() {
            sql = sql
                .replace(
                    "\"${ConfigDatabase}\".\"${ConfigTable}\"",
                    &self.staged(CONFIG_COPY),
                )
                .replace("${ConfigObjectKey}", OBJECT_KEY);
        }
        if let Some(start) = sql.find("${") {
            let end = sql[start..].find('}').map_or(sql.len(), |e| start + e + 1);
            return Err(UnknownPlaceholder {
                path: query.path,
                placeholder: sql[start..end].to_owned(),
            });
        }
        if let Some(rows) = query.rows {
            // A WITH query may stand in parentheses as a subquery (Trino's SELECT syntax).
            sql = format!(
                "SELECT * FROM (\n{}\n) AS shipped WHERE {rows}",
                sql.trim_end().trim_end_matches(';')
            );
        }
        Ok(Statement {
            name: query.path.to_owned(),
            sql,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(config: bool) -> Catalog {
        Catalog {
            database: "patch_inventory".into(),
            staging_database: "patch_report".into(),
            staging_prefix: "run_abc_".into(),
            config: config.then(|| ("patch_config".into(), "aws_config_snapshot".into())),
        }
    }

    #[test]
    fn every_sync_table_the_queries_read_is_staged() {
        for query in ALL {
            let sql = catalog(true).render(&query).expect("renders");
            assert!(
                !sql.sql.contains("\"patch_inventory\"") && !sql.sql.contains("patch_inventory."),
                "{} still reads a JSON table: {}",
                query.path,
                sql.sql
            );
        }
    }

    #[test]
    fn config_queries_read_the_copy_with_its_object_names() {
        let c = catalog(true);
        let sql = c.render(&EC2_NOT_MANAGED).expect("renders").sql;
        assert!(
            sql.contains("\"patch_report\".\"run_abc_config_snapshot\""),
            "{sql}"
        );
        assert!(
            sql.contains("s.object_key AS object_key") && !sql.contains("$path"),
            "{sql}"
        );
        let stage = c.stage();
        assert_eq!(stage.len(), STAGED_TABLES.len() + 1);
        assert!(stage[5].sql.ends_with(
            "AS SELECT *, \"$path\" AS object_key FROM \"patch_config\".\"aws_config_snapshot\""
        ));
        assert_eq!(c.unstage().len(), stage.len());
    }

    #[test]
    fn the_patches_answer_holds_only_the_rows_the_report_reads() {
        let sql = catalog(true).render(&PATCHES).expect("renders").sql;
        assert!(sql.starts_with("SELECT * FROM (\n"), "{sql}");
        assert!(
            sql.ends_with("\n) AS shipped WHERE status = 'NON_COMPLIANT'"),
            "{sql}"
        );
        // The shipped text stands unchanged inside.
        let nodes = catalog(true).render(&NODES).expect("renders").sql;
        assert!(!nodes.contains("AS shipped"));
    }

    #[test]
    fn config_queries_need_the_config_table() {
        let err = catalog(false)
            .render(&EC2_NOT_MANAGED)
            .expect_err("no Config table");
        assert_eq!(err.placeholder, "${ConfigDatabase}");
        assert!(catalog(false).render(&NODES).is_ok());
    }

    #[test]
    fn staging_copies_every_column_into_parquet_and_drops_by_name() {
        let c = catalog(true);
        let stage = c.stage();
        assert_eq!(stage.len(), STAGED_TABLES.len() + 1);
        assert_eq!(
            stage[0].sql,
            "CREATE TABLE \"patch_report\".\"run_abc_aws_instanceinformation\" WITH (format = 'PARQUET', \
             write_compression = 'SNAPPY') AS SELECT * FROM \"patch_inventory\".\"aws_instanceinformation\""
        );
        assert_eq!(
            c.unstage()[4].sql,
            "DROP TABLE IF EXISTS `patch_report`.`run_abc_aws_tag`"
        );
    }

    #[test]
    fn ddl_names_take_backticks_and_dml_names_double_quotes() {
        // Every DROP TABLE (Hive DDL) quotes its names with backticks and never with double quotes.
        let c = catalog(true);
        for drop in c.unstage() {
            assert!(
                drop.sql
                    .starts_with("DROP TABLE IF EXISTS `patch_report`.`run_abc_")
                    && drop.sql.ends_with('`')
                    && !drop.sql.contains('"'),
                "{}",
                drop.sql
            );
        }
        assert_eq!(
            c.unstage()[5].sql,
            "DROP TABLE IF EXISTS `patch_report`.`run_abc_config_snapshot`"
        );
        // The CTAS (Trino DML) keeps double quotes.
        assert!(
            c.stage()[5]
                .sql
                .starts_with("CREATE TABLE \"patch_report\".\"run_abc_config_snapshot\" WITH (")
        );
        // A quote character inside a name is written twice, in the quoting it belongs to.
        let odd = Catalog {
            staging_database: "odd`db\"x".into(),
            staging_prefix: "run_".into(),
            ..catalog(false)
        };
        assert_eq!(
            odd.unstage()[0].sql,
            "DROP TABLE IF EXISTS `odd``db\"x`.`run_aws_instanceinformation`"
        );
        assert!(
            odd.stage()[0]
                .sql
                .starts_with("CREATE TABLE \"odd`db\"\"x\".\"run_aws_instanceinformation\" WITH (")
        );
    }
}
