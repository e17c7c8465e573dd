//! `strata check-config FILE` (like `nginx -t`): loads a configuration as `strata serve --config FILE` does
//! and makes every check `serve` makes before it listens that needs no network and no port, naming every
//! problem. It starts nothing, binds nothing and writes nothing.
//!
//! Not checked, and said so: the handler component is validated and its world and ABI version read, but it
//! is not compiled or linked (that needs the engine `serve` builds); a `[cluster]`'s store and feed are not
//! contacted; the listen address is not bound.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use strata_runtime::{GuestError, GuestKind, WIT_PACKAGE};
use strata_server::config::TlsConfig;
use strata_server::http::{Certificates, TlsError};

use crate::config::{Config, ConfigError};

/// One reason the configuration cannot be served; each names the key or the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The file cannot be read or parsed, or a value cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The handler named by `[guest] handler` cannot be read.
    #[error("cannot read handler {} (guest.handler): {error}", path.display())]
    HandlerRead {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The handler is not a component of a `strata:origin` world and version this host runs.
    #[error("handler {} (guest.handler): {error}", path.display())]
    HandlerInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: GuestError,
    },
    /// The handler is a component of another world (a manifest plugin).
    #[error("handler {} (guest.handler) implements {}, not {}", path.display(), kind.world(),
            GuestKind::Handler.world())]
    HandlerWorld {
        /// The file.
        path: PathBuf,
        /// The world it implements.
        kind: GuestKind,
    },
    /// The access log file cannot be opened where it is named.
    #[error("log.access_file {}: {reason}", path.display())]
    AccessLog {
        /// The file.
        path: PathBuf,
        /// Why `serve` could not open it.
        reason: &'static str,
    },
    /// A folder `serve` opens or creates is something else.
    #[error("{key} {}: exists and is not a folder", path.display())]
    NotAFolder {
        /// The key naming it.
        key: &'static str,
        /// The path.
        path: PathBuf,
    },
}

/// What checking a configuration found.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem; none means `serve` would get as far as listening.
    pub problems: Vec<Problem>,
    /// What was checked only in part, or not at all, and why.
    pub notes: Vec<String>,
}

/// Checks `path`, prints the verdict (a line on stdout when valid; each problem on a line of stderr when
/// not) and the notes (stderr), and returns the exit status: success only when valid.
pub fn run(path: &Path) -> ExitCode {
    let report = check(path);
    for note in &report.notes {
        eprintln!("strata: note: {note}");
    }
    if report.problems.is_empty() {
        println!("configuration {} is valid", path.display());
        return ExitCode::SUCCESS;
    }
    for problem in &report.problems {
        eprintln!("strata: {problem}");
    }
    eprintln!(
        "strata: configuration {} is not valid ({} problem{})",
        path.display(),
        report.problems.len(),
        if report.problems.len() == 1 { "" } else { "s" }
    );
    ExitCode::FAILURE
}

/// Loads `path` over the embedded defaults and checks it.
pub fn check(path: &Path) -> Report {
    let mut report = Report::default();
    let config = match Config::from_file(path) {
        Ok(config) => config,
        Err(e) => {
            report.problems.push(e.into());
            return report;
        }
    };
    report.problems.extend(
        config
            .problems()
            .into_iter()
            .map(|e| Problem::Config(e.into())),
    );
    if let Some(tls) = &config.tls {
        report
            .problems
            .extend(check_tls(tls).err().map(Problem::from));
    }
    if let Some(handler) = &config.guest.handler {
        match check_handler(handler) {
            Ok(note) => report.notes.push(note),
            Err(problem) => report.problems.push(problem),
        }
    }
    report.problems.extend(
        [
            ("data_dir", Some(&config.data_dir)),
            ("guest.guests_dir", config.guest.guests_dir.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, path)| not_a_folder(key, path?)),
    );
    if let Some(path) = &config.log.access_file {
        report.problems.extend(check_access_file(path));
    }
    if let Some(cluster) = &config.cluster {
        report.notes.push(format!(
            "[cluster] store {} and feed not contacted: check-config uses no network",
            cluster.store
        ));
    }
    report
}

/// Loads the certificate and key and builds the acceptor, as `serve` does before anything else.
fn check_tls(tls: &TlsConfig) -> Result<(), TlsError> {
    Certificates::load(tls)?.acceptor().map(drop)
}

/// Reads the handler and checks it is a valid component of the handler world at a version this host runs;
/// on success, the note saying what was not checked.
fn check_handler(path: &Path) -> Result<String, Problem> {
    let wasm = std::fs::read(path).map_err(|error| Problem::HandlerRead {
        path: path.to_owned(),
        error,
    })?;
    let claimed = strata_runtime::inspect(&wasm).map_err(|error| Problem::HandlerInvalid {
        path: path.to_owned(),
        error,
    })?;
    if claimed.kind != GuestKind::Handler {
        return Err(Problem::HandlerWorld {
            path: path.to_owned(),
            kind: claimed.kind,
        });
    }
    Ok(format!(
        "handler {} is a valid component of {} ({WIT_PACKAGE}@{}); not compiled or linked here, so an \
         import the host does not provide is found only by serve",
        path.display(),
        claimed.kind.world(),
        claimed.abi
    ))
}

/// A problem when the access log file cannot be created or appended to where it is named: its folder is
/// missing, or the path is a folder. (Permissions are the service's, not this command's: not checked.)
fn check_access_file(path: &Path) -> Option<Problem> {
    let reason = if path.is_dir() {
        "is a folder"
    } else {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if folder.is_dir() {
            return None;
        }
        "its folder does not exist"
    };
    Some(Problem::AccessLog {
        path: path.to_owned(),
        reason,
    })
}

/// A problem when `path` exists and is not a folder (a missing one is created by `serve`).
fn not_a_folder(key: &'static str, path: &Path) -> Option<Problem> {
    let exists_as_other = std::fs::metadata(path).is_ok_and(|m| !m.is_dir());
    exists_as_other.then(|| Problem::NotAFolder {
        key,
        path: path.to_owned(),
    })
}
