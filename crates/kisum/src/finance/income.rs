//! Income: money the company received. Income with a `sourceRef` (a ticketing settlement
//! pushed by Nextkt, a venue deposit) is recorded once per company: the same push again is a
//! replay that answers the row already recorded (200), a different one under the same
//! reference is a conflict (409), and two pushes at once make one row.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit;
use super::{amount, date, reference};
use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::list::List;
use crate::platform::pagination::PageParams;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

pub const SOURCES: [&str; 5] = [
    "manual",
    "ticketing_settlement",
    "venue_deposit",
    "sponsorship",
    "other",
];

/// Sources that are pushed by another system and must carry their reference.
const PUSHED: [&str; 2] = ["ticketing_settlement", "venue_deposit"];

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct IncomeRow {
    pub id: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub currency: String,
    pub amount: i64,
    pub received_on: String,
    pub event_ref: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Income {
    pub id: String,
    /// `manual`, `ticketing_settlement`, `venue_deposit`, `sponsorship` or `other`.
    pub source: String,
    pub source_ref: Option<String>,
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    pub received_on: String,
    pub event_ref: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
}

impl From<IncomeRow> for Income {
    fn from(row: IncomeRow) -> Self {
        Income {
            id: row.id,
            source: row.source,
            source_ref: row.source_ref,
            currency: row.currency,
            amount: row.amount,
            received_on: row.received_on,
            event_ref: row.event_ref,
            description: row.description,
            created_by: row.created_by,
            created_at: rfc3339(row.created_at),
        }
    }
}

const COLUMNS: &str = "id, source, source_ref, currency, amount, received_on, event_ref, \
    description, created_by, created_at";

pub async fn find(
    conn: &mut sqlx::AnyConnection,
    company: &CompanyId,
    id: &str,
) -> Result<Option<IncomeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_income WHERE company_id = $1 AND id = $2"
    )))
    .bind(company.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

async fn by_ref(
    conn: &mut sqlx::AnyConnection,
    company: &CompanyId,
    source_ref: &str,
) -> Result<Option<IncomeRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_income WHERE company_id = $1 AND source_ref = $2"
    )))
    .bind(company.as_str())
    .bind(source_ref)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewIncome {
    pub source: String,
    /// Unique per company; required for `ticketing_settlement` and `venue_deposit`.
    pub source_ref: Option<String>,
    pub currency: String,
    pub amount: i64,
    /// `YYYY-MM-DD`.
    pub received_on: String,
    pub event_ref: Option<String>,
    pub description: Option<String>,
}

struct Checked {
    source: String,
    source_ref: Option<String>,
    currency: String,
    amount: i64,
    received_on: String,
    event_ref: Option<String>,
    description: String,
}

impl Checked {
    /// Whether a stored row records this same income (a replay).
    fn same_as(&self, row: &IncomeRow) -> bool {
        row.source == self.source
            && row.currency == self.currency
            && row.amount == self.amount
            && row.received_on == self.received_on
            && row.event_ref == self.event_ref
    }
}

fn check(body: &NewIncome) -> ApiResult<Checked> {
    let source = SOURCES
        .iter()
        .find(|s| **s == body.source)
        .ok_or_else(|| {
            ApiError::invalid(
                "source",
                format!("source must be one of {}", SOURCES.join(", ")),
            )
        })?
        .to_string();
    let source_ref = reference("sourceRef", body.source_ref.as_deref())?;
    if PUSHED.contains(&source.as_str()) && source_ref.is_none() {
        return Err(ApiError::invalid(
            "sourceRef",
            format!("{source} income needs its sourceRef"),
        ));
    }
    Ok(Checked {
        source,
        source_ref,
        currency: validate::currency("currency", &body.currency)?,
        amount: amount("amount", body.amount, false)?,
        received_on: date("receivedOn", &body.received_on)?,
        event_ref: reference("eventRef", body.event_ref.as_deref())?,
        description: validate::opt_text("description", body.description.as_deref(), 2000)?
            .unwrap_or_default(),
    })
}

