//! The SQL we ship is written once, in `.sql` files; the parts several queries share live in
//! `cfn/queries/parts/` and are taken in by a line `-- include: <path>` (relative to the including
//! file), indented as that line was. `cfn/render.py` applies this rule to the templates and the
//! SQL checks; this crate applies it in the `build.rs` of the crates that compile SQL in
//! (`quicksight-builder`'s datasets, `compliance-report`'s queries), so every consumer reads the
//! same text. Build scripts panic with the file and line of a bad include, which cargo shows.

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

/// `path`'s text with its includes expanded (recursively), telling cargo to rerun the build
/// script when any file read changes.
///
/// # Panics
/// When a file cannot be read, an include names a file that does not exist, or includes form a
/// cycle: a build-time error with the file and line.
pub fn expand(path: &Path) -> String {
    expand_inner(path, &mut Vec::new())
}

fn expand_inner(path: &Path, seen: &mut Vec<PathBuf>) -> String {
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
        for part in expand_inner(&included, seen).lines() {
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

/// Renders every `.sql` file of `dir` into `out` under the same name.
///
/// # Panics
/// As [`expand`], and when `dir` cannot be listed or `out` written.
pub fn render_dir(dir: &Path, out: &Path) {
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().expect("a file name");
        fs::write(out.join(name), expand(&path))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.join(name).display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_include_line_is_only_the_marker_and_one_path() {
        assert_eq!(
            include_target("    -- include: parts/a.sql"),
            Some(("    ", "parts/a.sql"))
        );
        assert_eq!(include_target("-- include: a.sql b.sql"), None);
        assert_eq!(include_target("SELECT 1 -- include: a.sql"), None);
        assert_eq!(include_target("-- include: "), None);
    }

    #[test]
    fn includes_expand_indented_and_relative_to_the_including_file() {
        let dir = std::env::temp_dir().join(format!("sql-include-{}", std::process::id()));
        fs::create_dir_all(dir.join("parts")).expect("temp dir");
        fs::write(dir.join("parts/cte.sql"), "a AS (\n    SELECT 1\n)\n").expect("write");
        fs::write(
            dir.join("q.sql"),
            "WITH\n  -- include: parts/cte.sql\nSELECT * FROM a\n",
        )
        .expect("write");
        assert_eq!(
            expand(&dir.join("q.sql")),
            "WITH\n  a AS (\n      SELECT 1\n  )\nSELECT * FROM a\n"
        );
        fs::remove_dir_all(&dir).ok();
    }
}
