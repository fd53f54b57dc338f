//! Recipe libraries by distribution name (issue 11): `buildout recipes package` writes the recipe
//! wheel of `examples/recipe-hello`; a buildout whose search path has no `libhello_recipes.so`
//! gets `hello.recipes` from a `find-links` directory or a PEP 503 index on 127.0.0.1, under a
//! `[versions]` pin, runs again offline with the index gone, reinstalls its part when the pin
//! changes, and refuses a wheel for another platform or recipe ABI with one line.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tests::simple_index::SimpleIndex;
use tests::{Outcome, run_buildout, scratch};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The wheels of hello.recipes 0.1.0 and 0.2.0.
struct Wheels {
    v1: PathBuf,
    v2: PathBuf,
}

/// Runs `buildout recipes package ...` and returns the wheel it names.
fn package(crate_dir: &Path, out: &Path, cargo_target: &Path, extra: &[&str]) -> PathBuf {
    let (_guard, dir) = scratch();
    let mut command = args(&["recipes", "package"]);
    command.push(crate_dir.display().to_string());
    command.extend(args(&["--out"]));
    command.push(out.display().to_string());
    command.extend(args(extra));
    let env = vec![("CARGO_TARGET_DIR".to_owned(), cargo_target.display().to_string())];
    let outcome = run_buildout(&dir, &command, &env);
    assert_eq!(outcome.status, 0, "packaging {} failed:\n{}", crate_dir.display(), outcome.stderr);
    assert_eq!(outcome.stdout.lines().count(), 1, "one line: {}", outcome.stdout);
    let named = outcome.stdout.strip_prefix("Wrote ").and_then(|rest| rest.split_once(" (")).map(|(path, _)| path);
    let wheel = PathBuf::from(named.unwrap_or_else(|| panic!("no wheel named in {:?}", outcome.stdout)));
    assert!(wheel.is_file(), "{}", wheel.display());
    wheel
}

/// hello.recipes 0.1.0 is `examples/recipe-hello` itself, packaged as documented (release),
/// in the target directory the develop test builds it in, so that it is built once. 0.2.0 is a
/// copy with that version, packaged from a debug build (quicker) in a target directory of its
/// own: a second crate whose library has the same file name cannot share the first's (its build
/// would replace the first's library file, which the develop test copies), and must not build
/// into the workspace's, which would put it beside `buildout`, on the recipe search path.
fn wheels() -> &'static Wheels {
    static WHEELS: OnceLock<Wheels> = OnceLock::new();
    WHEELS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("workspace root");
        let out = root.join("target/recipe-wheels");
        let _ = std::fs::remove_dir_all(&out);
        let example = root.join("examples/recipe-hello");
        let v1 = package(&example, &out.join("0.1.0"), &root.join("target/develop-tests"), &[]);

        let copy = root.join("target/recipe-wheel-tests/hello-0.2.0");
        std::fs::create_dir_all(&copy).expect("mkdir");
        tests::copy_tree(&example.join("src"), &copy.join("src")).expect("copy the sources");
        std::fs::copy(example.join("Cargo.lock"), copy.join("Cargo.lock")).expect("copy Cargo.lock");
        let manifest = std::fs::read_to_string(example.join("Cargo.toml")).expect("Cargo.toml");
        let manifest = manifest
            .replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1)
            .replace("path = \"../../buildout-core\"", &format!("path = \"{}\"", root.join("buildout-core").display()));
        assert!(manifest.contains("0.2.0") && manifest.contains(&root.display().to_string()), "{manifest}");
        // Written only when it changes: cargo rebuilds what a newer manifest touches.
        if std::fs::read_to_string(copy.join("Cargo.toml")).ok().as_deref() != Some(manifest.as_str()) {
            std::fs::write(copy.join("Cargo.toml"), &manifest).expect("write Cargo.toml");
        }
        let v2 = package(&copy, &out.join("0.2.0"), &root.join("target/recipe-wheel-tests/target"), &["--debug"]);
        Wheels { v1, v2 }
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("a file name").to_string_lossy().into_owned()
}

