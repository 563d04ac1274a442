//! Renders the dataset SQL into `OUT_DIR`, its `-- include:` lines expanded (`sql-include`): the
//! parts the named queries share live once, in `cfn/queries/parts/`.

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    sql_include::render_dir(std::path::Path::new("sql"), &out);
}
