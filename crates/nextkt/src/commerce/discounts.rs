//! Discount codes: a percentage or a fixed amount off, limited to events or ticket types,
//! within a validity window, up to a number of uses in all and per buyer, from a minimum
//! quantity. Checked when a buyer applies a code to a cart and again whenever the cart is
//! priced; uses are counted when an order is paid.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pricing::{BPS, DiscountRule};
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, placeholder_list};
use crate::platform::error::{ApiError, ApiResult, Problem, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::pagination::{Page, PageParams};
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// `value` is basis points off each eligible line (1,000 = 10 %).
    Percent,
    /// `value` is an amount off the order in minor units of `currency`.
    Fixed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DiscountRow {
    pub id: String,
    pub organization_id: String,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub currency: Option<String>,
    pub event_ids_json: String,
    pub ticket_type_ids_json: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub max_uses_per_buyer: Option<i64>,
    pub min_quantity: i64,
    pub uses: i64,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

const COLUMNS: &str = "id, organization_id, code, kind, value, currency, event_ids_json, \
    ticket_type_ids_json, starts_at, ends_at, max_uses, max_uses_per_buyer, min_quantity, uses, \
    created_at, disabled_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct Discount {
    pub id: String,
    pub code: String,
    pub kind: DiscountKind,
    pub value: i64,
    pub currency: Option<String>,
    /// Only these events (all when empty).
    pub event_ids: Vec<String>,
    /// Only these ticket types (all when empty).
    pub ticket_type_ids: Vec<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub max_uses: Option<i64>,
    pub max_uses_per_buyer: Option<i64>,
    /// Eligible tickets the cart must hold.
    pub min_quantity: i64,
    /// Paid orders that used the code.
    pub uses: i64,
    pub active: bool,
    pub created_at: String,
}

impl DiscountRow {
    pub fn kind(&self) -> DiscountKind {
        if self.kind == "fixed" {
            DiscountKind::Fixed
        } else {
            DiscountKind::Percent
        }
    }

    pub fn event_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.event_ids_json).unwrap_or_default()
    }

    pub fn ticket_type_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.ticket_type_ids_json).unwrap_or_default()
    }

    pub fn rule(&self) -> DiscountRule {
        match self.kind() {
            DiscountKind::Percent => DiscountRule::Percent { bps: self.value },
            DiscountKind::Fixed => DiscountRule::Fixed { amount: self.value },
        }
    }

    fn into_api(self) -> Discount {
        Discount {
            kind: self.kind(),
            event_ids: self.event_ids(),
            ticket_type_ids: self.ticket_type_ids(),
            active: self.disabled_at.is_none(),
            id: self.id,
            code: self.code,
            value: self.value,
            currency: self.currency,
            starts_at: opt_rfc3339(self.starts_at),
            ends_at: opt_rfc3339(self.ends_at),
            max_uses: self.max_uses,
            max_uses_per_buyer: self.max_uses_per_buyer,
            min_quantity: self.min_quantity,
            uses: self.uses,
            created_at: rfc3339(self.created_at),
        }
    }
}

/// A cart line as the discount rules see it.
pub struct CartLine<'a> {
    pub event_id: &'a str,
    pub ticket_type_id: &'a str,
    pub currency: &'a str,
    pub quantity: i64,
}

/// Which lines the code covers, or why it does not apply (422 `discount_not_applicable`).
pub fn eligible_lines(
    discount: &DiscountRow,
    lines: &[CartLine<'_>],
    now: Millis,
) -> ApiResult<Vec<bool>> {
    let refuse = |why: &str| Err(ApiError::rule("discount_not_applicable", why.to_string()));
    if discount.disabled_at.is_some() {
        return refuse("this code is no longer valid");
    }
    if discount.starts_at.is_some_and(|at| now < at) {
        return refuse("this code is not valid yet");
    }
    if discount.ends_at.is_some_and(|at| now >= at) {
        return refuse("this code has expired");
    }
    if discount.max_uses.is_some_and(|max| discount.uses >= max) {
        return refuse("this code has been used up");
    }
    let events = discount.event_ids();
    let types = discount.ticket_type_ids();
    let mask: Vec<bool> = lines
        .iter()
        .map(|l| {
            (events.is_empty() || events.iter().any(|e| e == l.event_id))
                && (types.is_empty() || types.iter().any(|t| t == l.ticket_type_id))
                && (discount.kind() == DiscountKind::Percent
                    || discount.currency.as_deref() == Some(l.currency))
        })
        .collect();
    let quantity: i64 = lines
        .iter()
        .zip(&mask)
        .filter(|(_, m)| **m)
        .map(|(l, _)| l.quantity)
        .sum();
    if quantity == 0 {
        return refuse("this code does not apply to anything in the cart");
    }
    if quantity < discount.min_quantity {
        return refuse(&format!(
            "this code needs at least {} eligible tickets",
            discount.min_quantity
        ));
    }
    Ok(mask)
}

/// The normalised form codes are matched by (any letter case).
pub fn code_key(code: &str) -> String {
    code.trim().to_uppercase()
}

pub async fn find_by_code(
    db: &Db,
    org_id: &str,
    code: &str,
) -> Result<Option<DiscountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND code_key = $2"
    )))
    .bind(org_id.to_string())
    .bind(code_key(code))
    .fetch_optional(&db.pool)
    .await
}

