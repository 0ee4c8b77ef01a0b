//! `cargo xtask book`: lockgate's book (`book/`, mdBook as a library: no mdbook binary, no
//! server) built into `target/book`, after its generated pages are checked (or, with `--write`,
//! rewritten), and every link of the built book checked. `cargo xtask lint` runs it.

use anyhow::{Context, Result};
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub(crate) struct BookArgs {
    /// Rewrite the generated reference pages (and the coverage table) from the code before
    /// building; without it a stale page fails.
    #[arg(long)]
    pub write: bool,
}

/// Generated pages, build, links; whether all held. Each problem is printed with its fix.
pub(crate) fn book(args: &BookArgs) -> Result<bool> {
    let root = lockgate::internals::supply::guest::workspace_root();
    let mut ok = true;
    for (page, text) in crate::book_pages::pages(&root)? {
        let path = root.join(page);
        let now = std::fs::read_to_string(&path).unwrap_or_default();
        if now == text {
            continue;
        }
        if args.write {
            std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
            println!("{page}: rewritten from the code");
        } else {
            println!("{page} is stale (the code says otherwise): run `cargo xtask book --write`");
            ok = false;
        }
    }
    // The coverage table is made from the recorded snapshots too: the product's command keeps it.
    ok &= crate::product(&["coverage", if args.write { "--book" } else { "--check" }])?;
    ok &= build(&root.join("book"))?;
    Ok(ok)
}

/// Build the book and check its links.
fn build(book: &Path) -> Result<bool> {
    let md =
        mdbook_driver::MDBook::load(book).with_context(|| format!("cannot load the book in {}", book.display()))?;
    md.build().with_context(|| format!("cannot build the book in {}", book.display()))?;
    let out = book.join(&md.config.build.build_dir);
    let out = out.canonicalize().unwrap_or(out);
    let mut problems = crate::book_links::check(&out)?;
    let root = book.parent().unwrap_or(book);
    problems.extend(crate::book_links::check_markdown(root, "README.md", &out)?);
    for p in &problems {
        println!("broken link: {p}");
    }
    if problems.is_empty() {
        println!("book: built into {} with every link resolved", out.display());
    }
    Ok(problems.is_empty())
}
