//! Each context owns a set of tables and is the only one writing them; other contexts call
//! the owner's functions. These checks read the sources and the migrations (no database)
//! so a write across the line fails `cargo test` rather than waiting to be noticed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Context (folder under `src/`) → the tables it owns. Also written down in
/// `migrations/OWNERS.md` (checked below) and docs/architecture.md.
const OWNERS: &[(&str, &[&str])] = &[
    (
        "platform",
        &["idempotency_keys", "sessions", "one_time_tokens"],
    ),
    (
        "tenancy",
        &[
            "partners",
            "organizations",
            "operators",
            "memberships",
            "api_keys",
            "audit_log",
        ],
    ),
    ("buyers", &["buyers"]),
    ("kisum", &["kisum_snapshots"]),
    (
        "catalog",
        &["events", "ticket_types", "sections", "seats", "hotspots"],
    ),
    (
        "inventory",
        &["inventory_pools", "holds", "seat_claims", "carts"],
    ),
    (
        "commerce",
        &[
            "orders",
            "order_lines",
            "discounts",
            "points_programs",
            "points_lots",
            "points_ledger",
        ],
    ),
    (
        "payments",
        &["payments", "provider_events", "platform_secrets", "refunds"],
    ),
    (
        "tickets",
        &[
            "tickets",
            "event_signing_keys",
            "ticket_transfers",
            "data_fixes",
        ],
    ),
    (
        "gate",
        &[
            "checkin_lists",
            "devices",
            "scans",
            "ticket_checkins",
            "scan_conflicts",
            "revoked_codes",
            "gate_versions",
            "guests",
        ],
    ),
    ("notify", &["outbox"]),
];

const RULE: &str = "Each table is written only by the context that owns it (docs/architecture.md, \
                    \"Who owns which table\"); other contexts call the owner's functions.";

