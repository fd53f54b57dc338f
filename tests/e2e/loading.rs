//! Recipe libraries: finding them by entry name, loading them through the stable ABI, and every
//! loading error, through the real binary and through the library API.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildout_core::abi::HostService;
use buildout_core::abi::wire::{self, ErrorKind};
use buildout_core::loader::{LoadError, Loader, library_file_name};
use tests::{cargo_artifact, run_buildout, scratch};

/// The directory of the test recipe libraries (built on demand into `target/test-recipes`).
fn recipe_dir() -> PathBuf {
    for (package, target) in [
        ("buildout-testrecipes", "buildout_testrecipes"),
        ("buildout-not-a-recipe", "not_a_recipe"),
        ("buildout-other-abi", "other_abi"),
        ("buildout-other-layout", "other_layout"),
    ] {
        cargo_artifact(package, target);
    }
    cargo_artifact("buildout-testrecipes", "buildout_testrecipes").parent().expect("artifact directory").to_path_buf()
}

/// The directory of the shipped recipe libraries (built on demand, beside `buildout`).
fn shipped_dir() -> PathBuf {
    cargo_artifact("recipe-zodb", "zc_zodbrecipes");
    cargo_artifact("recipe-egg", "zc_recipe_egg").parent().expect("artifact directory").to_path_buf()
}

/// Both, as `BUILDOUT_RECIPE_PATH`.
fn with_recipes() -> Vec<(String, String)> {
    let path = std::env::join_paths([recipe_dir(), shipped_dir()]).expect("a search path");
    vec![("BUILDOUT_RECIPE_PATH".into(), path.to_string_lossy().into_owned())]
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn shipped_libraries_are_found_by_entry_name() {
    let (_t, dir) = scratch();
    for (spec, dist, entry) in [
        ("zc.zodbrecipes:server", "zc.zodbrecipes", "server"),
        ("zc.recipe.egg:script", "zc.recipe.egg", "script"),
        ("zc.recipe.egg", "zc.recipe.egg", "default"),
        ("buildout.testrecipes:mkdir", "buildout.testrecipes", "mkdir"),
    ] {
        let out = run_buildout(&dir, &args(&["recipes", spec]), &with_recipes());
        assert_eq!(out.status, 0, "{spec}: {}", out.stderr);
        assert!(out.stdout.starts_with(&format!("{dist} ")), "{spec}: {}", out.stdout);
        assert!(out.stdout.contains("(recipe ABI 2.1.0)"), "{}", out.stdout);
        assert!(out.stdout.contains(entry), "{}", out.stdout);
        assert!(out.stdout.contains(&library_file_name(dist)), "{}", out.stdout);
    }
    // The test directory also holds libraries that do not load: listed as errors, exit 1.
    let all = run_buildout(&dir, &args(&["recipes"]), &with_recipes());
    assert_eq!(all.status, 1, "{}", all.stderr);
    for expected in ["zc.zodbrecipes ", "zc.recipe.egg ", "buildout.testrecipes "] {
        assert!(all.stdout.contains(expected), "missing {expected:?} in\n{}", all.stdout);
    }
    assert!(all.stderr.contains("libother_abi.so was built against recipe ABI 3.1"), "{}", all.stderr);
}

/// `recipes` only looks: in a buildout directory it creates nothing (zc.buildout's commands
/// all create `eggs/`, `download-cache` and the like; the ones that are ours do not).
#[test]
fn the_recipes_command_creates_nothing() {
    let (_t, dir) = scratch();
    std::fs::write(dir.join("buildout.cfg"), "[buildout]\nparts =\ndownload-cache = downloads\n").expect("write");
    let listing = tests::names_in;
    // Only loadable libraries on the search path, so that both commands succeed.
    let (_libraries, libraries) = scratch();
    let egg = library_file_name("zc.recipe.egg");
    std::fs::copy(shipped_dir().join(&egg), libraries.join(&egg)).expect("copy");
    let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), libraries.display().to_string())];
    let before = listing(&dir);
    for command in [&["recipes"][..], &["recipes", "zc.recipe.egg"]] {
        let out = run_buildout(&dir, &args(command), &env);
        assert_eq!(out.status, 0, "{command:?}: {}", out.stderr);
        assert!(!out.stdout.contains("Creating directory"), "{command:?}: {}", out.stdout);
        assert_eq!(listing(&dir), before, "{command:?} created something");
    }
}

