//! What the recipe SDK refuses at compile time.

use std::path::Path;
use std::process::Command;

/// A recipe library built with `panic = "abort"`; its own project, made in a scratch directory.
fn abort_crate(dir: &Path) {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../buildout-core").canonicalize().expect("buildout-core");
    let manifest = format!(
        "[package]\nname = \"panic-abort-recipes\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[lib]\nname = \"panic_abort_recipes\"\ncrate-type = [\"cdylib\"]\n\n\
         [dependencies]\nbuildout-core = {{ path = {:?}, default-features = false }}\n\n[profile.dev]\npanic = \"abort\"\n",
        core.display().to_string()
    );
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(
        dir.join("src/lib.rs"),
        "use std::path::PathBuf;\nuse buildout_core::sdk::{Context, Options, Recipe, RecipeError};\n\n\
         struct Nothing;\n\nimpl Recipe for Nothing {\n    \
         fn new(_: &Context<'_>, _: &mut Options) -> Result<Self, RecipeError> { Ok(Nothing) }\n    \
         fn install(&mut self, _: &Context<'_>, _: &Options) -> Result<Vec<PathBuf>, RecipeError> { Ok(Vec::new()) }\n}\n\n\
         buildout_core::export_recipes! {\n    distribution: \"panic.abort.recipes\",\n    version: \"0.1.0\",\n    \
         entries: { \"default\" => Nothing },\n}\n",
    )
    .expect("write lib.rs");
}

/// A panicking recipe built with `panic = "abort"` would take buildout down with it:
/// `export_recipes!` stops such a build with a message saying why and what to change.
#[test]
fn a_panic_abort_recipe_library_does_not_compile() {
    let (_t, dir) = tests::scratch();
    abort_crate(&dir);
    // Its own target directory under target/ (kept between runs): the profile differs from the
    // workspace's, so nothing could be shared anyway.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/panic-abort");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build must fail:\n{stderr}");
    assert!(
        stderr.contains("a buildout recipe library must be built with panic = \"unwind\""),
        "the refusal says why:\n{stderr}"
    );
}

/// A recipe crate depends on the recipe ABI and SDK alone: `examples/recipe-hello` (default
/// features of buildout-core off) has at most 20 packages in its whole `cargo tree`, proc-macros
/// and build dependencies included, and none of buildout's own (HTTP, zip, abi_stable, ...).
#[test]
fn a_recipe_crate_has_a_small_dependency_tree() {
    let manifest = tests::workspace_root().join("examples/recipe-hello/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--quiet", "--locked", "--prefix", "none", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("run cargo tree");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut packages: Vec<&str> =
        stdout.lines().filter_map(|l| l.split_whitespace().next()).filter(|name| !name.is_empty()).collect();
    packages.sort_unstable();
    packages.dedup();
    assert!(packages.len() <= 20, "{} packages: {packages:?}", packages.len());
    for host_only in ["abi_stable", "ureq", "zip", "object", "pep508_rs", "tempfile", "thiserror"] {
        assert!(!packages.contains(&host_only), "{host_only} is in the SDK's tree: {packages:?}");
    }
    assert!(packages.contains(&"buildout-core") && packages.contains(&"serde_json"), "{packages:?}");
}
