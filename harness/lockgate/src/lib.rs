//! lockgate's host side. Data flows one way:
//! load ([`model`]) → plan ([`plan`]) → fetch ([`fetch`]) → image ([`image`]) → boot ([`vm`])
//! → observe ([`observe`]) → judge ([`judge`]) → report ([`report`]). [`run`] strings them together.

pub mod cache;
pub mod cli;
mod elf;
pub mod enforcer;
pub mod env;
pub mod event;
pub mod fetch;
pub mod guest_build;
pub mod image;
pub mod judge;
pub mod model;
pub mod observe;
pub mod plan;
pub mod pool;
pub mod provenance;
pub mod report;
pub mod run;
pub mod shipped;
pub mod stage;
pub mod vm;