pub async fn find(db: &Db, org_id: &str, id: &str) -> Result<Option<DiscountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND id = $2"
    )))
    .bind(org_id.to_string())
    .bind(id.to_string())
    .fetch_optional(&db.pool)
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    /// 3–32 letters, digits, `-` or `_`; matched in any letter case. Fixed once created.
    pub code: Option<String>,
    pub kind: Option<DiscountKind>,
    /// Percent: basis points, 1–10,000. Fixed: minor units, at least 1.
    pub value: Option<i64>,
    /// Required for fixed discounts.
    pub currency: Option<String>,
    pub event_ids: Option<Vec<String>>,
    pub ticket_type_ids: Option<Vec<String>>,
    /// `""` clears.
    pub starts_at: Option<String>,
    /// `""` clears.
    pub ends_at: Option<String>,
    /// Uses in all, at least 1; `null` clears (no limit).
    #[serde(default, deserialize_with = "crate::platform::json::nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_uses: Option<Option<i64>>,
    /// Uses per buyer, at least 1; `null` clears (no limit).
    #[serde(default, deserialize_with = "crate::platform::json::nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_uses_per_buyer: Option<Option<i64>>,
    pub min_quantity: Option<i64>,
    /// false disables the code.
    pub active: Option<bool>,
}

fn opt_time(field: &str, value: &str) -> ApiResult<Option<i64>> {
    if value.is_empty() {
        Ok(None)
    } else {
        validate::instant(field, value).map(Some)
    }
}

fn ids(field: &str, list: &[String]) -> ApiResult<String> {
    if list.len() > 200
        || list
            .iter()
            .any(|i| !crate::platform::ids::is_valid_external_id(i))
    {
        return Err(ApiError::invalid(field, "up to 200 ids"));
    }
    Ok(serde_json::to_string(list).unwrap_or_default())
}

