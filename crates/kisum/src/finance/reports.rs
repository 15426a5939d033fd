//! Profit and loss in the company's currency: income minus committed bills (approved or
//! paid, amount plus tax), each converted at its own date (income: received; bills: issued)
//! with the company's rates. One missing rate answers 422 `fx_rate_missing`: a report with
//! a silent zero in it would be wrong.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bills::BillStatus;
use super::{date, fx, reference};
use crate::auth::access::Member;
use crate::core::companies;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::query::ApiQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PnlQuery {
    /// Only this event's income and bills.
    pub event_ref: Option<String>,
    /// First day of the period (`YYYY-MM-DD`, inclusive).
    pub from: Option<String>,
    /// Last day of the period (inclusive).
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// The income source or the bill category.
    pub key: String,
    /// Minor units of the report's currency.
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pnl {
    /// The company's currency, which every amount is in.
    pub currency: String,
    pub event_ref: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub income: i64,
    pub expenses: i64,
    pub profit: i64,
    pub income_by_source: Vec<Line>,
    pub expenses_by_category: Vec<Line>,
    /// How many amounts were converted from another currency.
    pub conversions: usize,
}

/// Profit and loss of an event or a period (or both; neither: all time).
#[utoipa::path(get, path = "/finance/reports/pnl", tag = "finance", params(PnlQuery, ("x-org" = String, Header)),
    responses((status = 200, body = Pnl), (status = 400, body = Problem), (status = 422, description = "`fx_rate_missing`", body = Problem)),
    security(("bearer" = [])))]
pub async fn pnl(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(q): ApiQuery<PnlQuery>,
) -> ApiResult<ApiJson<Pnl>> {
    member.require("finance.reports.read")?;
    let event_ref = reference("eventRef", q.event_ref.as_deref())?;
    let from = q.from.as_deref().map(|d| date("from", d)).transpose()?;
    let to = q.to.as_deref().map(|d| date("to", d)).transpose()?;
    if let (Some(f), Some(t)) = (&from, &to)
        && t < f
    {
        return Err(ApiError::invalid("to", "to cannot be before from"));
    }
    let company_id = &member.company_id;
    let mut conn = state.db.pool.acquire().await?;
    let company = companies::find(&mut conn, company_id)
        .await?
        .ok_or_else(|| ApiError::not_found("company"))?;
    let currency = company.currency;
    let (ev, lo, hi) = (
        event_ref.clone().unwrap_or_default(),
        from.clone().unwrap_or_default(),
        to.clone().unwrap_or_else(|| "9999-12-31".into()),
    );
    let income: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT source, currency, amount, received_on FROM finance_income WHERE company_id = $1 \
         AND ($2 = '' OR event_ref = $2) AND received_on >= $3 AND received_on <= $4",
    )
    .bind(company_id.as_str())
    .bind(&ev)
    .bind(&lo)
    .bind(&hi)
    .fetch_all(&mut *conn)
    .await?;
    let bills: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT category, currency, amount + tax, issued_on FROM finance_bills WHERE company_id = $1 \
         AND ($2 = '' OR event_ref = $2) AND issued_on >= $3 AND issued_on <= $4 \
         AND status IN ($5, $6)",
    )
    .bind(company_id.as_str())
    .bind(&ev)
    .bind(&lo)
    .bind(&hi)
    .bind(BillStatus::Approved.as_str())
    .bind(BillStatus::Paid.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut conversions = 0;
    let mut income_by: BTreeMap<String, i64> = BTreeMap::new();
    for (source, cur, amount, on) in income {
        let converted = fx::convert(&mut conn, company_id, amount, &cur, &currency, &on).await?;
        conversions += usize::from(converted.rate.is_some());
        *income_by.entry(source).or_default() += converted.converted;
    }
    let mut expenses_by: BTreeMap<String, i64> = BTreeMap::new();
    for (category, cur, amount, on) in bills {
        let converted = fx::convert(&mut conn, company_id, amount, &cur, &currency, &on).await?;
        conversions += usize::from(converted.rate.is_some());
        *expenses_by.entry(category).or_default() += converted.converted;
    }
    let income: i64 = income_by.values().sum();
    let expenses: i64 = expenses_by.values().sum();
    let lines = |m: BTreeMap<String, i64>| {
        m.into_iter()
            .map(|(key, amount)| Line { key, amount })
            .collect()
    };
    Ok(ApiJson(Pnl {
        currency,
        event_ref,
        from,
        to,
        income,
        expenses,
        profit: income - expenses,
        income_by_source: lines(income_by),
        expenses_by_category: lines(expenses_by),
        conversions,
    }))
}