fn hello_config(sources: &str, pin: Option<&str>, extra: &str) -> String {
    let versions = pin.map(|p| format!("\n[versions]\nhello.recipes = {p}\n")).unwrap_or_default();
    format!(
        "[buildout]\nparts = hello\n{sources}\n{extra}\n\n[hello]\nrecipe = hello.recipes:template\n\
         output = greeting.txt\nname = world\ninline =\n    Hello, {{{{name}}}}!\n{versions}"
    )
}

fn signature(dir: &Path) -> String {
    let installed = std::fs::read_to_string(dir.join(".installed.cfg")).expect(".installed.cfg");
    installed.lines().find_map(|l| l.strip_prefix("__buildout_signature__ = ")).unwrap_or_default().to_owned()
}

fn ok(outcome: &Outcome, what: &str) {
    assert_eq!(outcome.status, 0, "{what}:\n{}{}", outcome.stdout, outcome.stderr);
}

/// The `Error:` lines of a failed run: exactly one is expected.
fn error_line(outcome: &Outcome) -> String {
    assert_eq!(outcome.status, 1, "{}{}", outcome.stdout, outcome.stderr);
    let errors: Vec<&str> = outcome.stderr.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 1, "one Error line: {}", outcome.stderr);
    errors[0].to_owned()
}

