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

/// Declares an id type: a string that the compiler keeps apart from every other kind of
/// id, so `find(db, org_id, event_id)` cannot be called with the two swapped. It reads and
/// writes the database and JSON exactly as the plain string did.
///
/// ```
/// service::id_type!(
///     /// An organization.
///     pub OrgId
/// );
/// let id = OrgId::from("org-1");
/// assert_eq!(id.as_str(), "org-1");
/// assert_eq!(serde_json::to_string(&id).unwrap(), "\"org-1\"");
/// ```
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $vis:vis $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self($crate::ids::new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Reads as `&str` where a function still takes one, so ids can be typed one
        // boundary at a time; a function that takes `&OrgId` accepts nothing else.
        impl ::std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::cmp::PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl ::std::cmp::PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl ::std::cmp::PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl ::std::cmp::PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl ::std::convert::From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl $crate::ids::__private::serde::Serialize for $name {
            fn serialize<S: $crate::ids::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::ids::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::ids::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <String as $crate::ids::__private::serde::Deserialize>::deserialize(deserializer)
                    .map(Self)
            }
        }

        impl $crate::ids::__private::sqlx::Type<$crate::ids::__private::sqlx::Any> for $name {
            fn type_info() -> $crate::ids::__private::sqlx::any::AnyTypeInfo {
                <String as $crate::ids::__private::sqlx::Type<$crate::ids::__private::sqlx::Any>>::type_info()
            }

            fn compatible(ty: &$crate::ids::__private::sqlx::any::AnyTypeInfo) -> bool {
                <String as $crate::ids::__private::sqlx::Type<$crate::ids::__private::sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> $crate::ids::__private::sqlx::Encode<'q, $crate::ids::__private::sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <$crate::ids::__private::sqlx::Any as $crate::ids::__private::sqlx::Database>::ArgumentBuffer,
            ) -> ::std::result::Result<
                $crate::ids::__private::sqlx::encode::IsNull,
                $crate::ids::__private::sqlx::error::BoxDynError,
            > {
                <String as $crate::ids::__private::sqlx::Encode<'q, $crate::ids::__private::sqlx::Any>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> $crate::ids::__private::sqlx::Decode<'r, $crate::ids::__private::sqlx::Any> for $name {
            fn decode(
                value: <$crate::ids::__private::sqlx::Any as $crate::ids::__private::sqlx::Database>::ValueRef<'r>,
            ) -> ::std::result::Result<Self, $crate::ids::__private::sqlx::error::BoxDynError> {
                <String as $crate::ids::__private::sqlx::Decode<'r, $crate::ids::__private::sqlx::Any>>::decode(value)
                    .map(Self)
            }
        }
    };
}

/// What `id_type!` expands to needs, reachable from any crate.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use sqlx;
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::id_type!(
        /// An id for the tests.
        pub ThingId
    );

    #[tokio::test]
    async fn typed_ids_read_and_write_like_strings() {
        let id = ThingId::from("thing-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"thing-1\"");
        assert_eq!(serde_json::from_str::<ThingId>("\"thing-1\"").unwrap(), id);
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
        let back: ThingId = sqlx::query_scalar("SELECT $1")
            .bind(id.clone())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, id);
        assert!(ThingId::generate() < ThingId::generate());
    }

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
