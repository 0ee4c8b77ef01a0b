//! The harness's own errors where they cross modules: why a cell was not judged — its kernel
//! could not be had (staging), its boot gave no usable observations (the pool), or its
//! environment failed the case (the guest said so) — carried from the pool through the judge
//! to every report. Each says in its `Display` the very sentence a run prints.

use crate::observe::RecordError;
use std::path::PathBuf;

/// Why a cell has no verdict: a harness error, never a pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    /// Its kernel could not be fetched or built, so it was not booted: none of its cells ran.
    #[error(
        "kernel {kernel} could not be fetched, so it was not booted and none of its cells ran: {cause}\nwhat to do: make its source reachable (or fix its manifest, {}), then rerun; or leave it out with --kernel",
        manifest.display()
    )]
    KernelUnavailable {
        kernel: String,
        /// The kernel's manifest file.
        manifest: PathBuf,
        /// Why, as staging found it.
        cause: String,
    },
    /// Its kernel's boot gave no usable observations (every cell of the boot is this error).
    #[error("harness error on {kernel}: {cause}\n--- console tail ---\n{console_tail}")]
    Boot { kernel: String, cause: BootError, console_tail: String },
    /// The guest could not make the case's environment (a container that did not start, …).
    #[error("harness error on {kernel}: {cause}")]
    Environment { kernel: String, cause: String },
}

/// Why a boot gave no usable observations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootError {
    /// QEMU could not be run, or the boot's files not written.
    #[error("{0}")]
    Qemu(String),
    /// The records broke the protocol.
    #[error(transparent)]
    Records(RecordError),
    /// The guest powered off before its final record (`at`: during which case).
    #[error("the guest powered off{at}: {cause}")]
    PoweredOff { at: String, cause: RecordError },
    /// The boot ended otherwise (a deadline, a stall, a panic, QEMU's own exit), in the words of
    /// the console's account of it.
    #[error("{0}")]
    Ended(String),
    /// The guest's Landlock probe contradicts the kernel's manifest.
    #[error(transparent)]
    AbiMismatch(Box<AbiMismatch>),
}

/// The guest's Landlock probe answered otherwise than the kernel's manifest says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "kernel {kernel}: the manifest ({}) says Landlock {expected}, but the guest's probe answered {probed} (release {release}){explanation}; fix the manifest or the kernel",
    manifest.display()
)]
pub struct AbiMismatch {
    pub kernel: String,
    pub manifest: PathBuf,
    pub expected: String,
    pub probed: String,
    pub release: String,
    /// `: <why>` when the preflight explains it, else empty.
    pub explanation: String,
}