#[test]
fn loading_errors_are_one_line_with_exit_1() {
    let (_t, dir) = scratch();
    let recipes = recipe_dir();
    // A library whose file name claims another distribution.
    let fake = dir.join("fake");
    std::fs::create_dir_all(&fake).expect("mkdir");
    std::fs::copy(recipes.join(library_file_name("buildout.testrecipes")), fake.join(library_file_name("pretend")))
        .expect("copy");
    std::fs::write(fake.join(library_file_name("garbage")), b"not a library").expect("write");
    let env = vec![("BUILDOUT_RECIPE_PATH".into(), format!("{}:{}", fake.display(), recipes.display()))];
    let cases: &[(&str, &str)] = &[
        (
            "nope:x",
            "Error: Couldn't find the recipe library for nope (libnope.so); searched: {DIR}/fake, {recipes}, {DIR}/recipes,",
        ),
        ("not-a-recipe", "is not a buildout recipe library: it exports no recipe root module"),
        ("garbage", "libgarbage.so is not an ELF file"),
        ("other.abi", "was built against recipe ABI 3.1, this buildout speaks 2.1.0 (and loads 1.x): rebuild it"),
        (
            "other.layout",
            "was built against an incompatible recipe ABI (mismatched type: expected RecipeLibrary, found OtherLibrary); this buildout speaks 2.1.0: rebuild it",
        ),
        ("pretend", "provides recipes for buildout.testrecipes, not pretend"),
        ("zc.zodbrecipes:nope", "zc.zodbrecipes has no recipe entry \"nope\""),
    ];
    for (spec, expected) in cases {
        let out = run_buildout(&dir, &args(&["recipes", spec]), &env);
        let expected = expected
            .replace("{fake}", &fake.display().to_string())
            .replace("{recipes}", &recipes.display().to_string());
        assert_eq!(out.status, 1, "{spec}");
        assert!(out.stderr.contains(&expected), "{spec}: expected {expected:?} in {:?}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{spec}: one line: {:?}", out.stderr);
    }
    let verbose = run_buildout(&dir, &args(&["-v", "recipes", "other.layout"]), &env);
    assert!(verbose.stderr.lines().count() > 20, "-v shows abi_stable's full report");
}

