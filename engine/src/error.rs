//! The engine's one error type. Every variant that comes from user input carries a [`Location`], so the
//! binary can print `file:line:column`, the offending line and a hint, the way a compiler does.

use crate::location::Location;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or invalid: YAML syntax, unknown keywords, bad values, missing files named
    /// by a playbook. ansible-playbook exits 4 for these (AnsibleParserError).
    #[error("{message}")]
    Parse {
        location: Location,
        message: String,
        hint: Option<String>,
    },
    /// A template failed to render or evaluate.
    #[error("{message}")]
    Template {
        location: Option<Location>,
        message: String,
        hint: Option<String>,
    },
    /// Bad command-line options (exit 5 like ansible-playbook).
    #[error("{message}")]
    Options {
        message: String,
        hint: Option<String>,
    },
    /// A file the user named could not be read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn parse(location: Location, message: impl Into<String>) -> Self {
        Error::Parse {
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn options(message: impl Into<String>) -> Self {
        Error::Options {
            message: message.into(),
            hint: None,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Adds (or replaces) the hint printed under the error.
    #[must_use]
    pub fn with_hint(mut self, new_hint: impl Into<String>) -> Self {
        match &mut self {
            Error::Parse { hint, .. }
            | Error::Template { hint, .. }
            | Error::Options { hint, .. } => {
                *hint = Some(new_hint.into());
            }
            Error::Io { .. } => {}
        }
        self
    }

    /// Attaches a location to an error that has none yet (templates rendered from a known task key).
    #[must_use]
    pub fn at(mut self, new_location: &Location) -> Self {
        if let Error::Template { location, .. } = &mut self {
            if location.is_none() {
                *location = Some(new_location.clone());
            }
        }
        self
    }

    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Parse { location, .. } => Some(location),
            Error::Template { location, .. } => location.as_ref(),
            Error::Options { .. } | Error::Io { .. } => None,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Parse { hint, .. }
            | Error::Template { hint, .. }
            | Error::Options { hint, .. } => hint.as_deref(),
            Error::Io { .. } => None,
        }
    }

    /// The process exit code ansible-playbook uses for the same kind of failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Parse { .. } | Error::Io { .. } => 4,
            Error::Options { .. } => 5,
            Error::Template { .. } => 1,
        }
    }
}
