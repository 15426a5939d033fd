//! Exchange rates per date, set by the company, and conversion with them. A rate is a
//! decimal string: 1 `base` = `rate` `quote`. A conversion uses the latest rate on or before
//! the amount's date, in either direction (the inverse of a quote→base rate is exact:
//! everything is integer arithmetic); with no such rate it answers 422 `fx_rate_missing`,
//! never a silent zero.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::{IntoParams, ToSchema};

use super::audit;
use super::{amount, date};
use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::platform::query::ApiQuery;
use crate::platform::validate;
use crate::state::AppState;

/// A positive decimal: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub mantissa: i128,
    pub scale: u32,
}

/// Most significant digits a rate may have.
const MAX_RATE_DIGITS: usize = 15;

impl Rate {
    pub fn parse(text: &str) -> Option<Rate> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{whole}{frac}");
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() || significant.len() > MAX_RATE_DIGITS || frac.len() > 18 {
            return None;
        }
        Some(Rate {
            mantissa: significant.parse().ok()?,
            scale: u32::try_from(frac.len()).ok()?,
        })
    }

    pub fn render(self) -> String {
        let digits = format!(
            "{:0>width$}",
            self.mantissa,
            width = self.scale as usize + 1
        );
        let (whole, frac) = digits.split_at(digits.len() - self.scale as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{frac}")
        }
    }
}

fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// Divides, rounding half away from zero (amounts here are positive).
fn div_round(numerator: i128, denominator: i128) -> i128 {
    (numerator + denominator / 2) / denominator
}

/// `amount` minor units of `from` in minor units of `to`, by `rate` (1 from = rate to), or
/// its inverse when `inverse` (the stored rate is 1 to = rate from).
pub fn apply(amount: i64, from: &str, to: &str, rate: Rate, inverse: bool) -> Option<i64> {
    let (e_from, e_to) = (service::money::exponent(from), service::money::exponent(to));
    let amount = i128::from(amount);
    let value = if inverse {
        let num = amount
            .checked_mul(pow10(rate.scale))?
            .checked_mul(pow10(e_to))?;
        div_round(num, rate.mantissa.checked_mul(pow10(e_from))?)
    } else {
        let num = amount
            .checked_mul(rate.mantissa)?
            .checked_mul(pow10(e_to))?;
        div_round(num, pow10(rate.scale).checked_mul(pow10(e_from))?)
    };
    i64::try_from(value).ok()
}

/// A conversion done: what was used.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Converted {
    pub amount: i64,
    pub currency: String,
    pub converted: i64,
    pub to: String,
    /// The rate used as 1 `currency` = `rate` `to` (absent when no conversion was needed).
    pub rate: Option<String>,
    pub rate_date: Option<String>,
}

pub fn missing(from: &str, to: &str, on: &str) -> ApiError {
    ApiError::rule(
        "fx_rate_missing",
        format!("no {from}→{to} exchange rate on or before {on}; set one under /finance/fx-rates"),
    )
}

