//! `lockgate`: the host CLI. `cargo xtask vm-test` is the same run with the workspace's set-up.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lockgate", about = "Prove a Landlock sandbox enforcer really enforces, on real kernels in QEMU")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot the kernel matrix, run the scenarios, judge and snapshot them.
    Run(lockgate::cli::VmTestArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Run(args) => match args.finish(lockgate::run::run(&args.options())) {
            Ok(passed) => i32::from(!passed),
            Err(e) => {
                eprintln!("lockgate: error: {e:#}");
                2
            }
        },
    };
    std::process::exit(code);
}