#[test]
fn a_recipe_wheel_from_find_links_pinned_offline_and_reinstalled_on_a_pin_change() {
    let wheels = wheels();
    let (_guard, dir) = scratch();
    let links = dir.join("links");
    std::fs::create_dir_all(&links).expect("mkdir");
    for wheel in [&wheels.v1, &wheels.v2] {
        std::fs::copy(wheel, links.join(file_name(wheel))).expect("copy the wheel");
    }
    let sources = "find-links = ${buildout:directory}/links\nindex = file:///nonexistent";
    let write = |pin: Option<&str>, extra: &str| {
        std::fs::write(dir.join("buildout.cfg"), hello_config(sources, pin, extra)).expect("write buildout.cfg")
    };

    write(Some("0.1.0"), "");
    // A plan changes nothing: it takes recipe distributions from eggs-directory only.
    let planned = run_buildout(&dir, &args(&["-U", "plan"]), &[]);
    assert_eq!(
        error_line(&planned),
        "Error: We don't have a distribution for hello.recipes==0.1.0 yet, and planning gets none: `buildout` would \
         get it first."
    );
    assert!(!dir.join("eggs").exists(), "nothing fetched by a plan");
    let first = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&first, "first install");
    assert!(
        first.stdout.contains(
            "Getting distribution for 'hello.recipes==0.1.0'.\nGot hello.recipes 0.1.0.\nInstalling hello.\n\
             hello: Rendered {DIR}/greeting.txt\n"
        ),
        "{}",
        first.stdout
    );
    assert_eq!(std::fs::read_to_string(dir.join("greeting.txt")).expect("rendered"), "Hello, world!\n");
    assert_eq!(signature(&dir), "hello.recipes-0.1.0");
    let eggs: Vec<String> = std::fs::read_dir(dir.join("eggs/v5"))
        .expect("eggs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(eggs.len(), 1, "{eggs:?}");
    assert!(eggs[0].starts_with("hello.recipes-0.1.0-py3-manylinux_2_") && eggs[0].ends_with(".egg"), "{eggs:?}");

    // `buildout recipes` says where the library comes from.
    let listed = run_buildout(&dir, &args(&["-U", "recipes", "hello.recipes:template"]), &[]);
    ok(&listed, "recipes");
    assert!(listed.stdout.starts_with("hello.recipes 0.1.0 (recipe ABI "), "{}", listed.stdout);
    assert!(
        listed.stdout.contains(&format!("  file: {{DIR}}/eggs/v5/{}/libhello_recipes.so\n", eggs[0]))
            && listed.stdout.contains("  from: the recipe wheel of hello.recipes 0.1.0 for manylinux_2_"),
        "{}",
        listed.stdout
    );

    let planned = run_buildout(&dir, &args(&["-U", "plan"]), &[]);
    ok(&planned, "plan");
    assert!(planned.stdout.contains("hello"), "{}", planned.stdout);

    // Offline, with the find-links directory gone: what eggs-directory has.
    std::fs::rename(&links, dir.join("links-away")).expect("move the links away");
    let offline = run_buildout(&dir, &args(&["-U", "-o"]), &[]);
    ok(&offline, "offline rerun");
    assert_eq!(offline.stdout, "Updating hello.\n");
    std::fs::rename(dir.join("links-away"), &links).expect("move the links back");

    // A pin change gets the other version and reinstalls the part that uses it.
    write(Some("0.2.0"), "");
    let bumped = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&bumped, "pin change");
    assert!(
        bumped.stdout.contains(
            "Getting distribution for 'hello.recipes==0.2.0'.\nGot hello.recipes 0.2.0.\nUninstalling hello.\n\
             Installing hello.\n"
        ),
        "{}",
        bumped.stdout
    );
    assert_eq!(signature(&dir), "hello.recipes-0.2.0");
    let again = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&again, "rerun");
    assert_eq!(again.stdout, "Updating hello.\n", "the pinned version is installed: nothing to get");

    // Back to the first pin: it is still in eggs-directory, and taken offline.
    write(Some("0.1.0"), "");
    let back = run_buildout(&dir, &args(&["-U", "-o"]), &[]);
    ok(&back, "back to 0.1.0 offline");
    assert_eq!(back.stdout, "Uninstalling hello.\nInstalling hello.\nhello: Rendered {DIR}/greeting.txt\n");
    assert_eq!(signature(&dir), "hello.recipes-0.1.0");

    // A pinned version that is not there, offline: zc.buildout's message.
    write(Some("0.3.0"), "");
    let missing = run_buildout(&dir, &args(&["-U", "-o"]), &[]);
    assert_eq!(missing.status, 1);
    assert_eq!(
        missing.stderr,
        "While:\n  Installing.\n  Getting section hello.\n  Initializing section hello.\n  Installing recipe \
         hello.recipes.\n  Getting distribution for 'hello.recipes==0.3.0'.\nError: We don't have a distribution for \
         hello.recipes==0.3.0\nand can't install one in offline (no-install) mode.\n\n"
    );
    // Online, the index and find-links do not have it either.
    let online = run_buildout(&dir, &args(&["-U"]), &[]);
    assert_eq!(error_line(&online), "Error: Couldn't find a distribution for 'hello.recipes==0.3.0'.");

    // Unpinned: the best version, reported as picked; refused where picking is not allowed.
    write(None, "show-picked-versions = true");
    let picked = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&picked, "picked");
    assert!(picked.stdout.ends_with("[versions]\nhello.recipes = 0.2.0\n"), "{}", picked.stdout);
    assert_eq!(signature(&dir), "hello.recipes-0.2.0", "the best version eggs-directory has");
    write(None, "allow-picked-versions = false");
    let refused = run_buildout(&dir, &args(&["-U"]), &[]);
    assert_eq!(refused.status, 1);
    assert!(
        refused
            .stderr
            .contains("Error: Picked: hello.recipes = 0.2.0\n\nThe `hello.recipes` egg does not have a version pin"),
        "{}",
        refused.stderr
    );

    // The part removed while another remains: the recipe no configured part loads is taken
    // from eggs-directory to uninstall it (hello.recipes has no uninstall entry, which -vv says).
    std::fs::write(
        dir.join("buildout.cfg"),
        "[buildout]\nparts = d\n\n[d]\nrecipe = buildout.testrecipes:mkdir\npath = made\n",
    )
    .expect("write buildout.cfg");
    let removed = run_buildout(&dir, &args(&["-U", "-o", "-vv"]), &tests::recipe_env());
    ok(&removed, "part removed");
    assert!(
        removed.stdout.contains(
            "Uninstalling hello.\nCouldn't load zc.buildout.uninstall entry point template\nfrom hello.recipes:\n"
        ),
        "{}",
        removed.stdout
    );
    assert!(!dir.join("greeting.txt").exists(), "its file is removed");
}

