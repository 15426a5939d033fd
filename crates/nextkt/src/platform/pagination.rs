//! Cursor pagination: lists are ordered newest first by id, and the cursor is the last id
//! seen, encoded so clients treat it as opaque.

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
    /// Only items with an id below this one.
    pub before_id: Option<String>,
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
        let before_id = match &self.cursor {
            None => None,
            Some(cursor) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::invalid("cursor", "the cursor is not valid"))?,
            ),
        };
        Ok(PageRequest { limit, before_id })
    }
}

impl PageRequest {
    /// The cursor for SQL written as `($n = '' OR id < $n)`: empty means the first page.
    /// (An empty string rather than NULL, because PostgreSQL cannot type an untyped NULL.)
    pub fn bound(&self) -> String {
        self.before_id.clone().unwrap_or_default()
    }

    /// Rows are fetched with `LIMIT limit + 1`; the extra one says whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    pub fn finish<T, F: Fn(&T) -> &str>(&self, mut rows: Vec<T>, id_of: F) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id_of(row).as_bytes())
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
        assert_eq!(next.before_id.as_deref(), Some("b"));
        let last = next.finish(vec!["a".to_string()], |s| s);
        assert!(last.next_cursor.is_none());
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
