//! ARCHITECTURE.md names only code that exists: every file it cites, every `Type::item` and
//! `module::item` path, and every table and column in its SQL outlines. A rename that forgets the
//! document fails here instead of misleading the next reader.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// Every file under the project's source folders, as paths relative to the root, and their text.
fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> =
        ["backend", "frontend", "shared", "tests", "xtask"].iter().map(|d| root().join(d)).collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !["target", "node_modules", "dist", "fixtures"].contains(&name.as_str()) {
                stack.push(path);
            } else if name.ends_with(".rs") || name.ends_with(".sql") {
                let relative = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    out
}

/// Text between single backticks.
fn spans(doc: &str) -> Vec<&str> {
    doc.split("```").step_by(2).flat_map(|prose| prose.split('`').skip(1).step_by(2)).collect()
}

#[test]
fn every_file_the_architecture_cites_exists() {
    let files = sources();
    let doc = read("ARCHITECTURE.md");
    let missing: Vec<&str> = spans(&doc)
        .into_iter()
        .filter(|span| span.ends_with(".rs") && !span.contains([' ', '<']))
        .filter(|cited| !files.iter().any(|(path, _)| path == cited || path.ends_with(&format!("/{cited}"))))
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md cites files that do not exist: {missing:?}");
}

/// Whether `name` is defined anywhere: a function, type, trait, module, constant, macro, public field
/// or variant.
fn defined(all: &str, name: &str) -> bool {
    let definitions = ["fn ", "struct ", "enum ", "trait ", "mod ", "const ", "static ", "type ", "macro_rules! "];
    definitions.iter().any(|d| all.contains(&format!("{d}{name}")))
        || [format!("pub {name}: "), format!("pub(crate) {name}: ")].iter().any(|field| all.contains(field))
        || [format!("    {name}("), format!("    {name},"), format!("    {name} {{")].iter().any(|v| all.contains(v))
}

#[test]
fn every_path_the_architecture_names_is_defined() {
    let all: String = sources().into_iter().map(|(_, text)| text).collect::<Vec<_>>().join("\n");
    let mut checked = 0;
    let mut missing = Vec::new();
    let doc = read("ARCHITECTURE.md");
    for span in spans(&doc) {
        let path = span.trim_end_matches("()").trim_end_matches('!');
        let is_path = path.contains("::")
            && path.split("::").all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'));
        if !is_path {
            continue;
        }
        for part in path.split("::").filter(|part| !["crate", "self", "super", "shared"].contains(part)) {
            checked += 1;
            if !defined(&all, part) {
                missing.push(format!("{part} (in `{span}`)"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} names were checked");
    assert!(missing.is_empty(), "ARCHITECTURE.md names what the code does not define: {missing:?}");
}

#[test]
fn every_table_and_column_in_the_architectures_sql_exists() {
    let doc = read("ARCHITECTURE.md");
    let migrations: String = sources()
        .into_iter()
        .filter(|(path, _)| path.starts_with("backend/migrations/sqlite/"))
        .map(|(_, text)| text)
        .collect();
    let blocks: Vec<&str> = doc.split("```sql").skip(1).map(|rest| rest.split("```").next().unwrap()).collect();
    assert!(!blocks.is_empty(), "the SQL outline is gone; drop this test with it");
    let mut missing = Vec::new();
    for block in blocks {
        // Lower-case words with an underscore are tables and columns; the `<…>` parts are prose.
        let code: String = block.split('<').map(|part| part.split_once('>').map_or(part, |(_, after)| after)).collect();
        for word in code.split(|c: char| !(c.is_ascii_lowercase() || c == '_')) {
            if word.contains('_') && !word.starts_with('_') && !migrations.contains(word) {
                missing.push(word.to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md's SQL names what no migration creates: {missing:?}");
}
