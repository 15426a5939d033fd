//! Vendors: who bills the company.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit;
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

#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct VendorRow {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub tax_id: Option<String>,
    pub archived: i64,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub tax_id: Option<String>,
    pub archived: bool,
    pub created_at: String,
}

impl From<VendorRow> for Vendor {
    fn from(row: VendorRow) -> Self {
        Vendor {
            id: row.id,
            name: row.name,
            email: row.email,
            tax_id: row.tax_id,
            archived: row.archived != 0,
            created_at: rfc3339(row.created_at),
        }
    }
}

const COLUMNS: &str = "id, name, email, tax_id, archived, created_at";

pub async fn find(
    conn: &mut sqlx::AnyConnection,
    company: &CompanyId,
    id: &str,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_vendors WHERE company_id = $1 AND id = $2"
    )))
    .bind(company.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewVendor {
    pub name: String,
    pub email: Option<String>,
    pub tax_id: Option<String>,
}

fn taken() -> ApiError {
    ApiError::conflict("vendor_exists", "the company has a vendor of this name")
}

/// Adds a vendor.
#[utoipa::path(post, path = "/finance/vendors", tag = "finance", request_body = NewVendor,
    params(("x-org" = String, Header)),
    responses((status = 201, body = Vendor), (status = 400, body = Problem), (status = 409, description = "`vendor_exists`", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<NewVendor>,
) -> ApiResult<(StatusCode, ApiJson<Vendor>)> {
    member.require("finance.vendors.manage")?;
    let name = validate::text("name", &body.name, 200)?;
    let email = body
        .email
        .as_deref()
        .map(|e| validate::email("email", e))
        .transpose()?;
    let tax_id = validate::opt_text("taxId", body.tax_id.as_deref(), 64)?;
    let now = state.clock.now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO finance_vendors (id, company_id, name, email, tax_id, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(&id)
    .bind(member.company_id.as_str())
    .bind(&name)
    .bind(&email)
    .bind(&tax_id)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => return Err(taken()),
        other => other?,
    };
    let row = find(&mut tx, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor"))?;
    audit::changed(
        &mut tx,
        &member,
        "vendor.created",
        ("vendor", &id),
        None,
        Some(&row),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

/// The company's vendors, by name.
#[utoipa::path(get, path = "/finance/vendors", tag = "finance", params(PageParams, ("x-org" = String, Header)),
    responses((status = 200, body = List<Vendor>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<List<Vendor>>> {
    member.require("finance.vendors.read")?;
    let page = page.parse()?;
    let rows: Vec<VendorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM finance_vendors WHERE company_id = $1 AND ($2 = '' OR id > $2) \
         ORDER BY id LIMIT $3"
    )))
    .bind(member.company_id.as_str())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| r.id.as_str())
            .map(Vendor::from)
            .into(),
    ))
}

/// One vendor.
#[utoipa::path(get, path = "/finance/vendors/{id}", tag = "finance", params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Vendor), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<Vendor>> {
    member.require("finance.vendors.read")?;
    let mut conn = state.db.pool.acquire().await?;
    let row = find(&mut conn, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor"))?;
    Ok(ApiJson(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VendorChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub tax_id: Option<String>,
    /// Archived vendors take no new bills; their bills stay.
    pub archived: Option<bool>,
}

/// Changes a vendor.
#[utoipa::path(patch, path = "/finance/vendors/{id}", tag = "finance", request_body = VendorChange,
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = Vendor), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VendorChange>,
) -> ApiResult<ApiJson<Vendor>> {
    member.require("finance.vendors.manage")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let before = sqlx::query_as::<_, VendorRow>(state.db.sql(format!(
        "SELECT {COLUMNS} FROM finance_vendors WHERE company_id = $1 AND id = $2{}",
        state.db.for_update()
    )))
    .bind(member.company_id.as_str())
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("vendor"))?;
    let name = match &body.name {
        Some(n) => validate::text("name", n, 200)?,
        None => before.name.clone(),
    };
    let email = match &body.email {
        Some(e) if e.is_empty() => None,
        Some(e) => Some(validate::email("email", e)?),
        None => before.email.clone(),
    };
    let tax_id = match &body.tax_id {
        Some(t) => validate::opt_text("taxId", Some(t), 64)?,
        None => before.tax_id.clone(),
    };
    let archived = body.archived.map(i64::from).unwrap_or(before.archived);
    let updated = sqlx::query(
        "UPDATE finance_vendors SET name = $3, email = $4, tax_id = $5, archived = $6, updated_at = $7 \
         WHERE company_id = $1 AND id = $2",
    )
    .bind(member.company_id.as_str())
    .bind(&id)
    .bind(&name)
    .bind(&email)
    .bind(&tax_id)
    .bind(archived)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match updated {
        Err(err) if is_unique_violation(&err) => return Err(taken()),
        other => other?,
    };
    let after = find(&mut tx, &member.company_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("vendor"))?;
    audit::changed(
        &mut tx,
        &member,
        "vendor.updated",
        ("vendor", &id),
        Some(&before),
        Some(&after),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(after.into()))
}
