//! Companies: Kisum's tenants. Core holds their commercial identity; `hadTrial` is the
//! lifetime "this company has used its free trial" flag.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::ids::CompanyId;
use crate::platform::clock::{Millis, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::is_valid_external_id;
use crate::platform::internal_key::InternalCaller;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

pub const DEFAULT_CURRENCY: &str = "IDR";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: CompanyId,
    pub name: String,
    pub currency: String,
    pub had_trial: i64,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    #[schema(value_type = String)]
    pub id: CompanyId,
    pub name: String,
    /// ISO 4217 code reports are converted to.
    pub currency: String,
    /// Whether the company has ever had a trial row (never cleared).
    pub had_trial: bool,
    pub created_at: String,
}

impl From<CompanyRow> for Company {
    fn from(row: CompanyRow) -> Self {
        Company {
            id: row.id,
            name: row.name,
            currency: row.currency,
            had_trial: row.had_trial != 0,
            created_at: rfc3339(row.created_at),
        }
    }
}

// ---- Store ----

const COLUMNS: &str = "id, name, currency, had_trial, created_at";

pub async fn find(
    conn: &mut AnyConnection,
    id: &CompanyId,
) -> Result<Option<CompanyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM companies WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
}

/// The company, locked for the rest of the transaction: every change of what it owns
/// takes this lock first, so its changes (and its version) go one at a time.
pub async fn lock(db: &Db, tx: &mut Tx, id: &CompanyId) -> ApiResult<CompanyRow> {
    sqlx::query_as(db.sql(format!(
        "SELECT {COLUMNS} FROM companies WHERE id = $1{}",
        db.for_update()
    )))
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("company"))
}

pub async fn mark_had_trial(tx: &mut Tx, id: &CompanyId, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE companies SET had_trial = 1, updated_at = $2 WHERE id = $1")
        .bind(id.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub struct NewCompany<'a> {
    pub id: &'a CompanyId,
    pub name: &'a str,
    pub currency: &'a str,
    /// `checkout` (self-serve signup) or `admin`.
    pub source: &'a str,
}

/// Inserts the company and its entitlement version (0: it owns nothing yet).
pub async fn insert(tx: &mut Tx, new: NewCompany<'_>, now: Millis) -> ApiResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO companies (id, name, currency, had_trial, source, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $5)",
    )
    .bind(new.id.as_str())
    .bind(new.name)
    .bind(new.currency)
    .bind(new.source)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "company_exists",
                "a company with this id exists",
            ));
        }
        other => other?,
    };
    sqlx::query(
        "INSERT INTO company_entitlement_versions (company_id, version, updated_at) \
         VALUES ($1, 0, $2)",
    )
    .bind(new.id.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ---- Service ----

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCompany {
    pub name: String,
    /// Choose the id (letters, digits, `-`, `_`, `.`; at most 64); a UUIDv7 otherwise.
    pub id: Option<String>,
    /// ISO 4217; default IDR.
    pub currency: Option<String>,
}

/// Checks a new company's fields; `(id, name, currency)`.
pub fn check_new(body: &CreateCompany) -> ApiResult<(CompanyId, String, String)> {
    let name = validate::text("name", &body.name, 200)?;
    let id = match body.id.as_deref() {
        Some(id) if !is_valid_external_id(id) => {
            return Err(ApiError::invalid(
                "id",
                "id must be 1-64 letters, digits, '-', '_' or '.'",
            ));
        }
        Some(id) => CompanyId::from(id),
        None => CompanyId::generate(),
    };
    let currency = match body.currency.as_deref() {
        Some(c) => validate::currency("currency", c)?,
        None => DEFAULT_CURRENCY.to_string(),
    };
    Ok((id, name, currency))
}

// ---- Handlers ----

/// Creates a company (platform staff or provisioning). It owns nothing until a base
/// subscription is set.
#[utoipa::path(post, path = "/internal/companies", tag = "companies", request_body = CreateCompany,
    responses((status = 201, body = Company), (status = 400, body = Problem), (status = 409, description = "`company_exists`", body = Problem)),
    security(("internal_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    _caller: InternalCaller,
    ApiJson(body): ApiJson<CreateCompany>,
) -> ApiResult<(StatusCode, ApiJson<Company>)> {
    let (id, name, currency) = check_new(&body)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    insert(
        &mut tx,
        NewCompany {
            id: &id,
            name: &name,
            currency: &currency,
            source: "admin",
        },
        now,
    )
    .await?;
    let row = find(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

/// Companies, oldest first (cursor pagination).
#[utoipa::path(get, path = "/internal/companies", tag = "companies", params(PageParams),
    responses((status = 200, body = List<Company>)), security(("internal_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _caller: InternalCaller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<Company>>> {
    let page = page.parse()?;
    let rows: Vec<CompanyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM companies WHERE ($1 = '' OR id > $1) ORDER BY id LIMIT $2"
    )))
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| r.id.as_str())
            .map(Company::from)
            .into(),
    ))
}

/// One company.
#[utoipa::path(get, path = "/internal/companies/{id}", tag = "companies",
    params(("id" = String, Path)),
    responses((status = 200, body = Company), (status = 404, body = Problem)), security(("internal_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<CompanyId>,
) -> ApiResult<ApiJson<Company>> {
    let mut conn = state.db.pool.acquire().await?;
    let row = find(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    Ok(ApiJson(row.into()))
}