/// Hostile files in place of a recipe library: each is refused from its headers with one line
/// naming the file and what is wrong, by an install and by both forms of `recipes`, and the
/// process exits 1 instead of dying of SIGBUS in `dlopen` (a truncated library did).
#[cfg(target_os = "linux")]
#[test]
fn hostile_library_files_never_crash_the_host() {
    let (_t, dir) = scratch();
    let intact = std::fs::read(cargo_artifact("buildout-testrecipes", "buildout_testrecipes")).expect("read library");
    let size = intact.len();
    let mut foreign = intact.clone();
    // e_machine (bytes 18-19, in the file's byte order, which is this machine's): another
    // architecture than this one.
    let (machine, machine_name): (u16, &str) =
        if std::env::consts::ARCH == "aarch64" { (62, "x86_64") } else { (183, "aarch64") };
    foreign[18..20].copy_from_slice(&machine.to_ne_bytes());
    let arch = std::env::consts::ARCH;
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("empty", Vec::new(), "is empty".to_owned()),
        ("4k", intact[..4096].to_vec(), "is not a complete shared library: segment ".to_owned() + ""),
        ("half", intact[..size / 2].to_vec(), format!("but the file has {} bytes (truncated?)", size / 2)),
        ("text", b"[buildout]\nparts =\n".to_vec(), "is not an ELF file".to_owned()),
        (
            "executable",
            std::fs::read("/bin/true").expect("/bin/true"),
            "is an executable, not a shared library".to_owned(),
        ),
        ("foreign", foreign, format!("was built for {machine_name}, this buildout runs on {arch}")),
    ];
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = d\n\n[d]\nrecipe = buildout.testrecipes:mkdir\npath = made\n",
    )
    .expect("write buildout.cfg");
    for (name, bytes, fragment) in cases {
        let hostile = dir.join("hostile").join(name);
        std::fs::create_dir_all(&hostile).expect("mkdir");
        let library = hostile.join(library_file_name("buildout.testrecipes"));
        std::fs::write(&library, bytes).expect("write");
        let shown = library.display().to_string().replace(&dir.display().to_string(), "{DIR}");
        let expected = format!("Error: {shown} ");
        let env = vec![("BUILDOUT_RECIPE_PATH".to_owned(), hostile.display().to_string())];

        for command in [&["-U"][..], &["-U", "recipes", "buildout.testrecipes"][..]] {
            let out = run_buildout(&dir, &args(command), &env);
            assert_eq!(out.status, 1, "{name} {command:?}: exit 1, not a signal: {}", out.stderr);
            let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("Error:")).collect();
            assert_eq!(errors.len(), 1, "{name} {command:?}: one Error line: {}", out.stderr);
            assert!(
                errors[0].starts_with(&expected) && errors[0].contains(&fragment),
                "{name} {command:?}: {expected:?} and {fragment:?} in {:?}",
                out.stderr
            );
            if name == "4k" {
                assert!(errors[0].ends_with("but the file has 4096 bytes (truncated?)"), "{}", errors[0]);
            }
        }
        assert!(!dir.join("made").exists(), "{name}: nothing was installed");

        // The listing says the same in one `Error:` line, and exits 1.
        let listing = run_buildout(&dir, &args(&["-U", "recipes"]), &env);
        assert_eq!(listing.status, 1, "{name}: {}", listing.stderr);
        let errors: Vec<&str> = listing.stderr.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{name}: one Error line: {}", listing.stderr);
        assert!(errors[0].starts_with(&expected) && errors[0].contains(&fragment), "{name}: {}", listing.stderr);
    }
}

/// A host that answers `get` from a table and keeps what recipes log and create.
#[derive(Default)]
struct TestHost {
    values: BTreeMap<(String, String), String>,
    logs: RefCell<Vec<String>>,
    created: RefCell<Vec<String>>,
}

impl HostService for TestHost {
    fn call(&self, method: &str, payload: &str) -> Result<String, String> {
        match method {
            "get" => {
                let q: wire::GetOption = serde_json::from_str(payload).map_err(|e| e.to_string())?;
                let v = self.values.get(&(q.section, q.option)).cloned();
                Ok(serde_json::to_string(&v).map_err(|e| e.to_string())?)
            }
            "log" => {
                let r: wire::LogRecord = serde_json::from_str(payload).map_err(|e| e.to_string())?;
                self.logs.borrow_mut().push(format!("{}: {}", r.logger, r.message));
                Ok(String::new())
            }
            "created" => {
                let c: wire::Created = serde_json::from_str(payload).map_err(|e| e.to_string())?;
                self.created.borrow_mut().extend(c.paths);
                Ok(String::new())
            }
            other => Err(wire::RecipeError::internal(format!("unknown host method {other}")).to_json()),
        }
    }
}

fn request(entry: &str, part: &str, options: &[(&str, &str)], dir: &Path) -> wire::Construct {
    wire::Construct {
        entry: entry.into(),
        part: part.into(),
        options: options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        buildout: [("directory".to_owned(), dir.display().to_string())].into_iter().collect(),
    }
}

