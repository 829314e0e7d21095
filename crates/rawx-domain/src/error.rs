use rawx_model::validate::FieldErrors;
use rawx_store::DbError;

/// Why a domain operation was refused; the API renders each in AWX's shape.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    /// The actor may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The request was wrong, per field, with AWX's messages.
    #[error("invalid fields")]
    Fields(FieldErrors),
    #[error("store: {0}")]
    Db(DbError),
}

impl From<DbError> for DomainError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => DomainError::NotFound,
            e => DomainError::Db(e),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
