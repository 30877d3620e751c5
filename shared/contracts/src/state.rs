//! One macro for every state enum the services store as text and send as JSON.
//!
//! A state written as a string literal in many places goes wrong silently: a typo is a
//! state nobody handles, and a `_ =>` arm turns it into some other state's action. An enum
//! matched exhaustively makes a new state a compile error wherever it matters. The text
//! form is written once, here: the same word in the database column and on the wire.

/// Declares a state enum with its text form, `as_str`, `Display`, `FromStr`, serde (as the
/// text form) and, with the `db` feature, the mapping to and from a text column.
macro_rules! states {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[cfg_attr(feature = "db", derive(sea_orm::DeriveValueType))]
        #[cfg_attr(feature = "db", sea_orm(value_type = "String"))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form, in the database and on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::state::UnknownState;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::state::UnknownState {
                        kind: stringify!($name),
                        value: other.to_string(),
                    }),
                }
            }
        }
    };
}

pub(crate) use states;

/// A text that names no state of its kind (a row written by a newer version, or a typo).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub value: String,
}
