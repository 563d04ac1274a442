//! Renders the dataset SQL into `OUT_DIR`: each line `-- include: <path>` of `sql/*.sql` becomes
//! the text of that file (relative to the including file), indented as the line was. The parts
//! the named queries share live once, in `cfn/queries/parts/`; `cfn/render.py` applies the same
//! rule to the templates and queries, and `tests/sql` runs what each renders.

use std::fs;
use std::path::{Path, PathBuf};

/// The include target of a line, when the line is only `-- include: <path>` (after indentation).
fn include_target(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let target = trimmed
        .strip_prefix("-- include: ")?
        .trim_end_matches([' ', '\t']);
    (!target.is_empty() && !target.contains(char::is_whitespace))
        .then(|| (&line[..line.len() - trimmed.len()], target))
}

fn expand(path: &Path, seen: &mut Vec<PathBuf>) -> String {
    let path =
        fs::canonicalize(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if seen.contains(&path) {
        panic!("{}: an include cycle through {seen:?}", path.display());
    }
    println!("cargo::rerun-if-changed={}", path.display());
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    seen.push(path.clone());
    let mut out = String::with_capacity(text.len());
    for (number, line) in text.lines().enumerate() {
        let Some((indent, target)) = include_target(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let included = path
            .parent()
            .map(|dir| dir.join(target))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "{}:{}: includes {target}, which does not exist",
                    path.display(),
                    number + 1
                )
            });
        for part in expand(&included, seen).lines() {
            if !part.trim().is_empty() {
                out.push_str(indent);
                out.push_str(part);
            }
            out.push('\n');
        }
    }
    seen.pop();
    out
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rerun-if-changed=sql");
    let mut files: Vec<PathBuf> = fs::read_dir("sql")
        .expect("the crate's sql folder")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().expect("a file name");
        fs::write(out.join(name), expand(&path, &mut Vec::new()))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.join(name).display()));
    }
}
