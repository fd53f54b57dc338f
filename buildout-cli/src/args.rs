//! The command line: `buildout [options] [assignments] [command [command arguments]]`.
//!
//! zc.buildout scans words left to right: words starting with `-` are option words (flag letters
//! may be combined, `c` and `t` take a value), words containing `=` are assignments, and the
//! first other word is the command; everything after it belongs to the command. We find those
//! boundaries here, then let clap parse the option words.

use buildout_core::config::Assignment;
use clap::{Arg, ArgAction, Command};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    pub(crate) config_file: String,
    pub(crate) use_user_defaults: bool,
    pub(crate) debug: bool,
    pub(crate) assignments: Vec<Assignment>,
    pub(crate) command: String,
    pub(crate) args: Vec<String>,
}

impl Invocation {
    /// Whether `-v` was given (more `-v` than `-q`).
    pub(crate) fn verbose(&self) -> bool {
        self.assignments.iter().any(|a| a.section == "buildout" && a.option == "verbosity" && !a.value.starts_with('-'))
    }
}

/// What to do instead of running a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Early {
    Help,
    Version,
    /// A usage error, worded as zc.buildout words it (printed after `Error: `).
    Usage(String),
}

/// The commands zc.buildout knows, plus ours.
pub(crate) const COMMANDS: [&str; 11] =
    ["install", "annotate", "query", "bootstrap", "init", "setup", "runsetup", "resolve", "recipes", "plan", "sources"];

/// Flag letters that take no value.
const FLAGS: &str = "vqhWUoOnNDA";

fn clap_command() -> Command {
    let count = |id: &'static str, short: char| Arg::new(id).short(short).action(ArgAction::Count);
    Command::new("buildout")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .arg(Arg::new("config").short('c').num_args(1).action(ArgAction::Set).allow_hyphen_values(true))
        .arg(Arg::new("timeout").short('t').num_args(1).action(ArgAction::Set).allow_hyphen_values(true))
        .arg(count("verbose", 'v'))
        .arg(count("quiet", 'q'))
        .arg(count("help", 'h'))
        .arg(count("W", 'W'))
        .arg(count("A", 'A'))
        .arg(count("no-user-defaults", 'U'))
        .arg(count("offline", 'o'))
        .arg(count("online", 'O'))
        .arg(count("newest", 'n'))
        .arg(count("non-newest", 'N'))
        .arg(count("debug", 'D'))
        .arg(Arg::new("long-help").long("help").action(ArgAction::SetTrue))
        .arg(Arg::new("long-version").long("version").action(ArgAction::SetTrue))
}

fn usage(message: impl Into<String>) -> Early {
    Early::Usage(message.into())
}

/// Splits an assignment word `[section:]option=value`.
fn assignment(word: &str) -> Result<Assignment, Early> {
    let (target, value) = word.split_once('=').unwrap_or((word, ""));
    let parts: Vec<&str> = target.split(':').collect();
    let (section, option) = match parts.as_slice() {
        [option] => ("buildout", *option),
        [section, option] => (*section, *option),
        _ => return Err(usage(format!("Invalid option: {target}"))),
    };
    Ok(Assignment {
        section: section.trim().to_owned(),
        option: option.trim().to_owned(),
        value: value.trim().to_owned(),
    })
}

/// Whether a word after the command is one of buildout's own options (`-v`, `-c file`,
/// `--help`), rather than an argument of the command (`--json`, a part name).
fn is_option_word(word: &str) -> bool {
    word == "--help" || word == "--version" || (word.len() > 1 && word.starts_with('-') && !word.starts_with("--"))
}

/// Takes one option word (and the value `-c` or `-t` needs from the following words).
fn take_option<'a>(
    word: &'a String,
    rest: &mut impl Iterator<Item = &'a String>,
    option_words: &mut Vec<String>,
    timeout_word: &mut Option<String>,
) -> Result<(), Early> {
    let letters = word.strip_prefix('-').unwrap_or(word);
    if letters.is_empty() {
        return Ok(());
    }
    let tail = letters.trim_start_matches(|c| FLAGS.contains(c));
    if let Some(attached) = tail.strip_prefix('c') {
        option_words.push(word.clone());
        if attached.is_empty() {
            let value = rest.next().ok_or_else(|| usage(format!("No file name specified for option {word}")))?;
            option_words.push(value.clone());
        }
    } else if tail.starts_with('t') {
        // zc.buildout always takes the timeout from the next word; anything attached to `-t`
        // is ignored.
        let value = rest.next().ok_or_else(|| usage(format!("No timeout value specified for option {word}")))?;
        *timeout_word = Some(word.clone());
        option_words.push(word[..word.len() - tail.len() + 1].to_owned());
        option_words.push(value.clone());
    } else {
        option_words.push(word.clone());
    }
    Ok(())
}

