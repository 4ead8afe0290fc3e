//! The result type shared by every sans-IO parser in the crate.
//!
//! The rule every parser keeps: it either recognises a complete item, or says it needs more
//! bytes and consumes nothing, or returns its own error type.

/// Outcome of a parse that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A complete item was recognised.
    Complete(T),
    /// More input is needed; nothing was consumed.
    Partial,
}

impl<T> Status<T> {
    /// `true` when the item is complete.
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }
}
