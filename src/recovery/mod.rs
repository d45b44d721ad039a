//! Recovery keys (placeholder).
