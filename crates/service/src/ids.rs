//! Identifiers: UUIDv7 strings, sortable by creation time.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Ids chosen by callers (a partner choosing an organization id) must be short and plain so
/// they are safe in URLs, logs and headers.
pub fn is_valid_external_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_sort_by_creation() {
        let a = new_id();
        let b = new_id();
        assert!(a < b);
    }

    #[test]
    fn external_ids_are_plain() {
        assert!(is_valid_external_id("company-42"));
        assert!(is_valid_external_id("0193a2b4-7c1d-7000-8000-000000000001"));
        assert!(!is_valid_external_id(""));
        assert!(!is_valid_external_id("a/b"));
        assert!(!is_valid_external_id(&"x".repeat(65)));
    }
}