fn apply(row: &mut DiscountRow, input: &DiscountInput, now: Millis) -> ApiResult<()> {
    if let Some(kind) = input.kind {
        row.kind = if kind == DiscountKind::Fixed {
            "fixed"
        } else {
            "percent"
        }
        .into();
    }
    if let Some(value) = input.value {
        row.value = value;
    }
    if let Some(currency) = &input.currency {
        row.currency = Some(validate::currency("currency", currency)?);
    }
    if let Some(list) = &input.event_ids {
        row.event_ids_json = ids("event_ids", list)?;
    }
    if let Some(list) = &input.ticket_type_ids {
        row.ticket_type_ids_json = ids("ticket_type_ids", list)?;
    }
    if let Some(at) = &input.starts_at {
        row.starts_at = opt_time("starts_at", at)?;
    }
    if let Some(at) = &input.ends_at {
        row.ends_at = opt_time("ends_at", at)?;
    }
    if let Some(n) = input.max_uses {
        row.max_uses = n
            .map(|n| validate::range("max_uses", n, 1, 10_000_000))
            .transpose()?;
    }
    if let Some(n) = input.max_uses_per_buyer {
        row.max_uses_per_buyer = n
            .map(|n| validate::range("max_uses_per_buyer", n, 1, 1_000))
            .transpose()?;
    }
    if let Some(n) = input.min_quantity {
        row.min_quantity = validate::range("min_quantity", n, 1, 1_000)?;
    }
    if let Some(active) = input.active {
        row.disabled_at = if active {
            None
        } else {
            row.disabled_at.or(Some(now))
        };
    }
    match row.kind() {
        DiscountKind::Percent => {
            validate::range("value", row.value, 1, BPS)?;
            row.currency = None;
        }
        DiscountKind::Fixed => {
            validate::range("value", row.value, 1, 1_000_000_000_000)?;
            if row.currency.is_none() {
                return Err(ApiError::invalid(
                    "currency",
                    "required for a fixed discount",
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (row.starts_at, row.ends_at)
        && to <= from
    {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    Ok(())
}

fn check_code(code: &str) -> ApiResult<String> {
    let code = code.trim();
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(code.to_string())
    } else {
        Err(ApiError::invalid(
            "code",
            "3-32 letters, digits, '-' or '_'",
        ))
    }
}

/// The events and ticket types a code names must be the organization's (404 otherwise, as
/// for any id of another organization), and a ticket type must belong to one of the named
/// events when events are named: a code for a type it can never meet would never apply.
async fn check_targets(db: &Db, org_id: &str, row: &DiscountRow) -> ApiResult<()> {
    let mut events = row.event_ids();
    events.sort_unstable();
    events.dedup();
    if !events.is_empty() {
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM events WHERE organization_id = $1 AND id IN ({})",
            placeholder_list(2, events.len())
        )))
        .persistent(false)
        .bind(org_id.to_string());
        for id in &events {
            query = query.bind(id.clone());
        }
        let found = query.fetch_all(&db.pool).await?;
        if let Some(missing) = events.iter().find(|id| !found.contains(id)) {
            let mut err = ApiError::not_found(&format!("event {missing}"));
            err.field = Some("event_ids".into());
            return Err(err);
        }
    }
    let mut types = row.ticket_type_ids();
    types.sort_unstable();
    types.dedup();
    if !types.is_empty() {
        let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(format!(
            "SELECT id, event_id FROM ticket_types WHERE organization_id = $1 AND id IN ({})",
            placeholder_list(2, types.len())
        )))
        .persistent(false)
        .bind(org_id.to_string());
        for id in &types {
            query = query.bind(id.clone());
        }
        let found = query.fetch_all(&db.pool).await?;
        for id in &types {
            let Some((_, event_id)) = found.iter().find(|(t, _)| t == id) else {
                let mut err = ApiError::not_found(&format!("ticket type {id}"));
                err.field = Some("ticket_type_ids".into());
                return Err(err);
            };
            if !events.is_empty() && !events.contains(event_id) {
                return Err(ApiError::invalid(
                    "ticket_type_ids",
                    format!("{id} is not a ticket type of the code's events"),
                ));
            }
        }
    }
    Ok(())
}

/// Create a discount code.
#[utoipa::path(
    post, path = "/admin/discounts", tag = "discounts",
    request_body = DiscountInput,
    responses((status = 201, body = Discount), (status = 400, body = Problem),
        (status = 404, description = "An event or ticket type named is not the organization's", body = Problem),
        (status = 409, description = "The code exists (`code_taken`)", body = Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(input): ApiJson<DiscountInput>,
) -> ApiResult<(StatusCode, ApiJson<Discount>)> {
    access.require(Permission::ManageCatalog)?;
    let code = check_code(input.code.as_deref().unwrap_or_default())?;
    if input.kind.is_none() || input.value.is_none() {
        return Err(ApiError::invalid(
            if input.kind.is_none() {
                "kind"
            } else {
                "value"
            },
            "required",
        ));
    }
    let now = state.clock.now_ms();
    let mut row = DiscountRow {
        id: new_id(),
        organization_id: access.org_id.clone(),
        code: code.clone(),
        kind: String::new(),
        value: 0,
        currency: None,
        event_ids_json: "[]".into(),
        ticket_type_ids_json: "[]".into(),
        starts_at: None,
        ends_at: None,
        max_uses: None,
        max_uses_per_buyer: None,
        min_quantity: 1,
        uses: 0,
        created_at: now,
        disabled_at: None,
    };
    apply(&mut row, &input, now)?;
    check_targets(&state.db, &access.org_id, &row).await?;
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO discounts (id, organization_id, code, code_key, kind, value, currency, \
         event_ids_json, ticket_type_ids_json, starts_at, ends_at, max_uses, max_uses_per_buyer, \
         min_quantity, uses, created_at, updated_at, disabled_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $15, $16)",
    )
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .bind(row.code.clone())
    .bind(code_key(&code))
    .bind(row.kind.clone())
    .bind(row.value)
    .bind(row.currency.clone())
    .bind(row.event_ids_json.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.max_uses)
    .bind(row.max_uses_per_buyer)
    .bind(row.min_quantity)
    .bind(now)
    .bind(row.disabled_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "code_taken",
                "a discount with this code exists",
            ));
        }
        other => other?,
    };
    let discount = row.into_api();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "discount.created",
            target_kind: "discount",
            target_id: &discount.id,
            before: None,
            after: serde_json::to_value(&discount).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(discount)))
}

