//! `lockgate`: the host CLI, for a project that does not take lockgate into its xtask. Run from
//! the project's lockgate directory (or name it with `--project`); `cargo xtask vm-test` in a
//! project that depends on lockgate is the same run.

fn main() {
    lockgate::cli::main(None);
}
