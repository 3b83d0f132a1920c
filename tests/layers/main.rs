//! The backend's layers hold: every `crate::`, `super::` and `self::` path in `backend/src` points to
//! the same layer or a lower one, and no two parts of the crate import each other in a circle.
//!
//! Layers, top to bottom: `app` → `http` → `auth` → `store` → the base (`config`, `clock`, `mail`,
//! `metrics`, `telemetry`). A part is a base module or `store` as a whole, or a child of `app`,
//! `http` or `auth` (`http::routes`, `auth::tokens`), with everything under it. A layer's root file
//! (`http.rs`) only declares its children, so edges from it are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a top-level module; higher may import lower.
fn layer(top: &str) -> Option<u8> {
    Some(match top {
        "app" => 4,
        "http" => 3,
        "auth" => 2,
        "store" => 1,
        "config" | "clock" | "mail" | "metrics" | "telemetry" => 0,
        _ => return None,
    })
}

/// The part a module belongs to.
fn part(module: &[String]) -> Vec<String> {
    let depth = if matches!(module[0].as_str(), "app" | "http" | "auth") { 2 } else { 1 };
    module.iter().take(depth).cloned().collect()
}

/// Every `.rs` file under `src` (but `lib.rs` and `main.rs`), with its module path.
fn modules(src: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut found = Vec::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap().with_extension("");
                let module: Vec<String> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                if module != ["lib"] && module != ["main"] {
                    found.push((path, module));
                }
            }
        }
    }
    found.sort();
    found
}

/// The module paths a file names, resolved against its own module. Code after `#[cfg(test)]` is left
/// out (inline test modules see their parent as `super`).
fn referenced(source: &str, module: &[String]) -> Result<Vec<Vec<String>>, String> {
    let mut paths = Vec::new();
    for line in source.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if code.contains("crate::{") {
            return Err(format!("`{}`: name each crate path on its own so the layers can be read", code.trim()));
        }
        for (start, _) in
            code.match_indices("crate::").chain(code.match_indices("super::")).chain(code.match_indices("self::"))
        {
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: Vec<&str> = code[start..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut resolved: Vec<String> = match path[0] {
                "crate" => Vec::new(),
                "super" => module[..module.len() - 1].to_vec(),
                _ => module.to_vec(),
            };
            let mut rest = &path[1..];
            while rest.first() == Some(&"super") {
                resolved.pop();
                rest = &rest[1..];
            }
            resolved.extend(rest.iter().map(|s| s.to_string()));
            if !resolved.is_empty() {
                paths.push(resolved);
            }
        }
    }
    Ok(paths)
}

/// The longest prefix of `path` that is a module of the crate.
fn module_of(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| known.contains(prefix))
}

/// Everything wrong with the crate under `src`: upward imports, unknown top-level modules, cycles.
fn check(src: &Path) -> Vec<String> {
    let files = modules(src);
    let known: BTreeSet<Vec<String>> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (path, module) in &files {
        let path = path.strip_prefix(src).unwrap_or(path);
        let Some(own_layer) = layer(&module[0]) else {
            problems.push(format!("{}: `{}` is in no layer", path.display(), module[0]));
            continue;
        };
        let source = std::fs::read_to_string(src.join(path)).unwrap();
        let targets = match referenced(&source, module) {
            Ok(targets) => targets,
            Err(problem) => {
                problems.push(format!("{}: {problem}", path.display()));
                continue;
            }
        };
        for target in targets {
            let Some(target) = module_of(&target, &known) else { continue };
            let Some(target_layer) = layer(&target[0]) else { continue };
            if target_layer > own_layer {
                problems.push(format!(
                    "{}: `{}` imports the higher `{}`",
                    path.display(),
                    module.join("::"),
                    target.join("::")
                ));
            }
            let (from, to) = (part(module), part(&target));
            let from_layer_root = module.len() == 1 && matches!(module[0].as_str(), "app" | "http" | "auth");
            if from != to && !from_layer_root {
                edges.entry(from).or_default().insert(to);
            }
        }
    }
    problems.extend(cycles(&edges).into_iter().map(|cycle| format!("import cycle: {}", cycle.join(" -> "))));
    problems
}

/// One cycle through each strongly connected group of parts, found by depth-first search.
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|n| n.join("::")).collect();
            cycle.push(node.join("::"));
            found.push(cycle);
            return;
        }
        if !done.insert(node.clone()) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
    }
    let (mut done, mut found) = (BTreeSet::new(), Vec::new());
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn the_backend_imports_only_downward_and_in_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = check(&src);
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// A tree written for the test, one file per `(path, contents)`.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

#[test]
fn an_upward_import_is_reported_with_its_file() {
    let dir = tree(&[
        ("http.rs", "pub(crate) mod error;"),
        ("http/error.rs", "pub(crate) struct ApiError;"),
        ("store.rs", "use crate::http::error::ApiError;\n"),
    ]);
    let problems = check(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("store.rs") && problems[0].contains("imports the higher `http::error`"));
}

#[test]
fn a_circle_between_parts_of_one_layer_is_reported() {
    let dir = tree(&[
        ("auth.rs", "mod a;\nmod b;"),
        ("auth/a.rs", "use crate::auth::b::B;\npub(crate) struct A;"),
        ("auth/b.rs", "use super::a::A;\npub(crate) struct B;"),
        ("auth/c.rs", "use crate::auth::a::A;\n"),
    ]);
    let problems = check(dir.path());
    assert_eq!(problems, ["import cycle: auth::a -> auth::b -> auth::a"]);
}

#[test]
fn test_modules_and_comments_are_not_imports() {
    let dir = tree(&[
        ("http.rs", "mod x;"),
        ("http/x.rs", ""),
        ("store.rs", "// see crate::http::x\n#[cfg(test)]\nmod tests { use crate::http::x; }\n"),
    ]);
    assert_eq!(check(dir.path()), Vec::<String>::new());
}

#[test]
fn grouped_crate_imports_and_modules_outside_the_layers_are_refused() {
    let dir = tree(&[("store.rs", "use crate::{clock, config};\n"), ("extra.rs", "")]);
    let problems = check(dir.path());
    assert_eq!(problems.len(), 2, "{problems:?}");
}
