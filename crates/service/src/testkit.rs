//! What every service's integration tests share: a fresh database on each engine (a new
//! SQLite file, or a new PostgreSQL database under the server named by an environment
//! variable, dropped afterwards), a macro that runs a test on both, and problem+json
//! assertions on answers.

use serde_json::Value;
use sqlx::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test body once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`; `spawn` turns a `Backend` into the test's argument (a running server).
///
/// ```ignore
/// service::on_both_databases_with!(crate::helpers::spawn_app; creates_a_company, ...);
/// ```
#[macro_export]
macro_rules! on_both_databases_with {
    ($spawn:path; $($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($spawn($crate::testkit::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test($spawn($crate::testkit::Backend::Postgres).await).await
            }
        }
    )*};
}

/// A database that exists for one test.
pub enum TestDatabase {
    // Held so the directory lives as long as the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop is synchronous; use a private runtime on a plain thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// The PostgreSQL server tests use, from `env_var`. Fails loudly (never skips) when it is
/// not configured.
pub fn postgres_admin_url(env_var: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| {
        panic!(
            "{env_var} must name a PostgreSQL database the tests can create databases from \
             (scripts/test sets it; see the README)"
        )
    })
}

/// A new, empty database: `(url, guard)`; the database goes when the guard is dropped.
/// `prefix` names the service (`nextkt` → `nextkt.db`, `nextkt_test_<uuid>`); `env_var`
/// names the PostgreSQL server to create it on.
pub async fn fresh_database(
    backend: Backend,
    prefix: &str,
    env_var: &str,
) -> (String, TestDatabase) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{prefix}.db")).display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url(env_var);
            let name = format!("{prefix}_test_{}", uuid::Uuid::now_v7().simple());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {env_var} is unreachable: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&admin_url);
            let url = format!("{base}/{name}");
            (url, TestDatabase::Postgres { admin_url, name })
        }
    }
}

/// An HTTP answer as tests see it: status, headers, and the body as JSON (or as a JSON
/// string when it is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub async fn from(response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    /// The problem's `code`, or "" when there is none.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        self.body
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "problems are problem+json"
        );
        assert_eq!(self.code(), code, "unexpected problem: {:#}", self.body);
        self.body
    }
}