/// Converts with the company's rates as of `on`.
pub async fn convert(
    conn: &mut AnyConnection,
    company: &CompanyId,
    amount: i64,
    from: &str,
    to: &str,
    on: &str,
) -> ApiResult<Converted> {
    if from == to {
        return Ok(Converted {
            amount,
            currency: from.into(),
            converted: amount,
            to: to.into(),
            rate: None,
            rate_date: None,
        });
    }
    let found: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT base, quote, rate, rate_date FROM finance_fx_rates WHERE company_id = $1 \
         AND ((base = $2 AND quote = $3) OR (base = $3 AND quote = $2)) AND rate_date <= $4 \
         ORDER BY rate_date DESC, base = $2 DESC LIMIT 1",
    )
    .bind(company.as_str())
    .bind(from)
    .bind(to)
    .bind(on)
    .fetch_optional(&mut *conn)
    .await?;
    let (base, _, rate_text, rate_date) = found.ok_or_else(|| missing(from, to, on))?;
    let rate = Rate::parse(&rate_text).ok_or_else(|| missing(from, to, on))?;
    let inverse = base != from;
    let converted = apply(amount, from, to, rate, inverse)
        .ok_or_else(|| ApiError::rule("amount_too_large", "the converted amount does not fit"))?;
    Ok(Converted {
        amount,
        currency: from.into(),
        converted,
        to: to.into(),
        rate: Some(if inverse {
            format!("1/{}", rate.render())
        } else {
            rate.render()
        }),
        rate_date: Some(rate_date),
    })
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct FxRate {
    pub rate_date: String,
    pub base: String,
    pub quote: String,
    pub rate: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRate {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub base: String,
    pub quote: String,
    /// Decimal string: 1 base = rate quote, e.g. `"16250.5"`.
    pub rate: String,
}

/// Sets (or replaces) the rate of a currency pair on a date.
#[utoipa::path(put, path = "/finance/fx-rates", tag = "finance", request_body = SetRate,
    params(("x-org" = String, Header)),
    responses((status = 200, body = FxRate), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn set(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<SetRate>,
) -> ApiResult<ApiJson<FxRate>> {
    member.require("finance.fx.manage")?;
    let rate_date = date("date", &body.date)?;
    let base = validate::currency("base", &body.base)?;
    let quote = validate::currency("quote", &body.quote)?;
    if base == quote {
        return Err(ApiError::invalid("quote", "quote must differ from base"));
    }
    let rate = Rate::parse(&body.rate).ok_or_else(|| {
        ApiError::invalid(
            "rate",
            format!(
                "rate must be a positive decimal of at most {MAX_RATE_DIGITS} significant digits"
            ),
        )
    })?;
    let row = FxRate {
        rate_date,
        base,
        quote,
        rate: rate.render(),
    };
    let now = state.clock.now_ms();
    let actor = audit::actor(&member);
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO finance_fx_rates (company_id, rate_date, base, quote, rate, set_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (company_id, base, quote, rate_date) DO UPDATE SET rate = excluded.rate, \
         set_by = excluded.set_by, updated_at = excluded.updated_at",
    )
    .bind(member.company_id.as_str())
    .bind(&row.rate_date)
    .bind(&row.base)
    .bind(&row.quote)
    .bind(&row.rate)
    .bind(&actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let target = format!("{}/{}/{}", row.base, row.quote, row.rate_date);
    audit::changed(
        &mut tx,
        &member,
        "fx_rate.set",
        ("fx_rate", &target),
        None,
        Some(&row),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(row))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RateFilter {
    pub base: Option<String>,
    pub quote: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateList {
    pub rates: Vec<FxRate>,
}

/// The company's rates, newest date first (at most 500).
#[utoipa::path(get, path = "/finance/fx-rates", tag = "finance", params(RateFilter, ("x-org" = String, Header)),
    responses((status = 200, body = RateList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(filter): ApiQuery<RateFilter>,
) -> ApiResult<ApiJson<RateList>> {
    member.require("finance.fx.read")?;
    let rates = sqlx::query_as(
        "SELECT rate_date, base, quote, rate FROM finance_fx_rates WHERE company_id = $1 \
         AND ($2 = '' OR base = $2) AND ($3 = '' OR quote = $3) \
         ORDER BY rate_date DESC, base, quote LIMIT 500",
    )
    .bind(member.company_id.as_str())
    .bind(filter.base.unwrap_or_default())
    .bind(filter.quote.unwrap_or_default())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(ApiJson(RateList { rates }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConvertQuery {
    /// Minor units of `from`.
    pub amount: i64,
    pub from: String,
    pub to: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// Converts an amount with the company's rates as of a date.
#[utoipa::path(get, path = "/finance/fx/convert", tag = "finance", params(ConvertQuery, ("x-org" = String, Header)),
    responses((status = 200, body = Converted), (status = 400, body = Problem), (status = 422, description = "`fx_rate_missing`", body = Problem)),
    security(("bearer" = [])))]
pub async fn convert_route(
    State(state): State<AppState>,
    member: Member,
    ApiQuery(q): ApiQuery<ConvertQuery>,
) -> ApiResult<ApiJson<Converted>> {
    member.require("finance.fx.read")?;
    let amount = amount("amount", q.amount, true)?;
    let from = validate::currency("from", &q.from)?;
    let to = validate::currency("to", &q.to)?;
    let on = date("date", &q.date)?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(ApiJson(
        convert(&mut conn, &member.company_id, amount, &from, &to, &on).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_render() {
        assert_eq!(
            Rate::parse("16250.5"),
            Some(Rate {
                mantissa: 162505,
                scale: 1
            })
        );
        assert_eq!(Rate::parse("0.0000615").unwrap().render(), "0.0000615");
        assert_eq!(Rate::parse("15000").unwrap().render(), "15000");
        assert_eq!(Rate::parse("1.50").unwrap().render(), "1.5");
        for bad in [
            "",
            ".",
            "-1",
            "0",
            "0.000",
            "1e5",
            "abc",
            "1.2.3",
            "1234567890123456",
        ] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn conversions_respect_each_currencys_minor_unit() {
        let rate = Rate::parse("16250.5").unwrap();
        // 12.34 USD = 200,531.17 IDR, rounded to whole rupiah.
        assert_eq!(apply(1234, "USD", "IDR", rate, false), Some(200_531));
        // The inverse: 200,531 IDR back to USD cents.
        assert_eq!(apply(200_531, "IDR", "USD", rate, true), Some(1234));
        // KWD has three decimals.
        let kwd = Rate::parse("0.307").unwrap();
        assert_eq!(apply(1000, "USD", "KWD", kwd, false), Some(3070));
        // Half rounds up.
        let half = Rate::parse("0.5").unwrap();
        assert_eq!(apply(1, "IDR", "JPY", half, false), Some(1));
        assert_eq!(apply(i64::MAX, "USD", "IDR", rate, false), None);
    }
}
