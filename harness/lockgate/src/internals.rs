//! What lockgate's own xtask (bench, boot-soak) and its integration tests reach beyond the
//! façade: a list of items, each re-exported by name, under the path of the module that defines
//! it. Not an API: nothing here is promised to a project, and a new entry needs a caller in
//! lockgate's own workspace. Whole modules are never re-exported, so the compiler still reports
//! every item nobody uses.

pub mod cache {
    pub use crate::cache::{sha256_bytes, sha256_file, Cache};
}
pub mod enforcer {
    pub use crate::enforcer::{load, reference, EnforcerChoice, RunAs};
}
pub mod env {
    pub use crate::env::{prepare, Prepared};
}
pub mod image {
    pub mod newc {
        pub use crate::image::newc::Newc;
    }
}
pub mod judge {
    pub use crate::judge::Status;
}
pub mod known_bad {
    pub use crate::cli::known_bad::{gate, KnownBadArgs};
}
pub mod model {
    pub use crate::model::{load, load_kernel, load_scenario, parse_yaml, MatrixDirs, Model};
    pub mod environment {
        pub use crate::model::environment::EnvKind;
    }
    pub mod kernel {
        pub use crate::model::kernel::{KernelManifest, KernelSource};
    }
    pub mod scenario {
        pub use crate::model::scenario::{Denier, Scenario};
    }
    pub mod schema {
        pub use crate::model::schema::{all, covered_files, modeline_problem, SchemaFile, MODELINE};
    }
}
pub mod plan {
    pub use crate::plan::{plan, select_environments, select_kernels, Selection};
}
pub mod report {
    pub mod failure {
        pub use crate::report::failure::{render, Context};
    }
    pub mod html {
        pub use crate::report::html::render;
    }
    pub mod junit {
        pub use crate::report::junit::render;
    }
    pub mod markdown {
        pub use crate::report::markdown::render;
    }
    pub mod table {
        pub use crate::report::table::render;
    }
}
pub mod run {
    pub use crate::run::{run, BootSummary, RunOptions, RunReport, VariantOptions};
}
pub mod supply {
    pub use crate::supply::{for_repo, open_cache, Supply};
    pub mod guest {
        pub use crate::supply::guest::{build, workspace_root};
    }
    pub mod kernel_build {
        pub use crate::supply::kernel_build::missing_build_packages;
    }
    pub mod lock {
        pub use crate::supply::lock::LockFile;
    }
    pub mod recipe {
        pub use crate::supply::recipe::{calls_landlock, installs_seccomp_filter, recipe_in, Recipe};
    }
    pub mod latest {
        pub use crate::supply::latest::{version_of, Newest};
    }
}
pub mod setup {
    pub use crate::cli::setup::{
        ensure_browser, ensure_cargo_insta, ensure_enforcer_tools, ensure_host_tools, repository_recipes,
        CARGO_INSTA_VERSION,
    };
}
pub mod vm {
    pub mod accel {
        pub use crate::vm::accel::AccelChoice;
    }
    pub mod console {
        pub use crate::vm::console::{boot, Ended, Watch};
    }
    pub mod qemu {
        pub use crate::vm::qemu::{command, qemu_binary, Accel, Boot};
    }
}
