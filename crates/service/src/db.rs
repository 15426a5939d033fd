//! The database: SQLite (embedded, the zero-configuration default) or PostgreSQL, chosen by
//! the URL's scheme and reached through sqlx's `Any` driver so each query is written once.
//! Queries are written with `$1` placeholders, which both engines accept; where the dialects
//! differ the store code asks `Db::dialect`.
//!
//! SQLite reads `$1` as a *named* parameter and finds each name by a linear search, so a
//! statement with hundreds of them (a multi-row insert) costs quadratic time to prepare and
//! bind. Statements built at run time therefore go through `Dialect::sql`, which writes
//! `?1` (SQLite's numbered form, looked up by number) there; short fixed statements keep
//! `$1` and are prepared once per connection.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub type Tx = Transaction<'static, Any>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// The dialect of an open connection, for store functions handed only a transaction.
    pub fn of(conn: &sqlx::AnyConnection) -> Dialect {
        if conn.backend_name() == "SQLite" {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// A statement built at run time, ready for `sqlx::query`: on SQLite every `$N`
    /// placeholder becomes `?N` (see the module's note); PostgreSQL takes it as written.
    pub fn sql(self, sql: String) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(match self {
            Dialect::Postgres => sql,
            Dialect::Sqlite => numbered_placeholders(&sql),
        })
    }
}

/// `$N` → `?N` outside quoted text (`'…'` literals and `"…"` identifiers); and when the
/// placeholders run `$1, $2, …, $n` in order, each once (a multi-row insert), plain `?`:
/// SQLite then keeps no parameter names at all, so binding needs no lookups either.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_order = true;
    let mut seen = 0u64;
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                let mut number = 0u64;
                while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
                    number = number.saturating_mul(10).saturating_add(u64::from(digit));
                    out.push(chars.next().unwrap_or_default());
                }
                in_order &= number == seen + 1;
                seen = number;
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    if in_order && seen > 0 {
        anonymous(&out)
    } else {
        out
    }
}

/// `?N` → `?` outside quoted text (the caller checked that they run 1, 2, … in order).
fn anonymous(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('?');
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
}

/// The dialect a URL names, or a clear error; a typo never creates a stray database file.
pub fn dialect_of(url: &str) -> anyhow::Result<Dialect> {
    if url.starts_with("sqlite:") {
        Ok(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Dialect::Postgres)
    } else {
        anyhow::bail!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
            redact(url)
        )
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = dialect_of(url)?;
        let url = match dialect {
            // Create the file on first start; keep the caller's options otherwise.
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("parsing database URL {}", redact(&url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // Keep the whole pool open: a burst must not wait for connections to be made.
            .min_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run beside the writer; busy_timeout makes writers
                        // queue instead of failing; FULL syncs every commit, so an answered
                        // request survives a power cut too (batching keeps that affordable).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redact(&url)))?;
        Ok(Db { pool, dialect })
    }

    /// Applies the service's migrations (each service embeds its own with `sqlx::migrate!`).
    pub async fn migrate(&self, migrator: &sqlx::migrate::Migrator) -> anyhow::Result<()> {
        migrator
            .run(&self.pool)
            .await
            .context("applying database migrations")
    }

    /// Opens every pooled connection now, so the first burst of traffic does not pay for it.
    pub async fn warm_up(&self) {
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            match self.pool.acquire().await {
                Ok(conn) => held.push(conn),
                Err(err) => {
                    tracing::warn!(error = %err, "warming the database pool");
                    break;
                }
            }
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it queues behind other writers instead of failing when it
    /// upgrades from reading to writing.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// Row locking for a read that precedes a write in the same transaction. PostgreSQL
    /// needs `FOR UPDATE`; SQLite's write transactions already exclude each other.
    pub fn for_update(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// Row locking for a read that must not change before the transaction ends, while
    /// letting other readers lock it too (PostgreSQL's `FOR SHARE`).
    pub fn for_share(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " FOR SHARE",
            Dialect::Sqlite => "",
        }
    }

    /// See `Dialect::sql`.
    pub fn sql(&self, sql: String) -> sqlx::AssertSqlSafe<String> {
        self.dialect.sql(sql)
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// `$start, $start+1, ...`: `count` numbered placeholders, for `IN (...)` lists.
pub fn placeholder_list(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4), ...`: `rows` tuples of `cols` placeholders, for multi-row inserts.
pub fn placeholder_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholder_list(row * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_gets_numbered_placeholders() {
        let sql = "SELECT a FROM t WHERE b = $2 AND c IN ($1, $3) AND d <> '$4 is text'";
        assert_eq!(
            Dialect::Sqlite.sql(sql.to_string()).0,
            "SELECT a FROM t WHERE b = ?2 AND c IN (?1, ?3) AND d <> '$4 is text'"
        );
        assert_eq!(Dialect::Postgres.sql(sql.to_string()).0, sql);
        // A placeholder used twice keeps its number.
        assert_eq!(
            Dialect::Sqlite.sql("a = $1 AND b = $1 AND c = $".into()).0,
            "a = ?1 AND b = ?1 AND c = $"
        );
    }

    #[test]
    fn placeholders_in_order_become_anonymous_on_sqlite() {
        let sql = format!("INSERT INTO t (a, b) VALUES {}", placeholder_rows(6, 2));
        assert_eq!(
            Dialect::Sqlite.sql(sql.clone()).0,
            format!("INSERT INTO t (a, b) VALUES {}", ["(?, ?)"; 6].join(", "))
        );
        assert_eq!(
            Dialect::Sqlite
                .sql("VALUES ($1, '?2', $2, \"x?\")".into())
                .0,
            "VALUES (?, '?2', ?, \"x?\")"
        );
        assert_eq!(Dialect::Postgres.sql(sql.clone()).0, sql);
    }

    #[tokio::test]
    async fn sqlite_binds_rewritten_statements_in_the_right_places() {
        let db = Db::connect("sqlite::memory:", 1).await.unwrap();
        for sql in [
            "SELECT $1 || '-' || $2 || '-' || $3",
            "SELECT $3 || '-' || $1 || '-' || $2",
            "SELECT $1 || '-' || $2 || '-' || $3 || '-' || $1",
        ] {
            let got: String = sqlx::query_scalar(db.sql(sql.to_string()))
                .bind("a")
                .bind("b")
                .bind("c")
                .fetch_one(&db.pool)
                .await
                .unwrap();
            let want = sql
                .replace("SELECT ", "")
                .replace(" || '-' || ", "-")
                .replace("$1", "a")
                .replace("$2", "b")
                .replace("$3", "c");
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn placeholders() {
        assert_eq!(super::placeholder_list(2, 3), "$2, $3, $4");
        assert_eq!(super::placeholder_rows(2, 2), "($1, $2), ($3, $4)");
    }

    use super::*;

    #[test]
    fn dialect_comes_from_the_scheme() {
        assert_eq!(dialect_of("sqlite://nextkt.db").unwrap(), Dialect::Sqlite);
        assert_eq!(dialect_of("postgres://u@h/db").unwrap(), Dialect::Postgres);
        assert_eq!(
            dialect_of("postgresql://u@h/db").unwrap(),
            Dialect::Postgres
        );
        assert!(dialect_of("mysql://u@h/db").is_err());
        assert!(dialect_of("nextkt.db").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
