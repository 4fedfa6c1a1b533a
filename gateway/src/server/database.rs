//! Which database a configuration opens, and whether it exists yet: offline
//! commands (`ccgate keys`) say which one they use, and do not create an empty one
//! where the operator expected the gateway's.

use std::path::PathBuf;

use crate::config::Config;

/// The database a configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseLocation {
    /// The connection URL, as `serve` uses it.
    pub url: String,
    /// The SQLite file, made absolute; `None` for an in-memory database or a
    /// database server's (PostgreSQL).
    pub file: Option<PathBuf>,
}

impl DatabaseLocation {
    pub fn of(config: &Config) -> Self {
        let url = config.database_url();
        let file = sqlite_file(&url).map(|file| crate::server::absolute(&file));
        Self { url, file }
    }

    /// Whether the database is there already: a SQLite file that exists (an
    /// in-memory one never is), or a server's database (connecting tells).
    pub fn exists(&self) -> bool {
        match &self.file {
            Some(file) => file.exists(),
            None => !self.url.starts_with("sqlite:"),
        }
    }

    /// The file, or the URL (without its password) when there is none.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(file) => file.display().to_string(),
            None => without_password(&self.url),
        }
    }
}

/// `url` with its password left out, to be printed.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The file of a `sqlite://PATH?options` (or `sqlite:PATH`) URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_file("sqlite:///srv/ccgate/ccgate.db?mode=rwc"),
            Some(PathBuf::from("/srv/ccgate/ccgate.db"))
        );
        assert_eq!(sqlite_file("sqlite://data/ccgate.db"), Some(PathBuf::from("data/ccgate.db")));
        assert_eq!(sqlite_file("sqlite:ccgate.db"), Some(PathBuf::from("ccgate.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/ccgate"), None);
    }

    #[test]
    fn a_postgres_database_exists_on_its_server_and_is_described_without_its_password() {
        let config = Config { database_url: "postgres://ccgate:hunter2@db:5432/ccgate".into(), ..Config::default() };
        let location = DatabaseLocation::of(&config);
        assert_eq!((location.file.clone(), location.exists()), (None, true));
        assert_eq!(location.describe(), "postgres://ccgate@db:5432/ccgate");
        let memory = DatabaseLocation::of(&Config { database_url: "sqlite::memory:".into(), ..Config::default() });
        assert!(!memory.exists());
    }

    #[test]
    fn the_default_database_is_in_the_data_directory_made_absolute() {
        let config = Config { data_dir: PathBuf::from("relative-data"), ..Config::default() };
        let location = DatabaseLocation::of(&config);
        let file = location.file.clone().unwrap();
        assert!(file.is_absolute() && file.ends_with("relative-data/ccgate.db"), "{file:?}");
        assert!(!location.exists());
    }
}