#[test]
fn a_recipe_wheel_from_a_pep_503_index_then_offline_without_it() {
    let wheels = wheels();
    let (_guard, dir) = scratch();
    let served = dir.join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    for wheel in [&wheels.v1, &wheels.v2] {
        std::fs::copy(wheel, served.join(file_name(wheel))).expect("copy the wheel");
    }
    let index = SimpleIndex::serve(&served);
    let sources = format!("index = {}", index.url());
    std::fs::write(dir.join("buildout.cfg"), hello_config(&sources, Some("0.1.0"), "")).expect("write");
    let first = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&first, "from the index");
    assert!(first.stdout.contains("Got hello.recipes 0.1.0.\nInstalling hello.\n"), "{}", first.stdout);
    let asked = index.requests();
    assert_eq!(asked.first().map(String::as_str), Some("/simple/hello-recipes/"), "{asked:?}");
    assert_eq!(asked.get(1), Some(&format!("/files/{}", file_name(&wheels.v1))), "{asked:?}");
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(signature(&dir), "hello.recipes-0.1.0");

    // The index stops: offline runs, and so do online ones (the pinned version is installed).
    drop(index);
    for command in [&["-U", "-o"][..], &["-U"][..]] {
        let again = run_buildout(&dir, &args(command), &[]);
        ok(&again, "without the index");
        assert_eq!(again.stdout, "Updating hello.\n", "{command:?}");
    }
    assert_eq!(std::fs::read_to_string(dir.join("greeting.txt")).expect("rendered"), "Hello, world!\n");
}

/// Rewrites a wheel with its `buildout_recipe.json` saying `abi`.
fn with_abi(wheel: &Path, abi: &str, dest: &Path) {
    let mut from = zip::ZipArchive::new(std::fs::File::open(wheel).expect("open")).expect("a zip");
    let mut to = zip::ZipWriter::new(std::fs::File::create(dest).expect("create"));
    for i in 0..from.len() {
        let mut member = from.by_index(i).expect("member");
        let name = member.name().expect("a member name").into_owned();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).expect("read");
        if name.ends_with("/buildout_recipe.json") {
            let mut info: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            info["abi"] = abi.into();
            bytes = serde_json::to_vec(&info).expect("json");
        }
        let options = zip::write::SimpleFileOptions::default().unix_permissions(member.unix_mode().unwrap_or(0o644));
        to.start_file(name.as_str(), options).expect("start");
        to.write_all(&bytes).expect("write");
    }
    to.finish().expect("finish");
}

#[test]
fn a_wheel_for_another_platform_or_abi_is_refused_with_one_line() {
    let wheels = wheels();
    let (_guard, dir) = scratch();
    let v1 = file_name(&wheels.v1);
    let host_arch = std::env::consts::ARCH;
    let (foreign_arch, this) = if host_arch == "aarch64" { ("x86_64", "aarch64") } else { ("aarch64", "x86_64") };
    let tag = v1.rsplit('-').next().and_then(|t| t.strip_suffix(".whl")).expect("platform tag").to_owned();

    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    let foreign_name = v1.replace(&tag, &format!("manylinux_2_17_{foreign_arch}"));
    std::fs::copy(&wheels.v1, foreign.join(&foreign_name)).expect("copy");
    let abi9 = dir.join("abi9");
    std::fs::create_dir_all(&abi9).expect("mkdir");
    with_abi(&wheels.v1, "9.0.0", &abi9.join(&v1));

    let glibc = buildout_core::package::Platform::host().describe();
    let speaks = buildout_core::abi::ABI_VERSION;
    let cases = [
        (
            "foreign",
            format!(
                "Error: There is no recipe wheel of hello.recipes 0.1.0 for this machine ({glibc}): {foreign_name} is \
                 for linux {foreign_arch} with glibc 2.17 or later"
            ),
        ),
        (
            "abi9",
            format!(
                "Error: {v1} needs recipe ABI 9.0.0, this buildout speaks {speaks} (and loads recipe libraries of ABI 1 \
                 and 2): use a release of hello.recipes built for one of those"
            ),
        ),
    ];
    assert!(glibc.contains(this), "{glibc}");
    for (links, expected) in cases {
        let sources = format!("find-links = ${{buildout:directory}}/{links}\nindex = file:///nonexistent");
        std::fs::write(dir.join("buildout.cfg"), hello_config(&sources, Some("0.1.0"), "")).expect("write");
        let refused = run_buildout(&dir, &args(&["-U"]), &[]);
        assert_eq!(error_line(&refused), expected, "{links}");
        assert!(!dir.join("greeting.txt").exists(), "{links}: nothing installed");
        let eggs = std::fs::read_dir(dir.join("eggs/v5")).map(|d| d.flatten().count()).unwrap_or(0);
        assert_eq!(eggs, 0, "{links}: nothing unpacked");
    }
}