fn replayed(row: IncomeRow) -> Response {
    let mut response = (StatusCode::OK, ApiJson(Income::from(row))).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

fn ref_conflict() -> ApiError {
    ApiError::conflict(
        "source_ref_conflict",
        "income with this sourceRef is recorded with other figures",
    )
}

/// Records income. With a `sourceRef` seen before: the same figures answer the recorded
/// row (200, `Idempotent-Replayed: true`); other figures answer 409.
#[utoipa::path(post, path = "/finance/income", tag = "finance", request_body = NewIncome,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Income), (status = 200, description = "A replay of income already recorded", body = Income),
        (status = 400, body = Problem), (status = 409, description = "`source_ref_conflict`", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewIncome>,
) -> ApiResult<Response> {
    member.require("finance.income.create")?;
    let c = check(&body)?;
    let now = state.clock.now_ms();
    let actor = audit::actor(&member);
    let company = &member.company_id;
    let mut tx = state.db.begin().await?;
    if let Some(source_ref) = &c.source_ref
        && let Some(row) = by_ref(&mut tx, company, source_ref).await?
    {
        return if c.same_as(&row) {
            Ok(replayed(row))
        } else {
            Err(ref_conflict())
        };
    }
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO finance_income (id, company_id, source, source_ref, currency, amount, \
         received_on, event_ref, description, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&id)
    .bind(company.as_str())
    .bind(&c.source)
    .bind(&c.source_ref)
    .bind(&c.currency)
    .bind(c.amount)
    .bind(&c.received_on)
    .bind(&c.event_ref)
    .bind(&c.description)
    .bind(&actor)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            // Another request recorded it between our read and insert: answer as a replay.
            drop(tx);
            let mut conn = state.db.pool.acquire().await?;
            let source_ref = c.source_ref.as_deref().unwrap_or_default();
            let row = by_ref(&mut conn, company, source_ref)
                .await?
                .ok_or_else(ref_conflict)?;
            return if c.same_as(&row) {
                Ok(replayed(row))
            } else {
                Err(ref_conflict())
            };
        }
        other => other?,
    };
    let row = find(&mut tx, company, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("income"))?;
    audit::changed(
        &mut tx,
        &member,
        "income.created",
        ("income", &id),
        None,
        Some(&row),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(Income::from(row))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct IncomeFilter {
    pub source: Option<String>,
    pub event_ref: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The company's income, newest first, filtered by source or event.
#[utoipa::path(get, path = "/finance/income", tag = "finance", params(IncomeFilter, ("x-org" = String, Header)),
    responses((status = 200, body = List<Income>), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(filter): ApiQuery<IncomeFilter>,
) -> ApiResult<ApiJson<List<Income>>> {
    member.require("finance.income.read")?;
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .parse()?;
    let rows: Vec<IncomeRow> = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM finance_income WHERE company_id = $1 AND ($2 = '' OR id < $2) \
         AND ($3 = '' OR source = $3) AND ($4 = '' OR event_ref = $4) ORDER BY id DESC LIMIT $5"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(filter.source.unwrap_or_default())
    .bind(filter.event_ref.unwrap_or_default())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| r.id.as_str())
            .map(Income::from)
            .into(),
    ))
}

/// One income row.
#[utoipa::path(get, path = "/finance/income/{id}", tag = "finance", params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Income), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Income>> {
    member.require("finance.income.read")?;
    let mut conn = state.db.pool.acquire().await?;
    let row = find(&mut conn, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("income"))?;
    Ok(ApiJson(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncomeChange {
    pub description: Option<String>,
    pub event_ref: Option<String>,
    /// Manual income only: pushed income keeps the figures its source sent.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub received_on: Option<String>,
}

/// Changes income: its description and event always; its figures only when it was
/// entered by hand (`income_locked` otherwise).
#[utoipa::path(patch, path = "/finance/income/{id}", tag = "finance", request_body = IncomeChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Income), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`income_locked`", body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IncomeChange>,
) -> ApiResult<ApiJson<Income>> {
    member.require("finance.income.update")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let before: IncomeRow = sqlx::query_as(state.db.sql(format!(
        "SELECT {COLUMNS} FROM finance_income WHERE company_id = $1 AND id = $2{}",
        state.db.for_update()
    )))
    .bind(member.company_id.as_str())
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("income"))?;
    let touches_figures =
        body.amount.is_some() || body.currency.is_some() || body.received_on.is_some();
    if touches_figures && before.source != "manual" {
        return Err(ApiError::conflict(
            "income_locked",
            format!("{} income keeps the figures its source sent", before.source),
        ));
    }
    let amount = match body.amount {
        Some(a) => amount("amount", a, false)?,
        None => before.amount,
    };
    let currency = match &body.currency {
        Some(c) => validate::currency("currency", c)?,
        None => before.currency.clone(),
    };
    let received_on = match &body.received_on {
        Some(d) => date("receivedOn", d)?,
        None => before.received_on.clone(),
    };
    let event_ref = match &body.event_ref {
        Some(e) => reference("eventRef", Some(e))?,
        None => before.event_ref.clone(),
    };
    let description = match &body.description {
        Some(d) => validate::opt_text("description", Some(d), 2000)?.unwrap_or_default(),
        None => before.description.clone(),
    };
    sqlx::query(
        "UPDATE finance_income SET amount = $3, currency = $4, received_on = $5, event_ref = $6, \
         description = $7, updated_at = $8 WHERE company_id = $1 AND id = $2",
    )
    .bind(member.company_id.as_str())
    .bind(&id)
    .bind(amount)
    .bind(&currency)
    .bind(&received_on)
    .bind(&event_ref)
    .bind(&description)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let after = find(&mut tx, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("income"))?;
    audit::changed(
        &mut tx,
        &member,
        "income.updated",
        ("income", &id),
        Some(&before),
        Some(&after),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(after.into()))
}
