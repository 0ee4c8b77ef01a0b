//! The latest-versions lane (issue 27, item 4) against the real registries, like the kernels'
//! drift test against the real archive (network: the registries npm, cargo and apt are
//! configured for on this machine, nothing else): every pinned enforcer of the repository is
//! resolved to its registry's newest release — a version at least the pin's, with the digest
//! the registry gives (the npm tarball already checked against `dist.integrity`; the crate's
//! index checksum; the .deb's SHA256 in Debian unstable's signed index, with unstable's C
//! library beside a binary built for it; the newest `linux-source-X.Y` for the kernel's sample)
//! — and the newest bubblewrap is fetched, checked against that digest, into the cache where a
//! run's staging finds it.

use lockgate::internals::supply::latest::version_of;
use lockgate::internals::supply::recipe::{recipe_in, Recipe};
use std::path::Path;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `a >= b` by their dotted numbers (what precedes a platform or Debian suffix).
fn at_least(a: &str, b: &str) -> bool {
    let nums = |v: &str| -> Vec<u64> {
        v.split(['-', '+', '~']).next().unwrap_or("").split('.').map(|p| p.parse().unwrap_or(0)).collect()
    };
    nums(a) >= nums(b)
}

#[test]
fn every_pinned_enforcer_resolves_to_its_registry_s_newest_release() {
    let root = root();
    let cache = lockgate::internals::supply::open_cache(None).unwrap();
    let mut supply = lockgate::internals::supply::for_repo(&root, &root.join("kernels"), cache, false).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(root.join("enforcers")).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let mut seen = 0;
    for f in files.iter().filter(|p| p.extension().is_some_and(|x| x == "yaml")) {
        let Some((name, pinned)) = recipe_in(f).unwrap() else { continue };
        let newest = supply.newest(&pinned).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let (pv, nv) = (version_of(&pinned), version_of(&newest.recipe));
        eprintln!("{name}: pinned {pv}, newest {nv} ({})", newest.registry_says);
        match (&pinned, &newest.recipe) {
            (
                Recipe::Npm { package: a, version: p, file: fa, .. },
                Recipe::Npm { package: b, version: n, sha256, file: fb },
            ) => {
                assert_eq!((a, fa), (b, fb), "{name}: same package and file");
                assert!(at_least(n, p) && is_sha256(sha256), "{name}: {n} {sha256}");
                assert_eq!(p.contains("-linux-x64"), n.contains("-linux-x64"), "{name}: the platform build kept");
                assert!(newest.registry_says.starts_with("dist.integrity sha512-"), "{}", newest.registry_says);
            }
            (
                Recipe::CargoInstall { version: p, .. } | Recipe::CrateExample { version: p, .. },
                Recipe::CargoInstall { version: n, sha256, .. } | Recipe::CrateExample { version: n, sha256, .. },
            ) => {
                assert!(at_least(n, p) && is_sha256(sha256), "{name}: {n} {sha256}");
            }
            (Recipe::Deb { package: p, .. }, Recipe::Deb { package: n, sha256, libraries, .. }) => {
                assert_eq!((n.name.as_str(), n.suite.as_str()), (p.name.as_str(), "unstable"), "{name}");
                assert!(is_sha256(sha256), "{name}: {sha256}");
                assert!(libraries.iter().any(|l| l.name == "libc6" && is_sha256(&l.sha256)), "{name}: {libraries:?}");
            }
            (Recipe::LinuxSample { package: p, .. }, Recipe::LinuxSample { package: n, tarball, .. }) => {
                let xy = |s: &str| s.trim_start_matches("linux-source-").to_string();
                assert!(at_least(&xy(&n.name), &xy(&p.name)), "{name}: {} after {}", n.name, p.name);
                assert_eq!(tarball, &format!("usr/src/{}.tar.xz", n.name));
                assert!(newest.source_sha256.as_deref().is_some_and(is_sha256));
            }
            (p, n) => panic!("{name}: the newest {n:?} is not the pin's kind of recipe {p:?}"),
        }
        assert_eq!(newest.is_pinned(&pinned), pv == nv);
        seen += 1;
        if name == "bubblewrap" {
            // Fetched and checked against the index's digest, where staging finds it.
            let path = supply.fetch_newest(&name, &newest).unwrap();
            let cache = lockgate::internals::supply::open_cache(None).unwrap();
            assert_eq!(path, newest.recipe.cached_path(&cache, &name));
            assert!(std::fs::metadata(&path).unwrap().len() > 10_000, "{}", path.display());
        }
    }
    assert!(seen >= 6, "only {seen} pinned enforcers");
}
