//! Rendering an [`crate::Error`] like a compiler does.