/// A library of recipe ABI 1 (built from the frozen sources in `tests/abi1`) packaged by the
/// same code: its wheel says ABI 1, and buildout installs it by name, runs it, and runs its
/// uninstall entry when the part goes, though no configured part loads it any more.
#[test]
fn a_recipe_wheel_of_recipe_abi_1() {
    let (_guard, dir) = scratch();
    let links = dir.join("links");
    let info = buildout_core::package::CrateInfo::default();
    let packaged = buildout_core::package::package_library(&tests::abi1_library(), &info, &links).expect("packaged");
    assert_eq!((packaged.info.distribution.as_str(), packaged.info.abi.as_str()), ("abi1.recipes", "1.0.0"));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&packaged.wheel).expect("open")).expect("a zip");
    let mut metadata = String::new();
    zip.by_name("abi1_recipes-1.0.0.dist-info/METADATA")
        .expect("METADATA")
        .read_to_string(&mut metadata)
        .expect("read");
    assert!(metadata.contains("\nKeywords: buildout,buildout-recipe,buildout-recipe-abi-1\n"), "{metadata}");
    assert!(metadata.contains("\nClassifier: Framework :: Buildout :: Recipe\n"), "{metadata}");

    let config = |parts: &str| {
        format!(
            "[buildout]\nparts = {parts}\nfind-links = ${{buildout:directory}}/links\nindex = file:///nonexistent\n\n\
             [versions]\nabi1.recipes = 1.0.0\n\n[greeting]\nwho = world\n\n\
             [note]\nrecipe = abi1.recipes:note\npath = note.txt\ntext = hello\n"
        )
    };
    std::fs::write(dir.join("buildout.cfg"), config("note")).expect("write");
    let installed = run_buildout(&dir, &args(&["-U"]), &[]);
    ok(&installed, "install");
    assert!(
        installed.stdout.contains("Got abi1.recipes 1.0.0.\nInstalling note.\nnote: written by an ABI 1 library"),
        "{}",
        installed.stdout
    );
    assert_eq!(std::fs::read_to_string(dir.join("note.txt")).expect("written"), "hello world\n");

    std::fs::write(dir.join("buildout.cfg"), config("")).expect("write");
    let removed = run_buildout(&dir, &args(&["-U", "-o"]), &[]);
    ok(&removed, "uninstall");
    assert!(
        removed.stdout.contains("Uninstalling note.\nRunning uninstall recipe.\nnote: uninstalling {DIR}/note.txt"),
        "{}",
        removed.stdout
    );
    assert!(!dir.join("note.txt").exists());
}

#[test]
fn packaging_errors_are_one_line() {
    let (_guard, dir) = scratch();
    std::fs::create_dir_all(dir.join("not-a-crate")).expect("mkdir");
    let cases: [(&[&str], &str); 3] = [
        (&["recipes", "package", "not-a-crate"], "Error: not-a-crate is not a recipe crate: it has no Cargo.toml"),
        (
            &["recipes", "package", "--frob"],
            "Error: Invalid option for recipes package: --frob (usage: buildout recipes package [CRATE_DIR] [--out DIR] \
             [--profile PROFILE])",
        ),
        (
            &["recipes", "package", "a", "b"],
            "Error: recipes package takes one crate directory (usage: buildout recipes package [CRATE_DIR] [--out DIR] \
             [--profile PROFILE])",
        ),
    ];
    for (command, expected) in cases {
        let out = run_buildout(&dir, &args(command), &[]);
        assert_eq!(out.status, 1, "{command:?}");
        assert_eq!(out.stderr, format!("{expected}\n"), "{command:?}");
    }
}
