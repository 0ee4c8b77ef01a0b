//! lockgate's host side. Data flows one way:
//! load ([`model`]) → plan ([`plan`]) → fetch ([`fetch`]) → image ([`image`]) → boot ([`vm`])
//! → observe ([`observe`]) → judge ([`judge`]) → report ([`report`]). [`run`] strings them together.

pub mod event;
pub mod model;
pub mod env;
pub mod cache;
pub mod fetch;
pub mod image;
pub mod guest_build;
pub mod vm;
pub mod observe;
pub mod enforcer;
pub mod plan;
pub mod stage;
pub mod pool;
pub mod judge;
pub mod provenance;
pub mod report;
pub mod run;
pub mod cli;
