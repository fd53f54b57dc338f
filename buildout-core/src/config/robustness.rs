//! Property tests: no input, however broken, makes parsing, assembly or evaluation panic.
//! Every outcome must be a value or an error.

use proptest::prelude::*;

use super::condition::{Environment, PythonInfo};
use super::{Buildout, LoadOptions, Startup, parser, render};
use crate::log::Silent;

fn env() -> Environment {
    let mut e = Environment::current().clone();
    e.python = Some(PythonInfo {
        full_version: "3.11.7".into(),
        implementation_name: "cpython".into(),
        implementation_version: "3.11.7".into(),
        platform_python_implementation: "CPython".into(),
    });
    e
}

/// Lines that are each valid somewhere, so that random mixes reach deep into the evaluator.
fn line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["buildout", "a", "b", "c", "versions", "x y", ""]);
    let option = prop::sample::select(vec!["parts", "x", "y", "recipe", "<", "extends", "eggs-directory", "log-level"]);
    let value = prop::sample::select(vec![
        "",
        "1",
        "a b",
        "${a:x}",
        "${b:y}",
        "${:x}",
        "${c:_buildout_section_name_}",
        "$${a:x}",
        "${a:x:y}",
        "${parts}",
        "${a$:x}",
        "a",
        "b",
        "base.cfg",
        "other.cfg",
        "loop.cfg",
        "${buildout:directory}",
        "DEBUG",
        "LOUD",
    ]);
    let condition = prop::sample::select(vec![
        "",
        ":python3",
        ": linux and not windows",
        ":python_version < \"3\"",
        ":iron",
        ":1/0",
    ]);
    prop_oneof![
        (name.clone(), condition).prop_map(|(n, c)| format!("[{n}{c}]")),
        (option.clone(), value.clone()).prop_map(|(o, v)| format!("{o} = {v}")),
        (option.clone(), value.clone()).prop_map(|(o, v)| format!("{o} += {v}")),
        (option, value.clone()).prop_map(|(o, v)| format!("{o} -= {v}")),
        value.clone().prop_map(|v| format!("    {v}")),
        value.clone().prop_map(|v| format!("<= {v}")),
        value.prop_map(|v| format!("=> {v}")),
        Just("# comment".to_owned()),
        Just(String::new()),
        Just("bogus: line".to_owned()),
        Just("\t\tindented".to_owned()),
    ]
}

fn file() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..25).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parser::parse(&text, "random.cfg", &env());
    }

    #[test]
    fn load_and_resolve_never_panic(main in file(), base in file(), other in file(), defaults in file()) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path().to_str().expect("utf-8 temp path").to_owned();
        for (name, text) in [("buildout.cfg", &main), ("base.cfg", &base), ("other.cfg", &other), ("loop.cfg", &main)] {
            std::fs::write(dir.path().join(name), text).expect("write config");
        }
        std::fs::write(dir.path().join("default.cfg"), &defaults).expect("write defaults");
        let opts = LoadOptions {
            config_file: "buildout.cfg".into(),
            cwd: root.clone(),
            user_config: Some(format!("{root}/default.cfg")),
            use_user_defaults: true,
            home: Some(root),
            assignments: Vec::new(),
            executable: "/usr/bin/python3".into(),
        };
        if let Ok(mut b) = Buildout::load(&opts, &env(), &Silent, Startup::ReadOnly) {
            let _ = render::annotate(&b.annotated, true, &[], &b.directory.clone());
            let _ = render::resolve(&mut b, &[]);
        }
    }
}

#[test]
fn a_fifty_megabyte_file_parses() {
    let mut text = String::with_capacity(52 << 20);
    text.push_str("[buildout]\nparts =\n");
    let mut i = 0;
    while text.len() < 50 << 20 {
        text.push_str(&format!("[s{i}]\nx = ${{buildout:directory}}/{i}\nlong =\n    line one\n    line two\n"));
        i += 1;
    }
    let parsed = parser::parse(&text, "big.cfg", &env()).expect("parses");
    assert_eq!(parsed.len(), i + 1);
}
