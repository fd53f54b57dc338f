//! The index through the HTTP cache in newest mode (the default): the README example's egg part
//! (`eggs = ZEO`, nothing pinned) against a local mirror of PyPI's pages that sends cache
//! headers. While the pages are fresh a run that finds everything installed asks the index
//! nothing; once they are stale it asks only whether they changed (`304 Not Modified`).

use std::path::Path;

use tests::mirror::{Freshness, Mirror};
use tests::zeo::{PINS, projects};
use tests::{Outcome, cargo_artifact, existing_uv, run_buildout, scratch};

fn config(index: &str) -> String {
    format!(
        "[buildout]\nparts = zodb\nindex = {index}\n\n[zodb]\nrecipe = zc.recipe.egg:script\neggs = ZEO\ninterpreter = py\n"
    )
}

fn env(cache: &Path) -> Vec<(String, String)> {
    let lib = cargo_artifact("recipe-egg", "zc_recipe_egg");
    vec![
        ("BUILDOUT_RECIPE_PATH".to_owned(), lib.parent().expect("dir").display().to_string()),
        ("BUILDOUT_CACHE_DIR".to_owned(), cache.display().to_string()),
        ("BUILDOUT_UV".to_owned(), existing_uv().display().to_string()),
    ]
}

/// Installs the part against `mirror`, then runs buildout again: what the second run printed.
fn install_then_rerun(mirror: &Mirror) -> Outcome {
    let (_t, dir) = scratch();
    let cache = dir.join("cache");
    std::fs::write(dir.join("buildout.cfg"), config(&mirror.index_url())).expect("write");
    let first = run_buildout(&dir, &[], &env(&cache));
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("Generated script '{DIR}/bin/runzeo'.\n"), "{}", first.stdout);
    assert!(mirror.missing().is_empty(), "projects to add to the mirror: {:?}", mirror.missing());
    let py = std::process::Command::new(dir.join("bin/py")).args(["-c", "import ZEO"]).output().expect("bin/py");
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    mirror.reset();
    let second = run_buildout(&dir, &[], &env(&cache));
    assert_eq!(second.status, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(!second.stdout.contains("Generated"), "nothing changed, nothing is generated:\n{}", second.stdout);
    second
}

#[test]
fn fresh_pages_cost_no_request() {
    let mirror = Mirror::of_pypi(&projects(), Freshness::Fresh);
    let second = install_then_rerun(&mirror);
    assert_eq!(mirror.requests(), 0, "{:?}\n{}{}", mirror.served(), second.stdout, second.stderr);
}

#[test]
fn stale_pages_cost_one_conditional_request_each() {
    let mirror = Mirror::of_pypi(&projects(), Freshness::Stale);
    let second = install_then_rerun(&mirror);
    let served = mirror.served();
    assert!(served.iter().all(|s| s.status == 304), "only 304s: {served:?}\n{}{}", second.stdout, second.stderr);
    assert_eq!(mirror.requests(), PINS.len() as u64, "one request per distribution: {served:?}");
    let mut paths: Vec<&str> = served.iter().map(|s| s.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), PINS.len(), "{paths:?}");
}
