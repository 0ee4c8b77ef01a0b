//! lockgate's integration tests, as one test binary (issue 30): each file below was a test
//! binary of its own, and each linked the whole lockgate crate again; `cargo test` ran them one
//! after another, so while one binary's last VM test booted its one guest, the other core
//! idled. As modules of one binary they link once and share the test threads: a test that
//! waits (a hanging guest, a deadline, a download) leaves its core to another test's boot.
//!
//! Every test keeps its own temporary directory and its own run; where several tests ask for
//! the same run (same kernel, environment and enforcer) they share one boot through
//! [`shared`], which says for each group why sharing leaves each test what it asserts.

mod action_install;
mod common;
mod shared;

mod apparmor;
mod containers;
mod crossing;
mod example_project;
mod faults;
mod html_report;
mod insta_review;
mod kernel_axis;
mod kernel_drift;
mod kernel_sources;
mod latest_lane;
mod namespaces;
mod native_policy;
mod openshell_format;
mod outside_runs;
mod package;
mod parsers_fuzz;
mod schemas;
mod static_binary;
mod syscall_probes;
mod verdict_words;
mod vm;
mod vm_adapter;
mod workflows;
