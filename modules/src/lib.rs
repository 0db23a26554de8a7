//! ply's built-in modules.
