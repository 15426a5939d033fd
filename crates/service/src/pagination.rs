//! Cursor pagination: every list answers `Page` (`items`, `next_cursor`). Most lists are
//! ordered newest first by id, some oldest first by id, and a few in the order an operator
//! set (`sort_order`, then id); the cursor is where the previous page ended (the last id,
//! or the last position), encoded so clients treat it as opaque.

use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
pub struct PageRequest {
    pub limit: i64,
    /// Where the previous page ended: its last id, or its last position (`position_key`).
    pub last_seen: Option<String>,
}

/// The cursor key of an item in a list ordered by `sort_order`, then id.
pub fn position_key(sort_order: i64, id: &str) -> String {
    format!("{sort_order}:{id}")
}

impl PageParams {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let last_seen = match &self.cursor {
            None => None,
            Some(cursor) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::invalid("cursor", "the cursor is not valid"))?,
            ),
        };
        Ok(PageRequest { limit, last_seen })
    }
}

impl PageRequest {
    /// The cursor for SQL written as `($n = '' OR id < $n)` (newest first) or
    /// `($n = '' OR id > $n)` (oldest first): empty means the first page. (An empty string
    /// rather than NULL, because PostgreSQL cannot type an untyped NULL.)
    pub fn bound(&self) -> String {
        self.last_seen.clone().unwrap_or_default()
    }

    /// For lists ordered by `sort_order`, then id: the last position seen, as
    /// (`sort_order`, id) for SQL written as
    /// `($3 = '' OR sort_order > $2 OR (sort_order = $2 AND id > $3))`; id empty on the
    /// first page. A cursor of another list is refused.
    pub fn position(&self) -> Result<(i64, String), ApiError> {
        let Some(seen) = &self.last_seen else {
            return Ok((0, String::new()));
        };
        seen.split_once(':')
            .and_then(|(order, id)| Some((order.parse().ok()?, id.to_string())))
            .filter(|(_, id)| !id.is_empty())
            .ok_or_else(|| ApiError::invalid("cursor", "the cursor is not valid"))
    }

    /// Rows are fetched with `LIMIT limit + 1`; the extra one says whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// The page of `rows` (fetched with `fetch_limit`), its cursor made from the last id.
    pub fn finish<T, F: Fn(&T) -> &str>(&self, rows: Vec<T>, id_of: F) -> Page<T> {
        self.finish_keyed(rows, |row| id_of(row).to_string())
    }

    /// As `finish`, for lists whose cursor is not the id alone (`position_key`).
    pub fn finish_keyed<T, F: Fn(&T) -> String>(&self, mut rows: Vec<T>, key_of: F) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key_of(row).as_bytes())
            })
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_cursor_only_when_more_remain() {
        let req = PageParams {
            limit: Some(2),
            cursor: None,
        }
        .parse()
        .unwrap();
        let page = req.finish(vec!["c".to_string(), "b".into(), "a".into()], |s| s);
        assert_eq!(page.items, vec!["c", "b"]);
        let next = PageParams {
            limit: Some(2),
            cursor: page.next_cursor,
        }
        .parse()
        .unwrap();
        assert_eq!(next.last_seen.as_deref(), Some("b"));
        let last = next.finish(vec!["a".to_string()], |s| s);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn positions_page_lists_in_their_set_order() {
        let req = PageParams {
            limit: Some(1),
            cursor: None,
        }
        .parse()
        .unwrap();
        assert_eq!(req.position().unwrap(), (0, String::new()));
        let page = req.finish_keyed(vec![(-3, "b"), (5, "a")], |(o, id)| position_key(*o, id));
        let next = PageParams {
            limit: Some(1),
            cursor: page.next_cursor,
        }
        .parse()
        .unwrap();
        assert_eq!(next.position().unwrap(), (-3, "b".to_string()));
        let id_cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("0191-abc");
        let foreign = PageParams {
            limit: None,
            cursor: Some(id_cursor),
        }
        .parse()
        .unwrap();
        assert!(foreign.position().is_err());
    }

    #[test]
    fn bad_limits_and_cursors_are_rejected() {
        assert!(
            PageParams {
                limit: Some(0),
                cursor: None
            }
            .parse()
            .is_err()
        );
        assert!(
            PageParams {
                limit: Some(201),
                cursor: None
            }
            .parse()
            .is_err()
        );
        assert!(
            PageParams {
                limit: None,
                cursor: Some("%%%".into())
            }
            .parse()
            .is_err()
        );
    }
}
