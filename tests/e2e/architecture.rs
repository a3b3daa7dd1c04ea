//! The shape of the code (ARCHITECTURE.md, "Invariants"), checked: the CLI depends on the
//! operations layer and the process entry points only, its modules import each other in one
//! direction (no command module reaches into another), and no source file grows into two
//! responsibilities.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `ontofleet-cli`'s workspace dependencies, from `cargo metadata`.
fn cli_workspace_dependencies() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let cli = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "ontofleet-cli")
        .expect("ontofleet-cli in the workspace");
    cli["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str())
        .filter(|n| n.starts_with("ontofleet-"))
        .map(str::to_owned)
        .collect()
}

/// The CLI is an adapter like the API: the operations layer, the telemetry, the worker's entry
/// point, the API's router, the vocabulary, and the seed (a development tool). Not the queue,
/// the producer, control, the database layer or the pipeline: what it does goes through
/// `ontofleet-ops`.
#[test]
fn the_cli_depends_on_the_operations_layer_only() {
    let want: BTreeSet<String> = [
        "ontofleet-api",
        "ontofleet-core",
        "ontofleet-ops",
        "ontofleet-seed",
        "ontofleet-telemetry",
        "ontofleet-worker",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(cli_workspace_dependencies(), want);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A CLI source file's module path below `crate`: `cmd::run`, `output`, `context`, `main`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The modules of the crate that `text` (the source of `module`) names: `crate::a::b`, and
/// `super::x` resolved against `module`.
fn imports(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").collect();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
        ] {
            let mut rest = line;
            while let Some(at) = rest.find(prefix) {
                let path: String = rest[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let mut segs: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
                segs.extend(
                    path.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                // The longest prefix of the path that names a module of the crate.
                while !segs.is_empty() {
                    let candidate = segs.join("::");
                    if modules.contains(&candidate) {
                        if candidate != module {
                            found.insert(candidate);
                        }
                        break;
                    }
                    segs.pop();
                }
                rest = &rest[at + prefix.len()..];
            }
        }
    }
    found
}

/// No circle among the CLI's modules, and no command module (`cmd::*`) imports another: a new
/// command is a module of its own over `context` and `output`.
#[test]
fn the_cli_modules_import_in_one_direction() {
    let src = root().join("crates/ontofleet-cli/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        graph.insert(module.clone(), imports(&module, &text, &modules));
    }
    for (module, deps) in &graph {
        if module.starts_with("cmd::") {
            let others: Vec<&String> = deps.iter().filter(|d| d.starts_with("cmd")).collect();
            assert!(
                others.is_empty(),
                "command module {module} imports {others:?}"
            );
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!("module circle: {}", path[at..].join(" -> "));
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            // A parent module declares its children (`mod x;`): that is not an import.
            if next.starts_with(&format!("{node}::")) {
                continue;
            }
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
    assert!(graph.contains_key("cmd::run") && graph.contains_key("context"));
}

/// Files that may be long because they are one thing: tests, vocabularies, and the seed's data.
fn long_by_nature(path: &Path) -> bool {
    let p = path.to_string_lossy();
    p.contains("/ontofleet-seed/")
        || p.ends_with("/tests.rs")
        || p.contains("/tests/")
        || p.ends_with("/lexicon.rs")
        || p.ends_with("/fake_llm.rs")
}

/// No source file of the crates past ~600 lines (650 here) outside tests, vocabularies and the
/// seed's data: a longer one usually holds two responsibilities.
#[test]
fn no_source_file_holds_two_responsibilities() {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root().join("crates"))
        .expect("crates")
        .flatten()
    {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let long: Vec<String> = files
        .iter()
        .filter(|f| !long_by_nature(f))
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > 650).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "files to split: {long:#?}");
}
