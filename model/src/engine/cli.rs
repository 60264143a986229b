//! The command-line flags of the soak runner and the repro tool: `--name
//! value` pairs from a known list (a few flags may go without their value),
//! no dependencies.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Parsed `--name value` flags.
///
/// ```
/// use regions_model::engine::Flags;
///
/// let args = ["--seed", "7", "--ops", "100"].map(String::from);
/// let flags = Flags::parse(args, &["--seed", "--ops", "--seconds"]).unwrap();
/// assert_eq!(flags.get::<u64>("--seed").unwrap(), Some(7));
/// assert_eq!(flags.get::<u64>("--seconds").unwrap(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    values: BTreeMap<String, String>,
}

/// Why the command line was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagsError {
    /// `-h` or `--help`: the caller prints its usage and exits successfully.
    Help,
    /// An argument that is not one of the known flags.
    Unknown(String),
    /// A flag given last, without its value.
    MissingValue(String),
    /// A value that does not parse as the flag's type.
    Invalid {
        /// The flag.
        flag: String,
        /// Its value.
        value: String,
        /// The parser's complaint.
        reason: String,
    },
}

impl fmt::Display for FlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagsError::Help => write!(f, "help requested"),
            FlagsError::Unknown(arg) => write!(f, "unknown argument `{arg}`"),
            FlagsError::MissingValue(flag) => write!(f, "`{flag}` needs a value"),
            FlagsError::Invalid {
                flag,
                value,
                reason,
            } => write!(f, "`{flag} {value}`: {reason}"),
        }
    }
}

impl std::error::Error for FlagsError {}

impl Flags {
    /// Parses `args` (without the program name); every flag must be in
    /// `known` and be followed by a value. A repeated flag keeps its last value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        known: &[&str],
    ) -> Result<Flags, FlagsError> {
        Flags::parse_with_optional(args, known, &[])
    }

    /// [`Flags::parse`], where the flags in `optional` (also known) may go
    /// without a value: given last, or followed by another flag (an
    /// argument starting with `--`), they get the empty value.
    ///
    /// ```
    /// use regions_model::engine::Flags;
    ///
    /// let args = ["--write", "--seed", "7"].map(String::from);
    /// let flags = Flags::parse_with_optional(args, &["--seed"], &["--write"]).unwrap();
    /// assert_eq!(flags.get::<String>("--write").unwrap().as_deref(), Some(""));
    /// let args = ["--seed", "7", "--write", "my_test"].map(String::from);
    /// let flags = Flags::parse_with_optional(args, &["--seed"], &["--write"]).unwrap();
    /// assert_eq!(flags.get::<String>("--write").unwrap().as_deref(), Some("my_test"));
    /// ```
    pub fn parse_with_optional(
        args: impl IntoIterator<Item = String>,
        known: &[&str],
        optional: &[&str],
    ) -> Result<Flags, FlagsError> {
        let mut values = BTreeMap::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Err(FlagsError::Help);
            }
            let value = if optional.contains(&arg.as_str()) {
                args.next_if(|next| !next.starts_with("--"))
                    .unwrap_or_default()
            } else if known.contains(&arg.as_str()) {
                args.next()
                    .ok_or_else(|| FlagsError::MissingValue(arg.clone()))?
            } else {
                return Err(FlagsError::Unknown(arg));
            };
            values.insert(arg, value);
        }
        Ok(Flags { values })
    }

    /// Whether `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.values.contains_key(flag)
    }

    /// The value of `flag` parsed as a `T`, `None` if it was not given.
    pub fn get<T>(&self, flag: &str) -> Result<Option<T>, FlagsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.values
            .get(flag)
            .map(|value| {
                value.parse().map_err(|e: T::Err| FlagsError::Invalid {
                    flag: flag.to_owned(),
                    value: value.clone(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, FlagsError> {
        Flags::parse(args.iter().map(|a| a.to_string()), &["--seed", "--ops"])
    }

    #[test]
    fn rejects_unknown_flags_missing_values_and_bad_numbers() {
        assert_eq!(
            parse(&["--sed", "1"]),
            Err(FlagsError::Unknown("--sed".into()))
        );
        assert_eq!(
            parse(&["--seed"]),
            Err(FlagsError::MissingValue("--seed".into()))
        );
        assert_eq!(parse(&["--ops", "1", "-h"]), Err(FlagsError::Help));
        let flags = parse(&["--seed", "x"]).unwrap();
        assert!(flags.has("--seed") && !flags.has("--ops"));
        assert!(matches!(
            flags.get::<u64>("--seed"),
            Err(FlagsError::Invalid { .. })
        ));
    }

    #[test]
    fn a_flag_with_an_optional_value_takes_only_a_value_that_is_not_a_flag() {
        let parse = |args: &[&str]| {
            Flags::parse_with_optional(
                args.iter().map(|a| a.to_string()),
                &["--seed"],
                &["--write"],
            )
        };
        let flags = parse(&["--write"]).unwrap();
        assert_eq!(flags.get::<String>("--write").unwrap().as_deref(), Some(""));
        let flags = parse(&["--write", "--seed", "3"]).unwrap();
        assert_eq!(flags.get::<String>("--write").unwrap().as_deref(), Some(""));
        assert_eq!(flags.get::<u64>("--seed").unwrap(), Some(3));
        let flags = parse(&["--write", "name", "--seed", "3"]).unwrap();
        assert_eq!(
            flags.get::<String>("--write").unwrap().as_deref(),
            Some("name")
        );
        assert_eq!(
            parse(&["--write", "name", "stray"]),
            Err(FlagsError::Unknown("stray".into()))
        );
        assert_eq!(
            parse(&["--seed"]),
            Err(FlagsError::MissingValue("--seed".into()))
        );
    }

    #[test]
    fn the_last_of_a_repeated_flag_wins() {
        let flags = parse(&["--ops", "1", "--ops", "2"]).unwrap();
        assert_eq!(flags.get::<usize>("--ops").unwrap(), Some(2));
    }
}