#[test]
fn constructing_installing_and_panicking_through_the_abi() {
    let (_t, dir) = scratch();
    let mut loader = Loader::new(vec![recipe_dir()]);
    let (lib, entry) = loader.entry("buildout.testrecipes:options").expect("loads");
    let mut host = TestHost::default();
    host.values.insert(("other".into(), "x".into()), "42".into());

    // The constructor adds options and reads other sections through the host.
    let (recipe, constructed) =
        lib.construct(&host, &request(&entry, "p", &[("base", "b"), ("read", "other:x")], &dir)).expect("constructs");
    assert_eq!(constructed.options["computed"], "p-b");
    assert_eq!(constructed.options["read-value"], "42");
    assert!(constructed.used.contains(&"base".to_owned()));
    assert_eq!(recipe.call(&host, "install").expect("installs").paths, Some(Vec::new()));
    assert_eq!(recipe.call(&host, "update").expect("updates").paths, None);

    // install returns paths and logs under the part name; created paths reach the host.
    let (lib, entry) = loader.entry("buildout.testrecipes:mkdir").expect("loads");
    let (recipe, constructed) =
        lib.construct(&host, &request(&entry, "d", &[("path", "made")], &dir)).expect("constructs");
    let made = dir.join("made").display().to_string();
    assert_eq!(constructed.options["path"], made);
    assert_eq!(recipe.call(&host, "install").expect("installs").paths, Some(vec![made.clone()]));
    assert!(dir.join("made").is_dir());
    assert_eq!(host.created.borrow().as_slice(), std::slice::from_ref(&made));
    assert_eq!(host.logs.borrow().last().map(String::as_str), Some(format!("d: Creating directory {made}").as_str()));

    // A recipe without update says so; the host then falls back to install.
    let (lib, entry) = loader.entry("buildout.testrecipes:noupdate").expect("loads");
    let (recipe, _) = lib.construct(&host, &request(&entry, "n", &[("path", "n")], &dir)).expect("constructs");
    assert_eq!(recipe.call(&host, "update").map(drop).expect_err("no update").kind, ErrorKind::NoUpdate);

    // Errors and panics come back as values, in construction and in install.
    let (lib, entry) = loader.entry("buildout.testrecipes:panic").expect("loads");
    let err =
        lib.construct(&host, &request(&entry, "x", &[("panic-in", "construct")], &dir)).map(drop).expect_err("panics");
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Panic, "construct panicked as asked"));
    assert!(err.detail.unwrap_or_default().contains("lib.rs"), "the panic location is kept for -D");
    let (recipe, _) =
        lib.construct(&host, &request(&entry, "x", &[("panic-in", "install")], &dir)).expect("constructs");
    let err = recipe.call(&host, "install").expect_err("panics");
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::Panic, "install panicked as asked"));
    // The library survives its panics.
    assert!(recipe.call(&host, "update").is_ok());

    let (lib, entry) = loader.entry("buildout.testrecipes:fail").expect("loads");
    let err =
        lib.construct(&host, &request(&entry, "f", &[("fail-in", "construct")], &dir)).map(drop).expect_err("fails");
    assert_eq!((err.kind, err.message.as_str()), (ErrorKind::User, "construct failed as asked"));

    // Uninstall entries run with the saved options; entries without one are skipped.
    let no_uninstall = wire::Uninstall { entry: "fail".into(), part: "f".into(), options: BTreeMap::new() };
    assert_eq!(lib.uninstall(&host, &no_uninstall).ok(), Some(false), "the fail entry has no uninstall");
    let uninstall = wire::Uninstall { entry: "mkdir".into(), part: "d".into(), options: constructed.options.clone() };
    assert_eq!(lib.uninstall(&host, &uninstall).ok(), Some(true));
    assert_eq!(
        host.logs.borrow().last().map(String::as_str),
        Some(format!("d: Uninstalling directory {made}").as_str())
    );
}

