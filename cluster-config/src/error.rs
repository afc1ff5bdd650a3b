//! Typed errors: reading, parsing and validating a configuration.

use std::fmt;

/// One problem in a configuration, located by its path (`nodes[2].id`, `partitions.splits[0].at[1]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where the problem is, in TOML terms with array indices.
    pub path: String,
    /// What is wrong, for an operator to read.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a configuration; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, error) in self.0.iter().enumerate() {
            if idx > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file's path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or does not fit the schema (unknown field, wrong type, missing field).
    #[error("{path}: invalid TOML: {message}")]
    Parse {
        /// The file's path, or `<string>`.
        path: String,
        /// toml's message, with line and column.
        message: String,
    },
    /// The TOML fits the schema but breaks validation rules.
    #[error("{path}: invalid configuration:\n{errors}")]
    Invalid {
        /// The file's path.
        path: String,
        /// Every problem found.
        errors: ValidationErrors,
    },
}
