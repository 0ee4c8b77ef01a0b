//! `cargo xtask vm-test`: lockgate's run, with its flags and reports, on this project's
//! lockgate directory (the workspace root: `scenarios/`, `enforcers/`).

fn main() {
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    lockgate::cli::main(Some(project));
}
