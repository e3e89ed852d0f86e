//! A secret string in the configuration (the default user's `requirepass`): kept as given but
//! never shown, so logging the effective configuration cannot leak it. A leaf.

use serde::{Deserialize, Serialize};

/// A string that `Debug` prints as `<hidden>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_hides_the_value() {
        let s = super::Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "<hidden>");
    }
}
