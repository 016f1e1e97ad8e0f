//! The repository stands alone: no tracked text file points at documents that live
//! outside it (the project's notes are in `docs/`) or at a work tracker. Every tracked
//! text file is scanned, except `Cargo.lock` files, binary files and this file.
//!
//! Skipped, with one line of output, when `git` is missing or the workspace is not a git
//! checkout (for example an unpacked source archive).

use std::path::Path;
use std::process::Command;

/// This file: it spells out the patterns (in pieces, so that a plain text search of the
/// repository does not find them here either).
const SELF: &str = "tests/tests/e2e/repo_hygiene.rs";

/// Plain substrings, matched case-sensitively.
const SUBSTRINGS: &[&str] = &[
    concat!("../", "shared"),
    concat!("shared", "/reference"),
    concat!("reference ", "\u{a7}"),
    concat!("security", ".md \u{a7}"),
    concat!("perf", ".md"),
    concat!("peers", ".md"),
    concat!("stytch-api", ".md"),
    concat!("DESIGN", ".md"),
    concat!("per ", "issue"),
];

#[test]
fn no_tracked_file_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(files) = tracked_files(&root) else {
        println!("skipped: not a git checkout");
        return;
    };
    assert!(!files.is_empty(), "git ls-files listed nothing");
    let mut hits = Vec::new();
    for file in &files {
        if file == SELF || file == "Cargo.lock" || file.ends_with("/Cargo.lock") {
            continue;
        }
        // Tracked but deleted in the work tree, or unreadable: nothing to scan.
        let Ok(bytes) = std::fs::read(root.join(file)) else {
            continue;
        };
        // Binary files: a NUL byte or invalid UTF-8.
        if bytes.contains(&0) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            for found in matches(line) {
                hits.push(format!("{file}:{}: `{found}`: {}", index + 1, line.trim()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "{} dangling reference(s); point them at docs/ or drop them:\n{}",
        hits.len(),
        hits.join("\n")
    );
}

/// The tracked files, relative to `root`; `None` when git cannot list them.
fn tracked_files(root: &Path) -> Option<Vec<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let listing = String::from_utf8(output.stdout).ok()?;
    Some(
        listing
            .split('\0')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Every forbidden pattern found in `line`, as the text that matched.
fn matches(line: &str) -> Vec<String> {
    let mut found: Vec<String> = SUBSTRINGS
        .iter()
        .filter(|pattern| line.contains(**pattern))
        .map(|pattern| (*pattern).to_owned())
        .collect();
    found.extend(issue_numbers(line));
    found
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Matches of the regular expression `\bissue #?[0-9]+\b`, ignoring ASCII case.
fn issue_numbers(line: &str) -> Vec<String> {
    const WORD: &[u8] = b"issue";
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while start + WORD.len() <= bytes.len() {
        let at = start;
        start += 1;
        if !bytes[at..at + WORD.len()].eq_ignore_ascii_case(WORD) {
            continue;
        }
        if at > 0 && is_word(bytes[at - 1]) {
            continue;
        }
        let mut i = at + WORD.len();
        if bytes.get(i) != Some(&b' ') {
            continue;
        }
        i += 1;
        if bytes.get(i) == Some(&b'#') {
            i += 1;
        }
        let digits = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // At least one digit, and the number ends at a word boundary.
        if i == digits || bytes.get(i).is_some_and(|b| is_word(*b)) {
            continue;
        }
        found.push(line[at..i].to_owned());
    }
    found
}

#[test]
fn the_issue_pattern_behaves_like_the_regular_expression() {
    // The word is spliced in, so that this file holds no match itself.
    let hit = |template: &str| issue_numbers(&template.replace('~', "issue"));
    let upper = |template: &str| issue_numbers(&template.replace('~', "ISSUE"));
    assert_eq!(hit("see ~ 5."), [concat!("issue", " 5")]);
    assert_eq!(upper("(~ #12)"), [concat!("ISSUE", " #12")]);
    assert_eq!(
        hit("~ 3 and ~ #4"),
        [concat!("issue", " 3"), concat!("issue", " #4")]
    );
    assert!(hit("t~ 5").is_empty(), "needs a word boundary before");
    assert!(hit("~_5").is_empty());
    assert!(hit("~ 5a").is_empty(), "needs a word boundary after");
    assert!(hit("~ #").is_empty(), "needs a digit");
    assert!(hit("~: 5").is_empty());
    assert!(hit("~s 5").is_empty());
    assert!(hit("~  5").is_empty(), "exactly one space");
    assert!(hit("non-~").is_empty());
    assert_eq!(
        hit("x-~ 9"),
        [concat!("issue", " 9")],
        "a hyphen is a boundary"
    );
    assert_eq!(hit("é ~ 1 é"), [concat!("issue", " 1")]);
    assert_eq!(
        matches(concat!("see ", "perf", ".md and per ", "issue")),
        [concat!("perf", ".md"), concat!("per ", "issue")]
    );
}