/// Change a discount code (its code stays).
#[utoipa::path(
    patch, path = "/admin/discounts/{discount_id}", tag = "discounts",
    params(("discount_id" = String, Path)),
    request_body = DiscountInput,
    responses((status = 200, body = Discount), (status = 400, body = Problem),
        (status = 404, description = "No such discount, or an event or ticket type named is not the organization's", body = Problem)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(discount_id): Path<String>,
    ApiJson(input): ApiJson<DiscountInput>,
) -> ApiResult<ApiJson<Discount>> {
    access.require(Permission::ManageCatalog)?;
    let mut row = find(&state.db, &access.org_id, &discount_id)
        .await?
        .ok_or_else(|| ApiError::not_found("discount"))?;
    if input
        .code
        .as_deref()
        .is_some_and(|c| code_key(c) != code_key(&row.code))
    {
        return Err(ApiError::invalid(
            "code",
            "a code cannot change; create a new discount",
        ));
    }
    let now = state.clock.now_ms();
    apply(&mut row, &input, now)?;
    if input.event_ids.is_some() || input.ticket_type_ids.is_some() {
        check_targets(&state.db, &access.org_id, &row).await?;
    }
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE discounts SET kind = $1, value = $2, currency = $3, event_ids_json = $4, \
         ticket_type_ids_json = $5, starts_at = $6, ends_at = $7, max_uses = $8, \
         max_uses_per_buyer = $9, min_quantity = $10, disabled_at = $11, updated_at = $12 \
         WHERE id = $13 AND organization_id = $14",
    )
    .bind(row.kind.clone())
    .bind(row.value)
    .bind(row.currency.clone())
    .bind(row.event_ids_json.clone())
    .bind(row.ticket_type_ids_json.clone())
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(row.max_uses)
    .bind(row.max_uses_per_buyer)
    .bind(row.min_quantity)
    .bind(row.disabled_at)
    .bind(now)
    .bind(row.id.clone())
    .bind(row.organization_id.clone())
    .execute(&mut *tx)
    .await?;
    let discount = row.into_api();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "discount.updated",
            target_kind: "discount",
            target_id: &discount.id,
            before: None,
            after: serde_json::to_value(&discount).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(discount))
}

/// One discount code.
#[utoipa::path(
    get, path = "/admin/discounts/{discount_id}", tag = "discounts",
    params(("discount_id" = String, Path)),
    responses((status = 200, body = Discount), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    access: AdminAccess,
    Path(discount_id): Path<String>,
) -> ApiResult<ApiJson<Discount>> {
    access.require(Permission::ReadOrganization)?;
    let row = find(&state.db, &access.org_id, &discount_id)
        .await?
        .ok_or_else(|| ApiError::not_found("discount"))?;
    Ok(ApiJson(row.into_api()))
}

/// The organization's discount codes, newest first.
#[utoipa::path(
    get, path = "/admin/discounts", tag = "discounts",
    params(PageParams),
    responses((status = 200, body = Page<Discount>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<Discount>>> {
    access.require(Permission::ReadOrganization)?;
    let page = page.parse()?;
    let rows: Vec<DiscountRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM discounts WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(access.org_id.clone())
    .bind(page.bound())
    .bind(page.fetch_limit())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(
        page.finish(rows, |r| &r.id).map(DiscountRow::into_api),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discount(kind: &str, value: i64) -> DiscountRow {
        DiscountRow {
            id: "d".into(),
            organization_id: "o".into(),
            code: "SAVE".into(),
            kind: kind.into(),
            value,
            currency: Some("IDR".into()),
            event_ids_json: "[]".into(),
            ticket_type_ids_json: "[\"vip\"]".into(),
            starts_at: Some(100),
            ends_at: Some(200),
            max_uses: Some(5),
            max_uses_per_buyer: None,
            min_quantity: 2,
            uses: 0,
            created_at: 0,
            disabled_at: None,
        }
    }

    fn line<'a>(tt: &'a str, quantity: i64) -> CartLine<'a> {
        CartLine {
            event_id: "e",
            ticket_type_id: tt,
            currency: "IDR",
            quantity,
        }
    }

    #[test]
    fn eligibility_follows_every_rule() {
        let d = discount("percent", 1000);
        assert_eq!(
            eligible_lines(&d, &[line("ga", 3), line("vip", 2)], 150).unwrap(),
            vec![false, true]
        );
        let code = |r: ApiResult<Vec<bool>>| r.unwrap_err().detail;
        assert!(code(eligible_lines(&d, &[line("vip", 1)], 150)).contains("at least 2"));
        assert!(code(eligible_lines(&d, &[line("ga", 5)], 150)).contains("does not apply"));
        assert!(code(eligible_lines(&d, &[line("vip", 2)], 99)).contains("not valid yet"));
        assert!(code(eligible_lines(&d, &[line("vip", 2)], 200)).contains("expired"));
        let used = DiscountRow {
            uses: 5,
            ..discount("percent", 1000)
        };
        assert!(code(eligible_lines(&used, &[line("vip", 2)], 150)).contains("used up"));
        let usd = CartLine {
            currency: "USD",
            ..line("vip", 2)
        };
        assert!(
            eligible_lines(&discount("fixed", 10), &[usd], 150).is_err(),
            "fixed amounts keep their currency"
        );
    }
}
