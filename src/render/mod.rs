//! What people read, rendered from the commands' results: the compliance
//! report an auditor reads ([`report`]) and the recovery-key sheet a
//! custodian prints ([`sheet`]). Nothing here reads a repository.

pub mod metrics;
pub mod report;
pub mod sheet;