#[test]
fn two_libraries_in_one_process_answer_for_themselves() {
    let mut loader = Loader::new(vec![recipe_dir(), shipped_dir()]);
    let zodb = loader.library("zc.zodbrecipes").expect("zodb loads");
    let test = loader.library("buildout.testrecipes").expect("test recipes load");
    let egg = loader.library("zc.recipe.egg").expect("egg loads");
    assert_eq!(zodb.metadata.distribution, "zc.zodbrecipes");
    assert_eq!(test.metadata.distribution, "buildout.testrecipes");
    assert_eq!(egg.metadata.distribution, "zc.recipe.egg");
    assert_eq!(zodb.metadata.entries, ["server"]);
    assert!(test.metadata.entries.contains(&"panic".to_owned()));
    // Each library is loaded once.
    assert!(std::rc::Rc::ptr_eq(&zodb, &loader.library("zc.zodbrecipes").expect("cached")));
    assert!(matches!(loader.entry("zc.zodbrecipes:mkdir"), Err(LoadError::UnknownEntry { .. })));
}

#[test]
fn develop_reports_a_crate_that_does_not_compile() {
    let (_t, dir) = scratch();
    let krate = dir.join("broken");
    std::fs::create_dir_all(krate.join("src")).expect("mkdir");
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )
    .expect("write");
    std::fs::write(krate.join("src/lib.rs"), "pub fn oops( {\n").expect("write");
    std::fs::write(dir.join("buildout.cfg"), "[buildout]\nparts =\ndevelop = broken\n").expect("write");
    let out = run_buildout(&dir, &args(&["recipes"]), &with_recipes());
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stdout.contains("Develop: '{DIR}/broken'"), "{}", out.stdout);
    assert!(out.stderr.starts_with("While:\n  Processing directories listed in the develop option\nError: Building the recipe crate {DIR}/broken failed:\n"), "{}", out.stderr);
    assert!(out.stderr.contains("error"), "cargo's diagnostics are shown: {}", out.stderr);
}

#[test]
fn develop_builds_the_example_recipe_crate_once_and_uses_it() {
    let (_t, dir) = scratch();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/recipe-hello").canonicalize().expect("example");
    let config = format!(
        "[buildout]\ndevelop = {}\nparts = hello\n\n[hello]\nrecipe = hello.recipes:template\noutput = greeting.txt\n\
         name = world\ninline =\n    Hello, {{{{name}}}}!\n",
        example.display()
    );
    std::fs::write(dir.join("buildout.cfg"), config).expect("write");
    // Share one target directory between runs of this test, so only the first one compiles.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/develop-tests");
    let env = vec![("CARGO_TARGET_DIR".to_owned(), target.display().to_string())];
    let first = run_buildout(&dir, &args(&["-U"]), &env);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert!(first.stdout.contains(&format!("Develop: '{}'\n", example.display())), "{}", first.stdout);
    assert!(first.stdout.contains("Installing hello.\nhello: Rendered {DIR}/greeting.txt\n"), "{}", first.stdout);
    assert_eq!(std::fs::read_to_string(dir.join("greeting.txt")).expect("rendered"), "Hello, world!\n");
    let library = dir.join("develop-eggs").join(library_file_name("hello.recipes"));
    assert!(library.is_file(), "the library is put in develop-eggs");
    let built_at = std::fs::metadata(&library).and_then(|m| m.modified()).expect("mtime");

    // Nothing changed in the crate: no rebuild, the same library, the part is updated.
    let again = run_buildout(&dir, &args(&["-U"]), &env);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(again.stdout.contains("Updating hello.\n"), "{}", again.stdout);
    assert_eq!(std::fs::metadata(&library).and_then(|m| m.modified()).expect("mtime"), built_at);
    let listed = run_buildout(&dir, &args(&["recipes", "hello.recipes:template"]), &env);
    assert!(listed.stdout.contains("\nhello.recipes 0.1.0 (recipe ABI 2.1.0)\n"), "{}", listed.stdout);
    assert!(listed.stdout.contains("{DIR}/develop-eggs/"), "{}", listed.stdout);
}

