//! The crate's modules depend on each other in one order: the order of the module
//! declarations in `src/lib.rs`. A module may use the modules declared before it, never one
//! declared after it, so no two modules import each other (and the data flows one way).

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// The top-level modules, in the order `src/lib.rs` declares them.
fn declared_order(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            let name = rest.strip_suffix(';')?;
            Some(name.trim().to_owned())
        })
        .collect()
}

/// `text` without `//` comments (docs included) and without its `#[cfg(test)] mod tests`.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            // Keep `//` inside string literals of the code out of the way: a line that has
            // a quote before the comment marker is kept whole.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules that `code` names through `crate::` paths, including every
/// first-level name of a `use crate::{a, b::c, ...}` group.
fn used_modules(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` and `other_crate::` are not this crate's paths.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ => {}
                }
                if depth == 0 {
                    items.push(std::mem::take(&mut item));
                    break;
                }
                if depth == 1 && c != ',' {
                    item.push(c);
                }
            }
            for item in items {
                if let Some(name) = leading_ident(item.trim()) {
                    used.insert(name);
                }
            }
        } else if let Some(name) = leading_ident(rest) {
            used.insert(name);
        }
    }
    used
}

fn leading_ident(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase())).then_some(name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_modules_declared_before_it() {
    // The directory cargo runs the test for (at run time: a test binary built from another
    // checkout with a shared target directory must still read this one).
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let src = root.join("src");
    let order = declared_order(&fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(order.len() > 5, "lib.rs declares {order:?}");
    let position = |name: &str| order.iter().position(|m| m == name);

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str();
        let top = top.to_str().unwrap().trim_end_matches(".rs");
        if top == "lib" {
            continue;
        }
        let here = position(top)
            .unwrap_or_else(|| panic!("{} is not declared in lib.rs", relative.display()));
        let code = code_of(&fs::read_to_string(&file).unwrap());
        for used in used_modules(&code) {
            match position(&used) {
                Some(there) if there > here => violations.push(format!(
                    "{} ({top}) uses `crate::{used}`, declared after `{top}` in lib.rs",
                    relative.display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the module order {}:\n{}",
        order.join(" < "),
        violations.join("\n")
    );
}

#[test]
fn the_reader_finds_every_form_of_import() {
    let code = "use crate::{body::Body, cache::{self, Cache}, method};\n\
                let x = crate::route::call(); macro_rules! m { () => { $crate::x } }\n\
                other_crate::y;";
    let used: Vec<_> = used_modules(code).into_iter().collect();
    assert_eq!(used, ["body", "cache", "method", "route"]);
    assert_eq!(
        code_of(
            "use crate::a; // crate::b\n/// [x](crate::c)\n#[cfg(test)]\nmod tests { crate::d }"
        ),
        "use crate::a; \n"
    );
}
