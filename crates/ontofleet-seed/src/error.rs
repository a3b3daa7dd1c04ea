//! The error type of this crate.

/// Why creating the schema or seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database refused a statement or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// The options ask for something impossible (e.g. more rows than the generator supports).
    #[error("invalid seed options: {0}")]
    InvalidOptions(String),

    /// Rows generated from this seed are already present (a primary key collided).
    #[error(
        "rows of seed {seed} already exist in the legacy table `{table}`: reset the legacy tables \
         (`ontofleet seed --reset`) or use another --seed"
    )]
    AlreadySeeded {
        /// The seed that was used.
        seed: u64,
        /// The legacy table whose primary key collided.
        table: &'static str,
    },
}