/// `buildout recipes <dist>` names the copy it loads and every copy further down the search
/// path that it shadows.
#[test]
fn shadowed_copies_are_listed() {
    let (_t, dir) = scratch();
    let lib = cargo_artifact("buildout-testrecipes", "buildout_testrecipes");
    let name = lib.file_name().expect("file name");
    let (first, second) = (dir.join("first"), dir.join("second"));
    for d in [&first, &second] {
        std::fs::create_dir_all(d).expect("mkdir");
        std::fs::copy(&lib, d.join(name)).expect("copy the library");
    }
    let path = std::env::join_paths([&first, &second]).expect("a path list").to_string_lossy().into_owned();
    let out =
        run_buildout(&dir, &args(&["recipes", "buildout.testrecipes"]), &[("BUILDOUT_RECIPE_PATH".to_owned(), path)]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let loaded = format!("file: {{DIR}}/first/{}\n", name.to_string_lossy());
    let shadowed = format!("  shadowed: {{DIR}}/second/{}\n", name.to_string_lossy());
    assert!(out.stdout.contains(&loaded) && out.stdout.contains(&shadowed), "{}", out.stdout);
}

/// A library built for recipe ABI 1 (abi_stable, from the frozen sources in `tests/abi1`) still
/// loads and runs through every entry: construction reading another section, install with a
/// warning, update, its uninstall entry, and a panic that fails its part, not buildout.
#[test]
fn libraries_built_for_recipe_abi_1_keep_working() {
    let (_t, dir) = scratch();
    let library = tests::abi1_library();
    let env = vec![("BUILDOUT_RECIPE_PATH".into(), library.parent().expect("directory").display().to_string())];
    let listed = run_buildout(&dir, &args(&["recipes", "abi1.recipes"]), &env);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("abi1.recipes 1.0.0 (recipe ABI 1.0.0)"), "{}", listed.stdout);

    let config = |parts: &str, extra: &str| {
        format!(
            "[buildout]\nparts = {parts}\n\n[greeting]\nwho = world\n\n[note]\nrecipe = abi1.recipes:note\npath = note.txt\ntext = hello\n{extra}"
        )
    };
    let note = dir.join("note.txt");
    std::fs::write(dir.join("buildout.cfg"), config("note", "")).expect("write");
    let installed = run_buildout(&dir, &[], &env);
    assert_eq!(installed.status, 0, "{}{}", installed.stdout, installed.stderr);
    assert!(installed.stdout.contains("Installing note.\nnote: written by an ABI 1 library"), "{}", installed.stdout);
    assert_eq!(std::fs::read_to_string(&note).expect("note written"), "hello world\n");

    let updated = run_buildout(&dir, &[], &env);
    assert_eq!(updated.status, 0, "{}{}", updated.stdout, updated.stderr);
    assert!(updated.stdout.contains("Updating note.\nnote: updated by an ABI 1 library"), "{}", updated.stdout);

    std::fs::write(dir.join("buildout.cfg"), config("", "")).expect("write");
    let removed = run_buildout(&dir, &[], &env);
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert!(
        removed.stdout.contains("Running uninstall recipe.\nnote: uninstalling {DIR}/note.txt"),
        "{}",
        removed.stdout
    );
    assert!(!note.exists(), "the recorded path is removed");

    std::fs::write(dir.join("buildout.cfg"), config("note", "boom = true\n")).expect("write");
    let broken = run_buildout(&dir, &[], &env);
    assert_eq!(broken.status, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(broken.stderr.contains("the ABI 1 recipe broke"), "{}", broken.stderr);
    assert!(broken.stderr.contains("note"), "the error names the part: {}", broken.stderr);
}
