//! lockgate's host side. Data flows one way:
//! load (`model`) → plan (`plan`) → stage (`stage`, `supply`, `image`, `env`) → boot (`vm`,
//! `pool`) → observe (`observe`) → judge (`judge`) → report (`report`); `run` strings them
//! together, `cli` is the product's command line.
//!
//! The modules are private: what a user of the library has is this façade — the command line
//! ([`cli`]), a run ([`run`], [`RunOptions`], [`RunReport`]) and the events a run emits
//! ([`Event`], [`set_sink`]). lockgate's own xtask and integration tests reach further through
//! [`internals`], which is not an API. `cargo xtask lint` fails on a `pub mod` beyond these.

mod cache;
pub mod cli;
mod elf;
mod enforcer;
mod env;
mod error;
mod event;
mod image;
mod invocation;
mod judge;
mod model;
mod observe;
mod plan;
mod pool;
mod provenance;
mod report;
mod run;
mod stage;
mod supply;
mod vm;

pub use event::{set_sink, Event, Sink};
pub use report::{CellResult, CellState, RunReport};
pub use run::{run, RunOptions};

#[doc(hidden)]
pub mod internals;
