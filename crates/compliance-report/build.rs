//! Renders the SQL the report runs into `OUT_DIR`: the named queries (`cfn/queries/`) and the
//! QuickSight datasets (`crates/quicksight-builder/sql/`), their `-- include:` lines expanded.
//! The report adds no SQL of its own beyond staging copies of the tables; what it counts is what
//! the SQL checks in `tests/sql/` prove against the ground truth.

use std::path::{Path, PathBuf};

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (source, folder) in [
        ("../../cfn/queries", "named"),
        ("../quicksight-builder/sql", "datasets"),
    ] {
        let dest = out.join(folder);
        std::fs::create_dir_all(&dest)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dest.display()));
        sql_include::render_dir(Path::new(source), &dest);
    }
}
