//! Telling a database that is not there (stopped, restarting, unreachable) from
//! one that refused a statement: the first is worth waiting for.

use sea_orm::{DbErr, RuntimeErr, SqlxError};

use super::StoreError;

impl StoreError {
    /// Whether the database could not be reached (a refused or broken connection, a
    /// server shutting down or starting, no connection before the pool's timeout), as
    /// opposed to a statement it refused: the same request can succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        let Self::Db { source, .. } = self else { return false };
        match source {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
            _ => false,
        }
    }
}

/// A driver error that means "no database to talk to": I/O on the connection, the
/// pool giving up, or a SQLSTATE of a server that went away.
fn sqlx_unavailable(error: &SqlxError) -> bool {
    match error {
        SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db) => db.code().is_some_and(|code| unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL's connection-exception class (`08…`), and a server shutting down or
/// still starting (`57P01`–`57P03`).
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn db(source: DbErr) -> StoreError {
        StoreError::Db { action: "testing", source }
    }

    fn sqlx(error: SqlxError) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
    }

    #[test]
    fn a_database_out_of_reach_is_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let gone = [
            db(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)),
            db(DbErr::Conn(RuntimeErr::Internal("connection reset".into()))),
            db(sqlx(SqlxError::Io(refused))),
            db(sqlx(SqlxError::PoolTimedOut)),
            db(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(SqlxError::PoolClosed)))),
        ];
        for error in gone {
            assert!(error.is_unavailable(), "{error}");
        }
    }

    #[test]
    fn a_refused_statement_or_bad_data_is_not() {
        let refused = [
            db(sqlx(SqlxError::RowNotFound)),
            db(DbErr::Query(RuntimeErr::Internal("syntax error".into()))),
            db(DbErr::RecordNotFound("t-1".into())),
            db(sqlx(SqlxError::Protocol("unexpected message".into()))),
            StoreError::Corrupt("bad json".into()),
        ];
        for error in refused {
            assert!(!error.is_unavailable(), "{error}");
        }
    }

    #[test]
    fn postgres_connection_and_shutdown_codes_are_unavailable_others_not() {
        for code in ["08000", "08003", "08006", "57P01", "57P02", "57P03"] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "53100", "57014", "42P01"] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
    }
}