#[test]
fn every_table_is_written_only_by_its_owner() {
    let owners = owner_by_table();
    let created = created_tables();
    let src = crate_dir().join("src");

    // (file, what is wrong) → lines
    let mut problems: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).expect("under src");
        let file = relative.to_string_lossy().replace('\\', "/");
        let folders: Vec<_> = relative.parent().into_iter().flat_map(Path::iter).collect();
        let context = folders.first().map(|f| f.to_string_lossy().into_owned());
        let source = fs::read_to_string(&path).expect("read source");
        for write in written_tables(&source) {
            let problem = match (&write.table, &context) {
                (None, _) => "writes a table named at run time (name it in the SQL so its \
                              owner can be checked)"
                    .to_owned(),
                (Some(table), _) if !owners.contains_key(table.as_str()) => {
                    format!("writes {table} (a table no context owns)")
                }
                (Some(table), None) => format!(
                    "writes {table} (owned by {}; top-level files belong to no context)",
                    owners[table.as_str()]
                ),
                (Some(table), Some(context)) if !is_context(context) => format!(
                    "writes {table} (owned by {}; {context}/ is no context)",
                    owners[table.as_str()]
                ),
                (Some(table), Some(context)) if owners[table.as_str()] != context.as_str() => {
                    format!("writes {table} (owned by {})", owners[table.as_str()])
                }
                _ => continue,
            };
            problems
                .entry((file.clone(), problem))
                .or_default()
                .push(write.line);
        }
    }

    let mut report: Vec<String> = problems
        .into_iter()
        .map(|((file, problem), lines)| {
            let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
            let label = if lines.len() == 1 { "line" } else { "lines" };
            format!("  src/{file} {problem}: {label} {}", lines.join(", "))
        })
        .collect();
    // An unmapped table's writes are not checked at all, so it fails here too.
    report.extend(
        created
            .keys()
            .filter(|t| !owners.contains_key(t.as_str()))
            .map(|t| format!("  {t} (created in {}) is owned by no context", created[t])),
    );
    assert!(
        report.is_empty(),
        "\n{RULE}\n{} problem(s):\n{}\n",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn the_map_covers_exactly_the_tables_the_migrations_create() {
    let created = created_tables();
    let mut report = Vec::new();
    let mut seen = BTreeSet::new();
    for (context, tables) in OWNERS {
        for table in *tables {
            if !seen.insert(*table) {
                report.push(format!("  {table} is in the map more than once"));
            }
            if !created.contains_key(*table) {
                report.push(format!(
                    "  {table} (mapped to {context}) is created by no migration"
                ));
            }
        }
    }
    for (table, file) in &created {
        if !seen.contains(table.as_str()) {
            report.push(format!(
                "  {table} (created in {file}) is missing from the map"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "\nThe ownership map in tests/architecture.rs must name every table the migrations \
         create, once:\n{}\n",
        report.join("\n")
    );
}

/// Migrations cannot carry comments after the fact (sqlx checks their checksums), so their
/// ownership notes live in `migrations/OWNERS.md`; keep them true.
#[test]
fn migrations_owners_file_matches_the_map() {
    let owners = owner_by_table();
    let expected: BTreeSet<(String, String, String)> = created_tables()
        .into_iter()
        .filter_map(|(table, file)| {
            let owner = owners.get(table.as_str())?;
            Some((table, (*owner).to_owned(), file))
        })
        .collect();
    let text = fs::read_to_string(crate_dir().join("migrations/OWNERS.md")).expect("OWNERS.md");
    let listed: BTreeSet<(String, String, String)> = text
        .lines()
        .filter_map(|line| {
            let cells: Vec<String> = line
                .trim()
                .strip_prefix('|')?
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            match <[String; 3]>::try_from(cells) {
                Ok([table, owner, file]) if file.ends_with(".sql") => Some((table, owner, file)),
                _ => None,
            }
        })
        .collect();
    let missing: Vec<String> = expected.difference(&listed).map(row).collect();
    let wrong: Vec<String> = listed.difference(&expected).map(row).collect();
    assert!(
        missing.is_empty() && wrong.is_empty(),
        "\nmigrations/OWNERS.md is out of step with the map and the migrations.\n\
         Rows it lacks:\n{}\nRows it should not have:\n{}\n",
        missing.join("\n"),
        wrong.join("\n")
    );
}

fn row((table, owner, file): &(String, String, String)) -> String {
    format!("  | `{table}` | {owner} | {file} |")
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_context(name: &str) -> bool {
    OWNERS.iter().any(|(context, _)| *context == name)
}

fn owner_by_table() -> BTreeMap<&'static str, &'static str> {
    OWNERS
        .iter()
        .flat_map(|(context, tables)| tables.iter().map(move |t| (*t, *context)))
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Table → the migration file that creates it, after the migrations' own drops and
/// renames (SQLite changes a table by rebuilding it under another name).
fn created_tables() -> BTreeMap<String, String> {
    let dir = crate_dir().join("migrations");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("read migrations")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut tables = BTreeMap::new();
    for path in files {
        let file = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let sql: Vec<(char, usize)> = fs::read_to_string(&path)
            .expect("read migration")
            .chars()
            .map(|c| (c, 0))
            .collect();
        let tokens = sql_tokens(&sql);
        let at = |k: usize, kw: &str| tokens.get(k).is_some_and(|t| t.is(kw));
        for k in 0..tokens.len() {
            if at(k, "CREATE") {
                let mut p = k + 1;
                if at(p, "TEMP") || at(p, "TEMPORARY") || at(p, "UNLOGGED") {
                    p += 1;
                }
                if !at(p, "TABLE") {
                    continue;
                }
                p += 1;
                if at(p, "IF") && at(p + 1, "NOT") && at(p + 2, "EXISTS") {
                    p += 3;
                }
                let name = table_name(&tokens, p).map(|(n, _)| n).expect("table name");
                if let Some(earlier) = tables.insert(name.clone(), file.clone()) {
                    panic!("{name} is created in {earlier} and again in {file}");
                }
            } else if at(k, "DROP") && at(k + 1, "TABLE") {
                let p = if at(k + 2, "IF") { k + 4 } else { k + 2 };
                if let Some((name, _)) = table_name(&tokens, p) {
                    tables.remove(&name);
                }
            } else if at(k, "ALTER") && at(k + 1, "TABLE") && at(k + 3, "RENAME") && at(k + 4, "TO")
            {
                let old = table_name(&tokens, k + 2).map(|(n, _)| n);
                let new = table_name(&tokens, k + 5).map(|(n, _)| n);
                if let (Some(old), Some(new)) = (old, new)
                    && let Some(file) = tables.remove(&old)
                {
                    tables.insert(new, file);
                }
            }
        }
    }
    tables
}

/// A table written by a SQL statement in a string literal; `None` when the name is not in
/// the literal (a `{placeholder}` or the end of the string).
#[derive(Debug, PartialEq)]
struct Write {
    table: Option<String>,
    line: usize,
}

/// The tables a Rust source writes: `INSERT [OR ...] INTO t`, `REPLACE INTO t`,
/// `UPDATE [OR ...] [ONLY] t` and `DELETE FROM [ONLY] t`, looked for only inside string
/// literals, so comments, doc comments and identifiers never count.
fn written_tables(source: &str) -> Vec<Write> {
    let mut writes = Vec::new();
    for literal in string_literals(source) {
        let tokens = sql_tokens(&literal);
        let at = |k: usize, kw: &str| tokens.get(k).is_some_and(|t| t.is(kw));
        let mut k = 0;
        while k < tokens.len() {
            let name_at = if at(k, "INSERT") && at(k + 1, "INTO") {
                Some(k + 2)
            } else if at(k, "INSERT") && at(k + 1, "OR") && at(k + 3, "INTO") {
                Some(k + 4)
            } else if at(k, "REPLACE") && at(k + 1, "INTO") {
                Some(k + 2)
            } else if at(k, "DELETE") && at(k + 1, "FROM") {
                Some(if at(k + 2, "ONLY") { k + 3 } else { k + 2 })
            } else if at(k, "UPDATE") {
                // Not a statement after DO (upsert), FOR / NO KEY (row locks), ON (foreign
                // key actions), nor when SET or a lock option follows at once.
                let clause = k > 0 && ["DO", "FOR", "KEY", "ON"].iter().any(|kw| at(k - 1, kw));
                let mut p = k + 1;
                if at(p, "OR") {
                    p += 2;
                }
                if at(p, "ONLY") {
                    p += 1;
                }
                let lock = ["SET", "SKIP", "NOWAIT", "OF"].iter().any(|kw| at(p, kw));
                (!clause && !lock).then_some(p)
            } else {
                None
            };
            match name_at {
                Some(p) => {
                    let (table, line) = match table_name(&tokens, p) {
                        Some((name, line)) => (Some(name), line),
                        None => (None, tokens[k].line),
                    };
                    writes.push(Write { table, line });
                    k = p + 1;
                }
                None => k += 1,
            }
        }
    }
    writes
}

/// The table named at `tokens[p]`: bare or quoted, the schema dropped (`public.t` → `t`).
fn table_name(tokens: &[Token], p: usize) -> Option<(String, usize)> {
    let mut p = p;
    let mut name = tokens.get(p).filter(|t| t.kind != Kind::Other)?;
    while tokens.get(p + 1).is_some_and(|t| t.text == ".")
        && let Some(next) = tokens.get(p + 2).filter(|t| t.kind != Kind::Other)
    {
        name = next;
        p += 2;
    }
    let text = match name.kind {
        Kind::Word => name.text.to_ascii_lowercase(),
        _ => name.text.clone(),
    };
    Some((text, name.line))
}

#[derive(Debug, PartialEq)]
enum Kind {
    /// A keyword or a bare name.
    Word,
    /// A `"quoted"` name: never a keyword.
    Quoted,
    Other,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
}

impl Token {
    fn is(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }
}

/// SQL words, quoted names and single punctuation characters; SQL comments and `'strings'`
/// are skipped, so a string value that reads like a statement does not count.
fn sql_tokens(sql: &[(char, usize)]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| sql.get(i).map(|(c, _)| *c);
    while let Some(c) = at(i) {
        let line = sql[i].1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && at(i + 1) == Some('-') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' {
            let start = i + 1;
            i = start;
            while at(i).is_some_and(|d| d != c) {
                i += 1;
            }
            if c == '"' {
                let text = sql[start..i.min(sql.len())]
                    .iter()
                    .map(|(c, _)| c)
                    .collect();
                tokens.push(Token {
                    kind: Kind::Quoted,
                    text,
                    line,
                });
            }
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                i += 1;
            }
            let text = sql[start..i].iter().map(|(c, _)| c).collect();
            tokens.push(Token {
                kind: Kind::Word,
                text,
                line,
            });
        } else {
            tokens.push(Token {
                kind: Kind::Other,
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// The contents of every string literal in a Rust source (plain, raw, byte and C strings),
/// escapes decoded, each character with its source line. A line continuation (`\` at the end
/// of a line) becomes a space: the scanner must not glue a keyword to the table name.
fn string_literals(source: &str) -> Vec<Vec<(char, usize)>> {
    let src: Vec<char> = source.chars().collect();
    let mut lines = Vec::with_capacity(src.len());
    let mut line = 1;
    for &c in &src {
        lines.push(line);
        if c == '\n' {
            line += 1;
        }
    }
    let at = |i: usize| src.get(i).copied();
    let mut literals = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            // Rust block comments nest.
            let mut depth = 0;
            while let Some(c) = at(i) {
                if c == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if c == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let (literal, end) = cooked_string(&src, &lines, i + 1);
            literals.push(literal);
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '"') or a lifetime / label ('a).
            if at(i + 1) == Some('\\') {
                i += 3;
                while at(i).is_some_and(|c| c != '\'') {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == Some('\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                i += 1;
            }
            let word: String = src[start..i].iter().collect();
            let hashes = src[i..].iter().take_while(|c| **c == '#').count();
            if matches!(word.as_str(), "r" | "br" | "cr") && at(i + hashes) == Some('"') {
                let start = i + hashes + 1;
                let mut end = start;
                while end < src.len()
                    && !(src[end] == '"' && src[end + 1..].iter().take(hashes).all(|c| *c == '#'))
                {
                    end += 1;
                }
                literals.push((start..end).map(|j| (src[j], lines[j])).collect());
                i = end + 1 + hashes;
            } else if matches!(word.as_str(), "b" | "c") && at(i) == Some('"') {
                let (literal, end) = cooked_string(&src, &lines, i + 1);
                literals.push(literal);
                i = end;
            }
            // Otherwise an identifier, keyword or number (`b'x'` goes on as a char literal).
        } else {
            i += 1;
        }
    }
    literals
}

/// A `"..."` literal from just after its opening quote: its decoded characters and the
/// index just after its closing quote.
fn cooked_string(src: &[char], lines: &[usize], mut i: usize) -> (Vec<(char, usize)>, usize) {
    let mut out = Vec::new();
    while let Some(&c) = src.get(i) {
        let line = lines[i];
        match c {
            '"' => return (out, i + 1),
            '\\' => {
                let escaped = src.get(i + 1).copied().unwrap_or('\\');
                i += 2;
                let decoded = match escaped {
                    '\n' | '\r' => {
                        while src.get(i).is_some_and(|c| c.is_whitespace()) {
                            i += 1;
                        }
                        ' '
                    }
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '0' => '\0',
                    'x' => {
                        let hex: String = src[i..(i + 2).min(src.len())].iter().collect();
                        i += 2;
                        u8::from_str_radix(&hex, 16).map_or('?', char::from)
                    }
                    'u' => {
                        let start = i + 1;
                        while src.get(i).is_some_and(|c| *c != '}') {
                            i += 1;
                        }
                        let hex: String = src[start.min(i)..i].iter().collect();
                        i += 1;
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('?')
                    }
                    other => other,
                };
                out.push((decoded, line));
            }
            _ => {
                out.push((c, line));
                i += 1;
            }
        }
    }
    (out, i)
}

fn tables_in(source: &str) -> Vec<String> {
    written_tables(source)
        .into_iter()
        .map(|w| w.table.unwrap_or_else(|| "?".to_owned()))
        .collect()
}

#[test]
fn scanner_ignores_upserts_and_row_locks() {
    let source = r#"
        sqlx::query("INSERT INTO gate_versions (organization_id, version) VALUES ($1, 1) \
                     ON CONFLICT (organization_id) DO UPDATE SET version = 2");
        let lock = " FOR UPDATE SKIP LOCKED";
        let sql = format!("SELECT id FROM refunds WHERE status = 'queued'{lock}");
        let also = "SELECT 1 FROM orders FOR NO KEY UPDATE OF orders";
    "#;
    assert_eq!(tables_in(source), ["gate_versions"]);
    assert_eq!(
        tables_in(r#""ON CONFLICT (id) DO UPDATE SET x = 1""#),
        Vec::<String>::new()
    );
}

#[test]
fn scanner_reads_statements_across_lines_and_continuations() {
    // A `\` line continuation and a `\n` escape between the keyword and the name.
    assert_eq!(
        tables_in("\"UPDATE\\\n      tickets SET used_at = $1\""),
        ["tickets"]
    );
    assert_eq!(tables_in("\"UPDATE\\n  tickets SET\""), ["tickets"]);
    let source =
        "let _ = 1;\nquery(\"delete\n   from\n  ONLY public.\\\"holds\\\" WHERE id = $1\")";
    assert_eq!(
        written_tables(source),
        [Write {
            table: Some("holds".to_owned()),
            line: 4
        }]
    );
    assert_eq!(
        tables_in(r##"r#"insert or ignore into "Seats" (id)"#"##),
        ["Seats"]
    );
    assert_eq!(
        tables_in(r#""REPLACE INTO outbox VALUES ($1)""#),
        ["outbox"]
    );
}

#[test]
fn scanner_skips_comments_identifiers_and_sql_values() {
    let source = r#"
        // UPDATE tickets SET used_at = now()
        /* DELETE FROM orders /* nested */ INSERT INTO carts */
        /// Consuming one is a single conditional UPDATE tickets.
        let update_orders = updated_at; // DELETE FROM x
        let quote = '"'; let label = 'outer: loop {};
        let note = "SELECT 'UPDATE tickets SET x' FROM events -- DELETE FROM seats";
        sqlx::query("INSERT INTO points_ledger (id) VALUES ($1)");
    "#;
    assert_eq!(tables_in(source), ["points_ledger"]);
}

#[test]
fn scanner_reports_table_names_it_cannot_read() {
    assert_eq!(tables_in(r#"format!("UPDATE {table} SET x = 1")"#), ["?"]);
    assert_eq!(tables_in(r#"concat!("DELETE FROM ", "holds")"#), ["?"]);
}
