//! What an error means for the process's exit code (docs/DESIGN.md §2): each layer's error type
//! says its class, so that no call site has to pick a code.
//!
//! Invariants: `Usage` (exit 2) only for errors found before anything was sent to a provider;
//! everything after the first request is `Runtime` (exit 1), because rows may have been reset.

/// The exit class of an error that ends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Usage, config, manifest or output-folder error: nothing was sent (exit 2).
    Usage,
    /// A failure while or after sending (exit 1).
    Runtime,
}

/// An error type that knows its exit class.
pub trait Classified {
    fn exit_class(&self) -> ExitClass;
}