pub(crate) fn parse(argv: &[String]) -> Result<Invocation, Early> {
    let mut option_words: Vec<String> = Vec::new();
    let mut assignments = Vec::new();
    let mut timeout_word = None;
    let mut rest = argv.iter().peekable();
    while let Some(word) = rest.peek().copied() {
        if word.starts_with('-') {
            rest.next();
            take_option(word, &mut rest, &mut option_words, &mut timeout_word)?;
        } else if word.contains('=') {
            rest.next();
            assignments.push(assignment(word)?);
        } else {
            break;
        }
    }
    let command = rest.next().cloned();
    // After the command, buildout's own options are still options (`buildout recipes -v`);
    // everything else belongs to the command.
    let mut args = Vec::new();
    while let Some(word) = rest.next() {
        if is_option_word(word) {
            take_option(word, &mut rest, &mut option_words, &mut timeout_word)?;
        } else {
            args.push(word.clone());
        }
    }
    let matches = clap_command().try_get_matches_from(&option_words).map_err(|e| {
        let invalid = e.get(clap::error::ContextKind::InvalidArg).map(|v| v.to_string()).unwrap_or_default();
        let letter = if invalid.starts_with("--") {
            "-".to_owned()
        } else {
            invalid.trim_start_matches('-').chars().next().map(String::from).unwrap_or_default()
        };
        usage(format!("Invalid option -{letter}"))
    })?;
    let count = |id: &str| matches.get_count(id);
    if count("help") + count("W") + count("A") > 0 || matches.get_flag("long-help") {
        return Err(Early::Help);
    }
    if matches.get_flag("long-version") {
        return Err(Early::Version);
    }
    let mut push = |option: &str, value: &str| {
        assignments.push(Assignment { section: "buildout".into(), option: option.into(), value: value.into() })
    };
    if count("offline") > 0 {
        push("offline", "true");
    }
    if count("online") > 0 {
        push("offline", "false");
    }
    if count("newest") > 0 {
        push("newest", "true");
    }
    if count("non-newest") > 0 {
        push("newest", "false");
    }
    if let Some(t) = matches.get_one::<String>("timeout") {
        let word = timeout_word.unwrap_or_else(|| "-t".into());
        if t.trim().parse::<i64>().is_err() {
            return Err(usage(format!("Timeout value must be numeric {word}")));
        }
        push("socket-timeout", t);
    }
    let verbosity = 10 * (i64::from(count("verbose")) - i64::from(count("quiet")));
    if verbosity != 0 {
        push("verbosity", &verbosity.to_string());
    }
    let command = command.unwrap_or_else(|| "install".into());
    if !COMMANDS.contains(&command.as_str()) {
        return Err(usage(format!("invalid command: {command}")));
    }
    Ok(Invocation {
        config_file: matches.get_one::<String>("config").cloned().unwrap_or_else(|| "buildout.cfg".into()),
        use_user_defaults: count("no-user-defaults") == 0,
        debug: count("debug") > 0,
        assignments,
        command,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn a(section: &str, option: &str, value: &str) -> Assignment {
        Assignment { section: section.into(), option: option.into(), value: value.into() }
    }

    #[test]
    fn command_lines() {
        let ok = |cmd: &str| parse(&words(cmd)).expect(cmd);
        let i = ok("-vcother.cfg annotate buildout x");
        assert_eq!(i.config_file, "other.cfg");
        assert_eq!(i.command, "annotate");
        assert_eq!(i.args, ["buildout", "x"]);
        assert_eq!(i.assignments, [a("buildout", "verbosity", "10")]);

        let i = ok("-c other.cfg a:b=c -U x=1 -qq query y");
        assert_eq!(i.config_file, "other.cfg");
        assert!(!i.use_user_defaults);
        assert_eq!(i.assignments, [a("a", "b", "c"), a("buildout", "x", "1"), a("buildout", "verbosity", "-20")]);

        let i = ok("-oN -t 5 parts+=x");
        assert_eq!(i.command, "install");
        assert_eq!(
            i.assignments,
            [
                a("buildout", "parts+", "x"),
                a("buildout", "offline", "true"),
                a("buildout", "newest", "false"),
                a("buildout", "socket-timeout", "5")
            ]
        );
        let spaced = parse(&[" a : b = c d ".to_owned()]).expect("assignment with spaces");
        assert_eq!(spaced.assignments[0], a("a", "b", "c d"));
        // Options after the command are options; other words are the command's.
        let after = ok("annotate -c x");
        assert_eq!((after.config_file.as_str(), after.args.len()), ("x", 0));
        let cases: [(&str, &str, &[&str], bool); 4] = [
            ("recipes -v", "recipes", &[], true),
            ("recipes -v zc.recipe.egg", "recipes", &["zc.recipe.egg"], true),
            ("plan --json a -q b", "plan", &["--json", "a", "b"], false),
            ("install a - b", "install", &["a", "-", "b"], false),
        ];
        for (cmd, command, args, verbose) in cases {
            let i = ok(cmd);
            let got: Vec<&str> = i.args.iter().map(String::as_str).collect();
            assert_eq!((i.command.as_str(), got.as_slice(), i.verbose()), (command, args, verbose), "{cmd}");
        }
    }

    #[test]
    fn usage_errors() {
        let cases = [
            ("-c", Early::Usage("No file name specified for option -c".into())),
            ("-vc", Early::Usage("No file name specified for option -vc".into())),
            ("-t", Early::Usage("No timeout value specified for option -t".into())),
            ("-t abc", Early::Usage("Timeout value must be numeric -t".into())),
            ("-Z", Early::Usage("Invalid option -Z".into())),
            ("-vZ", Early::Usage("Invalid option -Z".into())),
            ("--foo", Early::Usage("Invalid option --".into())),
            ("frobnicate", Early::Usage("invalid command: frobnicate".into())),
            ("a:b:c=1", Early::Usage("Invalid option: a:b:c".into())),
            ("-h", Early::Help),
            ("--help", Early::Help),
            ("-vW", Early::Help),
            ("--version", Early::Version),
            ("recipes --version", Early::Version),
            ("install -h", Early::Help),
            ("query x -c", Early::Usage("No file name specified for option -c".into())),
        ];
        for (cmd, expected) in cases {
            assert_eq!(parse(&words(cmd)), Err(expected), "{cmd}");
        }
    }
}
