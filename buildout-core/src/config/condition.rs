//! Section conditions: `[name: expression]`.
//!
//! zc.buildout first tries the expression as a PEP 508 environment marker and, when it is not a
//! valid marker, evaluates it as Python with a fixed set of names (`python3`, `linux`, ...). We
//! implement markers fully and the Python fallback for the subset conditions are written in:
//! names, literals, tuples, attribute access on `sys`/`os`/`platform`, calls without arguments,
//! `not`/`and`/`or`, comparisons (chained), `in`/`not in`.

use std::cmp::Ordering;
use std::str::FromStr;
use std::sync::OnceLock;

/// Why a condition could not be evaluated. The messages are Python's, since zc.buildout shows the
/// exception text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("invalid syntax (<string>, line 1)")]
    Syntax,
    #[error("name '{0}' is not defined")]
    Name(String),
    #[error("{0}")]
    Other(String),
}

/// What the running platform and Python look like to markers and old-style expressions.
#[derive(Debug, Clone)]
pub struct Environment {
    pub os_name: String,
    pub sys_platform: String,
    pub platform_system: String,
    pub platform_machine: String,
    pub platform_release: String,
    pub platform_version: String,
    pub python: Option<PythonInfo>,
    /// The value of `extra` in markers (the extra a requirement is evaluated for).
    pub extra: String,
}

/// The facts about the Python interpreter that conditions can ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonInfo {
    pub full_version: String,
    pub implementation_name: String,
    pub implementation_version: String,
    pub platform_python_implementation: String,
}

impl PythonInfo {
    fn version_tuple(&self) -> Vec<u64> {
        self.full_version.split('.').map_while(|p| p.parse::<u64>().ok()).collect()
    }

    fn short_version(&self) -> String {
        let t = self.version_tuple();
        match t.as_slice() {
            [a, b, ..] => format!("{a}.{b}"),
            _ => self.full_version.clone(),
        }
    }
}

impl Environment {
    /// The environment of this machine; Python facts come from `python3` on PATH, asked once per
    /// process and only when a condition needs them.
    pub fn current() -> &'static Environment {
        static ENV: OnceLock<Environment> = OnceLock::new();
        ENV.get_or_init(|| {
            let os = std::env::consts::OS;
            let (sys_platform, system) = match os {
                "linux" => ("linux", "Linux"),
                "macos" => ("darwin", "Darwin"),
                "windows" => ("win32", "Windows"),
                other => (other, other),
            };
            let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned()).unwrap_or_default();
            Environment {
                os_name: if cfg!(windows) { "nt" } else { "posix" }.to_owned(),
                sys_platform: sys_platform.to_owned(),
                platform_system: system.to_owned(),
                platform_machine: std::env::consts::ARCH.to_owned(),
                platform_release: read("/proc/sys/kernel/osrelease"),
                platform_version: read("/proc/sys/kernel/version"),
                python: None,
                extra: String::new(),
            }
        })
    }

    fn python(&self) -> Result<PythonInfo, ConditionError> {
        if let Some(p) = &self.python {
            return Ok(p.clone());
        }
        static PY: OnceLock<Result<PythonInfo, String>> = OnceLock::new();
        PY.get_or_init(probe_python).clone().map_err(ConditionError::Other)
    }
}

fn probe_python() -> Result<PythonInfo, String> {
    let script = "import sys,platform;print(platform.python_version());print(sys.implementation.name);\
                  v=sys.implementation.version;print('%d.%d.%d'%(v.major,v.minor,v.micro));\
                  print(platform.python_implementation())";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("cannot run python3 to evaluate a section condition: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().map(str::to_owned);
    match (lines.next(), lines.next(), lines.next(), lines.next()) {
        (Some(full_version), Some(implementation_name), Some(implementation_version), Some(imp)) => Ok(PythonInfo {
            full_version,
            implementation_name,
            implementation_version,
            platform_python_implementation: imp,
        }),
        _ => Err("python3 did not report its version while evaluating a section condition".to_owned()),
    }
}

/// Evaluates a section condition the way zc.buildout does: as a marker if it is one, else as an
/// old-style expression.
pub fn evaluate(expression: &str, env: &Environment) -> Result<bool, ConditionError> {
    match marker::parse(expression) {
        Some(m) => marker::eval(&m, env),
        None => oldstyle::evaluate(expression, env),
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens shared by both grammars.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Op(&'static str),
}

fn tokenize(src: &str) -> Option<Vec<Tok>> {
    const OPS: [&str; 23] = [
        "===", "==", "!=", "<=", ">=", "~=", "//", "<", ">", "(", ")", "[", "]", "{", "}", ":", ",", ".", "+", "-",
        "*", "/", "%",
    ];
    let mut out = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            let end = src[i + 1..].find(c as char)? + i + 1;
            out.push(Tok::Str(src[i + 1..end].to_owned()));
            i = end + 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Int(src[start..i].parse().ok()?));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(src[start..i].to_owned()));
        } else {
            let op = OPS.iter().find(|op| src[i..].starts_with(**op))?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------

mod marker {
    //! PEP 508 environment markers, as `packaging.markers.Marker` parses and evaluates them.
    use super::*;

    #[derive(Debug)]
    pub(super) enum Marker {
        Or(Vec<Marker>),
        And(Vec<Marker>),
        Cmp(Value, String, Value),
    }

    #[derive(Debug)]
    pub(super) enum Value {
        Var(&'static str),
        Lit(String),
    }

    const VARIABLES: [(&str, &str); 16] = [
        ("python_version", "python_version"),
        ("python_full_version", "python_full_version"),
        ("os_name", "os_name"),
        ("os.name", "os_name"),
        ("sys_platform", "sys_platform"),
        ("sys.platform", "sys_platform"),
        ("platform_release", "platform_release"),
        ("platform_system", "platform_system"),
        ("platform_version", "platform_version"),
        ("platform.version", "platform_version"),
        ("platform_machine", "platform_machine"),
        ("platform.machine", "platform_machine"),
        ("platform_python_implementation", "platform_python_implementation"),
        ("platform.python_implementation", "platform_python_implementation"),
        ("python_implementation", "platform_python_implementation"),
        ("implementation_name", "implementation_name"),
    ];

    fn variable(name: &str) -> Option<&'static str> {
        match name {
            "implementation_version" => Some("implementation_version"),
            "extra" => Some("extra"),
            _ => VARIABLES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
        }
    }

    struct P {
        toks: Vec<Tok>,
        pos: usize,
    }

    impl P {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos)
        }
        fn next(&mut self) -> Option<Tok> {
            let t = self.toks.get(self.pos).cloned();
            self.pos += 1;
            t
        }
        fn is_name(&self, n: &str) -> bool {
            matches!(self.peek(), Some(Tok::Name(x)) if x == n)
        }
        fn or(&mut self) -> Option<Marker> {
            let mut items = vec![self.and()?];
            while self.is_name("or") {
                self.pos += 1;
                items.push(self.and()?);
            }
            Some(if items.len() == 1 { items.remove(0) } else { Marker::Or(items) })
        }
        fn and(&mut self) -> Option<Marker> {
            let mut items = vec![self.atom()?];
            while self.is_name("and") {
                self.pos += 1;
                items.push(self.atom()?);
            }
            Some(if items.len() == 1 { items.remove(0) } else { Marker::And(items) })
        }
        fn atom(&mut self) -> Option<Marker> {
            if self.peek() == Some(&Tok::Op("(")) {
                self.pos += 1;
                let m = self.or()?;
                return (self.next()? == Tok::Op(")")).then_some(m);
            }
            let lhs = self.value()?;
            let op = match self.next()? {
                Tok::Op(op) if ["===", "==", "!=", "<=", ">=", "~=", "<", ">"].contains(&op) => op.to_owned(),
                Tok::Name(n) if n == "in" => "in".to_owned(),
                Tok::Name(n) if n == "not" && self.is_name("in") => {
                    self.pos += 1;
                    "not in".to_owned()
                }
                _ => return None,
            };
            let rhs = self.value()?;
            Some(Marker::Cmp(lhs, op, rhs))
        }
        fn value(&mut self) -> Option<Value> {
            match self.next()? {
                Tok::Str(s) => Some(Value::Lit(s)),
                Tok::Name(n) => {
                    // Dotted legacy names (`os.name`) arrive as three tokens.
                    if self.peek() == Some(&Tok::Op("."))
                        && let Some(Tok::Name(attr)) = self.toks.get(self.pos + 1).cloned()
                    {
                        let dotted = format!("{n}.{attr}");
                        if let Some(v) = variable(&dotted) {
                            self.pos += 2;
                            return Some(Value::Var(v));
                        }
                    }
                    variable(&n).map(Value::Var)
                }
                _ => None,
            }
        }
    }

    /// `None` when the text is not a valid marker (zc.buildout then tries old-style Python).
    pub(super) fn parse(src: &str) -> Option<Marker> {
        let toks = tokenize(src)?;
        let mut p = P { toks, pos: 0 };
        let m = p.or()?;
        (p.pos == p.toks.len()).then_some(m)
    }

    fn lookup(var: &str, env: &Environment) -> Result<String, ConditionError> {
        Ok(match var {
            "os_name" => env.os_name.clone(),
            "sys_platform" => env.sys_platform.clone(),
            "platform_system" => env.platform_system.clone(),
            "platform_machine" => env.platform_machine.clone(),
            "platform_release" => env.platform_release.clone(),
            "platform_version" => env.platform_version.clone(),
            "extra" => env.extra.clone(),
            "python_version" => env.python()?.short_version(),
            "python_full_version" => env.python()?.full_version,
            "implementation_name" => env.python()?.implementation_name,
            "implementation_version" => env.python()?.implementation_version,
            _ => env.python()?.platform_python_implementation,
        })
    }

    pub(super) fn eval(m: &Marker, env: &Environment) -> Result<bool, ConditionError> {
        match m {
            Marker::Or(items) => {
                for i in items {
                    if eval(i, env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Marker::And(items) => {
                for i in items {
                    if !eval(i, env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Marker::Cmp(l, op, r) => {
                let get = |v: &Value| match v {
                    Value::Var(n) => lookup(n, env),
                    Value::Lit(s) => Ok(s.clone()),
                };
                compare(&get(l)?, op, &get(r)?)
            }
        }
    }

    fn compare(lhs: &str, op: &str, rhs: &str) -> Result<bool, ConditionError> {
        if op == "in" {
            return Ok(rhs.contains(lhs));
        }
        if op == "not in" {
            return Ok(!rhs.contains(lhs));
        }
        // packaging uses version semantics whenever `op + rhs` is a valid specifier (and a
        // left side that is no version then matches nothing).
        if let Ok(spec) = pep440_rs::VersionSpecifier::from_str(&format!("{op}{rhs}")) {
            return Ok(pep440_rs::Version::from_str(lhs).is_ok_and(|v| spec.contains(&v)));
        }
        Ok(match op {
            "==" => lhs == rhs,
            "!=" => lhs != rhs,
            "<" => lhs < rhs,
            "<=" => lhs <= rhs,
            ">" => lhs > rhs,
            ">=" => lhs >= rhs,
            _ => {
                return Err(ConditionError::Other(format!("Undefined <Op('{op}')> on '{lhs}' and '{rhs}'.")));
            }
        })
    }
}

mod oldstyle {
    //! The Python fallback: a small expression evaluator over the names zc.buildout provides.
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum V {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Tuple(Vec<V>),
        Dict(Vec<(V, V)>),
        Module(&'static str),
        Func(&'static str),
        None,
    }

    impl V {
        fn truthy(&self) -> bool {
            match self {
                V::Bool(b) => *b,
                V::Int(i) => *i != 0,
                V::Float(f) => *f != 0.0,
                V::Str(s) => !s.is_empty(),
                V::Tuple(t) => !t.is_empty(),
                V::Dict(d) => !d.is_empty(),
                V::None => false,
                V::Module(_) | V::Func(_) => true,
            }
        }
    }

    struct P<'e> {
        toks: Vec<Tok>,
        pos: usize,
        env: &'e Environment,
    }

    type R = Result<V, ConditionError>;

    impl P<'_> {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos)
        }
        fn is(&self, t: &Tok) -> bool {
            self.peek() == Some(t)
        }
        fn is_name(&self, n: &str) -> bool {
            matches!(self.peek(), Some(Tok::Name(x)) if x == n)
        }
        fn expect(&mut self, t: Tok) -> Result<(), ConditionError> {
            if self.is(&t) {
                self.pos += 1;
                Ok(())
            } else {
                Err(ConditionError::Syntax)
            }
        }
        // Evaluation is eager on both sides of and/or: conditions have no side effects, but a
        // NameError on the right must still be raised only when Python would reach it.
        fn or(&mut self) -> R {
            let mut v = self.and()?;
            while self.is_name("or") {
                self.pos += 1;
                let start = self.pos;
                if v.truthy() {
                    self.skip(Self::and, start)?;
                } else {
                    v = self.and()?;
                }
            }
            Ok(v)
        }
        fn and(&mut self) -> R {
            let mut v = self.not()?;
            while self.is_name("and") {
                self.pos += 1;
                let start = self.pos;
                if v.truthy() {
                    v = self.not()?;
                } else {
                    self.skip(Self::not, start)?;
                }
            }
            Ok(v)
        }
        /// Parses a sub-expression that Python would not evaluate, reporting only syntax errors.
        fn skip(&mut self, f: fn(&mut Self) -> R, _start: usize) -> Result<(), ConditionError> {
            match f(self) {
                Ok(_) | Err(ConditionError::Name(_)) | Err(ConditionError::Other(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        fn not(&mut self) -> R {
            if self.is_name("not") {
                self.pos += 1;
                return Ok(V::Bool(!self.not()?.truthy()));
            }
            self.comparison()
        }
        fn comp_op(&mut self) -> Option<&'static str> {
            let op = match self.peek()? {
                Tok::Op(op) if ["==", "!=", "<", "<=", ">", ">="].contains(op) => *op,
                Tok::Name(n) if n == "in" => "in",
                Tok::Name(n)
                    if n == "not" && matches!(self.toks.get(self.pos + 1), Some(Tok::Name(x)) if x == "in") =>
                {
                    self.pos += 1;
                    "not in"
                }
                _ => return None,
            };
            self.pos += 1;
            Some(op)
        }
        fn comparison(&mut self) -> R {
            let mut left = self.arith()?;
            let mut result: Option<bool> = None;
            while let Some(op) = self.comp_op() {
                let right = self.arith()?;
                let ok = compare(&left, op, &right)?;
                result = Some(result.unwrap_or(true) && ok);
                left = right;
            }
            Ok(match result {
                Some(b) => V::Bool(b),
                None => left,
            })
        }
        fn arith(&mut self) -> R {
            let mut v = self.term()?;
            while let Some(op) = ["+", "-"].into_iter().find(|op| self.is(&Tok::Op(op))) {
                self.pos += 1;
                let r = self.term()?;
                v = arithmetic(&v, op, &r)?;
            }
            Ok(v)
        }
        fn term(&mut self) -> R {
            let mut v = self.factor()?;
            while let Some(op) = ["*", "/", "//", "%"].into_iter().find(|op| self.is(&Tok::Op(op))) {
                self.pos += 1;
                let r = self.factor()?;
                v = arithmetic(&v, op, &r)?;
            }
            Ok(v)
        }
        fn factor(&mut self) -> R {
            if self.is(&Tok::Op("-")) {
                self.pos += 1;
                let v = self.factor()?;
                return arithmetic(&V::Int(0), "-", &v);
            }
            if self.is(&Tok::Op("+")) {
                self.pos += 1;
                return self.factor();
            }
            self.postfix()
        }
        fn postfix(&mut self) -> R {
            let mut v = self.atom()?;
            loop {
                if self.is(&Tok::Op("[")) {
                    self.pos += 1;
                    let index = self.or()?;
                    self.expect(Tok::Op("]"))?;
                    v = subscript(&v, &index)?;
                    continue;
                }
                if self.is(&Tok::Op(".")) {
                    self.pos += 1;
                    let Some(Tok::Name(attr)) = self.peek().cloned() else {
                        return Err(ConditionError::Syntax);
                    };
                    self.pos += 1;
                    v = self.attribute(&v, &attr)?;
                } else if self.is(&Tok::Op("(")) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    while !self.is(&Tok::Op(")")) {
                        args.push(self.or()?);
                        if !self.is(&Tok::Op(",")) {
                            break;
                        }
                        self.pos += 1;
                    }
                    self.expect(Tok::Op(")"))?;
                    v = self.call(&v, &args)?;
                } else {
                    return Ok(v);
                }
            }
        }
        fn atom(&mut self) -> R {
            let tok = self.peek().cloned().ok_or(ConditionError::Syntax)?;
            self.pos += 1;
            match tok {
                Tok::Int(i) => Ok(V::Int(i)),
                Tok::Str(s) => {
                    let mut s = s;
                    while let Some(Tok::Str(more)) = self.peek().cloned() {
                        s.push_str(&more);
                        self.pos += 1;
                    }
                    Ok(V::Str(s))
                }
                Tok::Op("(") => {
                    if self.is(&Tok::Op(")")) {
                        self.pos += 1;
                        return Ok(V::Tuple(Vec::new()));
                    }
                    let first = self.or()?;
                    if self.is(&Tok::Op(",")) {
                        let mut items = vec![first];
                        while self.is(&Tok::Op(",")) {
                            self.pos += 1;
                            if self.is(&Tok::Op(")")) {
                                break;
                            }
                            items.push(self.or()?);
                        }
                        self.expect(Tok::Op(")"))?;
                        return Ok(V::Tuple(items));
                    }
                    self.expect(Tok::Op(")"))?;
                    Ok(first)
                }
                Tok::Op("[") => {
                    let items = self.items("]")?;
                    Ok(V::Tuple(items))
                }
                Tok::Op("{") => {
                    let mut entries = Vec::new();
                    while !self.is(&Tok::Op("}")) {
                        let key = self.or()?;
                        self.expect(Tok::Op(":"))?;
                        entries.push((key, self.or()?));
                        if !self.is(&Tok::Op(",")) {
                            break;
                        }
                        self.pos += 1;
                    }
                    self.expect(Tok::Op("}"))?;
                    Ok(V::Dict(entries))
                }
                Tok::Name(n) => self.name(&n),
                Tok::Op(_) => Err(ConditionError::Syntax),
            }
        }
        /// Comma-separated expressions up to `close` (a trailing comma is allowed).
        fn items(&mut self, close: &'static str) -> Result<Vec<V>, ConditionError> {
            let mut items = Vec::new();
            while !self.is(&Tok::Op(close)) {
                items.push(self.or()?);
                if !self.is(&Tok::Op(",")) {
                    break;
                }
                self.pos += 1;
            }
            self.expect(Tok::Op(close))?;
            Ok(items)
        }
        fn name(&self, n: &str) -> R {
            let env = self.env;
            let py_version = || -> Result<Vec<u64>, ConditionError> { Ok(env.python()?.version_tuple()) };
            let b = |x: bool| Ok(V::Bool(x));
            match n {
                "True" => b(true),
                "False" => b(false),
                "None" => Ok(V::None),
                "sys" => Ok(V::Module("sys")),
                "os" => Ok(V::Module("os")),
                "platform" => Ok(V::Module("platform")),
                "re" => Ok(V::Module("re")),
                "chr" => Ok(V::Func("chr")),
                "ord" => Ok(V::Func("ord")),
                "len" => Ok(V::Func("len")),
                "str" => Ok(V::Func("str")),
                "int" => Ok(V::Func("int")),
                "bool" => Ok(V::Func("bool")),
                "python2" => b(py_version()?.first() == Some(&2)),
                "python3" => b(py_version()?.first() == Some(&3)),
                "cpython" => b(env.python()?.platform_python_implementation == "CPython"),
                "pypy" => b(env.python()?.platform_python_implementation == "PyPy"),
                "jython" => b(env.python()?.platform_python_implementation == "Jython"),
                "ironpython" => b(env.python()?.platform_python_implementation == "IronPython"),
                "linux" => b(env.sys_platform.contains("linux")),
                "windows" => b(env.sys_platform.contains("win32")),
                "cygwin" => b(env.sys_platform.contains("cygwin")),
                "solaris" => b(env.sys_platform.contains("sunos")),
                "macosx" => b(env.sys_platform.contains("darwin")),
                "posix" => b(env.os_name == "posix"),
                "bits32" => b(cfg!(target_pointer_width = "32")),
                "bits64" => b(cfg!(target_pointer_width = "64")),
                "little_endian" => b(cfg!(target_endian = "little")),
                "big_endian" => b(cfg!(target_endian = "big")),
                _ => {
                    const MINORS: [&str; 24] = [
                        "24", "25", "26", "27", "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "310",
                        "311", "312", "313", "314", "315", "316", "317", "318", "319",
                    ];
                    match n.strip_prefix("python").filter(|m| MINORS.contains(m)) {
                        Some(m) => {
                            let v = py_version()?;
                            let mine: String = v.iter().take(2).map(u64::to_string).collect();
                            b(mine == m)
                        }
                        None => Err(ConditionError::Name(n.to_owned())),
                    }
                }
            }
        }
        fn attribute(&self, v: &V, attr: &str) -> R {
            let env = self.env;
            let missing = |m: &str| Err(ConditionError::Other(format!("module '{m}' has no attribute '{attr}'")));
            match v {
                V::Module("sys") => match attr {
                    "platform" => Ok(V::Str(env.sys_platform.clone())),
                    "byteorder" => Ok(V::Str(if cfg!(target_endian = "little") { "little" } else { "big" }.into())),
                    "maxsize" => Ok(V::Int(if cfg!(target_pointer_width = "64") { i64::MAX } else { i32::MAX.into() })),
                    "version_info" => {
                        Ok(V::Tuple(env.python()?.version_tuple().into_iter().map(|x| V::Int(x as i64)).collect()))
                    }
                    "version" => Ok(V::Str(env.python()?.full_version)),
                    _ => missing("sys"),
                },
                V::Module("os") => match attr {
                    "name" => Ok(V::Str(env.os_name.clone())),
                    "sep" => Ok(V::Str("/".into())),
                    _ => missing("os"),
                },
                V::Module("platform") => match attr {
                    "system" | "machine" | "release" | "python_version" | "python_implementation" => {
                        Ok(V::Func(match attr {
                            "system" => "system",
                            "machine" => "machine",
                            "release" => "release",
                            "python_version" => "python_version",
                            _ => "python_implementation",
                        }))
                    }
                    _ => missing("platform"),
                },
                V::Module(m) => missing(m),
                _ => Err(ConditionError::Other(format!("object has no attribute '{attr}'"))),
            }
        }
        fn call(&self, v: &V, args: &[V]) -> R {
            let env = self.env;
            let type_error = |what: &str| Err(ConditionError::Other(what.to_owned()));
            match (v, args) {
                (V::Func("chr"), [V::Int(i)]) => {
                    return u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .map(|c| V::Str(c.to_string()))
                        .ok_or_else(|| ConditionError::Other("chr() arg not in range(0x110000)".to_owned()));
                }
                (V::Func("ord"), [V::Str(s)]) if s.chars().count() == 1 => {
                    return Ok(V::Int(s.chars().next().map_or(0, |c| c as i64)));
                }
                (V::Func("len"), [V::Str(s)]) => return Ok(V::Int(s.chars().count() as i64)),
                (V::Func("len"), [V::Tuple(t)]) => return Ok(V::Int(t.len() as i64)),
                (V::Func("bool"), [x]) => return Ok(V::Bool(x.truthy())),
                (V::Func("str"), [V::Str(s)]) => return Ok(V::Str(s.clone())),
                (V::Func("str"), [V::Int(i)]) => return Ok(V::Str(i.to_string())),
                (V::Func("int"), [V::Int(i)]) => return Ok(V::Int(*i)),
                (V::Func("int"), [V::Str(s)]) => {
                    return s.trim().parse().map(V::Int).map_err(|_| {
                        ConditionError::Other(format!(
                            "invalid literal for int() with base 10: {}",
                            super::super::pytext::repr(s)
                        ))
                    });
                }
                (V::Func("chr" | "ord" | "len" | "bool" | "str" | "int"), _) => {
                    return type_error("unsupported argument for a builtin function");
                }
                (V::Func(_), [_, ..]) => return type_error("function takes no arguments"),
                _ => {}
            }
            match v {
                V::Func("system") => Ok(V::Str(env.platform_system.clone())),
                V::Func("machine") => Ok(V::Str(env.platform_machine.clone())),
                V::Func("release") => Ok(V::Str(env.platform_release.clone())),
                V::Func("python_version") => Ok(V::Str(env.python()?.full_version)),
                V::Func(_) => Ok(V::Str(env.python()?.platform_python_implementation)),
                _ => Err(ConditionError::Other("object is not callable".to_owned())),
            }
        }
    }

    fn number(v: &V) -> Option<f64> {
        match v {
            V::Int(i) => Some(*i as f64),
            V::Bool(b) => Some(f64::from(u8::from(*b))),
            V::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn arithmetic(l: &V, op: &str, r: &V) -> R {
        let unsupported = || ConditionError::Other(format!("unsupported operand type(s) for {op}"));
        let zero = || ConditionError::Other("division by zero".to_owned());
        let int = |v: &V| match v {
            V::Int(i) => Some(*i),
            V::Bool(b) => Some(i64::from(*b)),
            _ => None,
        };
        if let (Some(a), Some(b)) = (int(l), int(r)) {
            return match op {
                "+" => a.checked_add(b).map(V::Int).ok_or_else(unsupported),
                "-" => a.checked_sub(b).map(V::Int).ok_or_else(unsupported),
                "*" => a.checked_mul(b).map(V::Int).ok_or_else(unsupported),
                "/" if b == 0 => Err(zero()),
                "/" => Ok(V::Float(a as f64 / b as f64)),
                "//" | "%" if b == 0 => Err(ConditionError::Other("integer division or modulo by zero".to_owned())),
                "//" => Ok(V::Int(a.div_euclid(b) - i64::from(b < 0 && a.rem_euclid(b) != 0))),
                _ => Ok(V::Int(a - b * (a.div_euclid(b) - i64::from(b < 0 && a.rem_euclid(b) != 0)))),
            };
        }
        if let (V::Str(a), "+", V::Str(b)) = (l, op, r) {
            return Ok(V::Str(format!("{a}{b}")));
        }
        let (Some(a), Some(b)) = (number(l), number(r)) else {
            return Err(unsupported());
        };
        match op {
            "+" => Ok(V::Float(a + b)),
            "-" => Ok(V::Float(a - b)),
            "*" => Ok(V::Float(a * b)),
            _ if b == 0.0 => Err(zero()),
            "/" => Ok(V::Float(a / b)),
            "//" => Ok(V::Float((a / b).floor())),
            _ => Ok(V::Float(a - b * (a / b).floor())),
        }
    }

    fn subscript(v: &V, index: &V) -> R {
        if let V::Dict(entries) = v {
            return entries
                .iter()
                .rev()
                .find(|(k, _)| k == index)
                .map(|(_, value)| value.clone())
                .ok_or_else(|| ConditionError::Other("key not found".to_owned()));
        }
        let V::Int(i) = index else {
            return Err(ConditionError::Other("indices must be integers".to_owned()));
        };
        let pick = |len: usize| -> Result<usize, ConditionError> {
            let len = len as i64;
            let k = if *i < 0 { *i + len } else { *i };
            if (0..len).contains(&k) {
                Ok(k as usize)
            } else {
                Err(ConditionError::Other("index out of range".to_owned()))
            }
        };
        match v {
            V::Tuple(t) => Ok(t[pick(t.len())?].clone()),
            V::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                Ok(V::Str(chars[pick(chars.len())?].to_string()))
            }
            _ => Err(ConditionError::Other("object is not subscriptable".to_owned())),
        }
    }

    fn compare(l: &V, op: &str, r: &V) -> Result<bool, ConditionError> {
        let ord = |l: &V, r: &V| -> Option<Ordering> {
            match (l, r) {
                (V::Str(a), V::Str(b)) => Some(a.cmp(b)),
                (V::Tuple(a), V::Tuple(b)) => {
                    for (x, y) in a.iter().zip(b) {
                        if x != y {
                            return compare_ord(x, y);
                        }
                    }
                    Some(a.len().cmp(&b.len()))
                }
                _ => number(l)?.partial_cmp(&number(r)?),
            }
        };
        fn compare_ord(x: &V, y: &V) -> Option<Ordering> {
            match (x, y) {
                (V::Int(a), V::Int(b)) => Some(a.cmp(b)),
                (V::Str(a), V::Str(b)) => Some(a.cmp(b)),
                _ => None,
            }
        }
        let unsupported = || ConditionError::Other(format!("'{op}' not supported between these operands"));
        Ok(match op {
            "==" => ord(l, r).map_or(l == r, Ordering::is_eq),
            "!=" => ord(l, r).map_or(l != r, Ordering::is_ne),
            "<" => ord(l, r).ok_or_else(unsupported)?.is_lt(),
            "<=" => ord(l, r).ok_or_else(unsupported)?.is_le(),
            ">" => ord(l, r).ok_or_else(unsupported)?.is_gt(),
            ">=" => ord(l, r).ok_or_else(unsupported)?.is_ge(),
            "in" | "not in" => {
                let found = match r {
                    V::Str(hay) => match l {
                        V::Str(needle) => hay.contains(needle.as_str()),
                        _ => return Err(unsupported()),
                    },
                    V::Tuple(items) => items.contains(l),
                    _ => return Err(unsupported()),
                };
                found == (op == "in")
            }
            _ => return Err(unsupported()),
        })
    }

    pub(super) fn evaluate(src: &str, env: &Environment) -> Result<bool, ConditionError> {
        let toks = tokenize(src).ok_or(ConditionError::Syntax)?;
        let mut p = P { toks, pos: 0, env };
        // zc.buildout evaluates `[<expr>]` and takes the first element, so `a, b` means `a`.
        let first = p.or()?;
        while p.is(&Tok::Op(",")) {
            p.pos += 1;
            if p.pos < p.toks.len() {
                p.or()?;
            }
        }
        if p.pos != p.toks.len() {
            return Err(ConditionError::Syntax);
        }
        Ok(first.truthy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            os_name: "posix".into(),
            sys_platform: "linux".into(),
            platform_system: "Linux".into(),
            platform_machine: "x86_64".into(),
            platform_release: "6.1.0-18-amd64".into(),
            platform_version: "#1 SMP".into(),
            extra: String::new(),
            python: Some(PythonInfo {
                full_version: "3.11.7".into(),
                implementation_name: "cpython".into(),
                implementation_version: "3.11.7".into(),
                platform_python_implementation: "CPython".into(),
            }),
        }
    }

    #[test]
    fn markers_and_old_style() {
        let e = env();
        let cases: &[(&str, Result<bool, ConditionError>)] = &[
            ("python_version >= \"3\"", Ok(true)),
            ("python_version < '3.10'", Ok(false)),
            ("python_version == \"3.11\"", Ok(true)),
            ("python_full_version == '3.11.*'", Ok(true)),
            ("python_version ~= '3.9'", Ok(true)),
            ("sys_platform == \"linux\"", Ok(true)),
            ("platform_system == 'Windows' or os_name == 'posix'", Ok(true)),
            ("platform_system == 'Windows' and os_name == 'posix'", Ok(false)),
            ("'linux' in sys_platform", Ok(true)),
            ("os.name == 'posix'", Ok(true)),
            ("platform_release > '5'", Ok(false)),
            ("extra == 'x'", Ok(false)),
            ("python3", Ok(true)),
            ("python2", Ok(false)),
            ("python311", Ok(true)),
            ("python310", Ok(false)),
            ("not windows", Ok(true)),
            ("posix and bits64", Ok(true)),
            ("linux and (python2 or python3)", Ok(true)),
            ("sys.platform == 'linux'", Ok(true)),
            ("sys.version_info >= (3, 8)", Ok(true)),
            ("platform.system() == 'Linux'", Ok(true)),
            ("True", Ok(true)),
            ("0", Ok(false)),
            ("iron", Err(ConditionError::Name("iron".into()))),
            ("sys_version", Err(ConditionError::Name("sys_version".into()))),
            ("python3 or iron", Ok(true)),
            ("python3 and", Err(ConditionError::Syntax)),
            ("python3 python2", Err(ConditionError::Syntax)),
            ("1/0", Err(ConditionError::Other("division by zero".into()))),
            ("sys.version_info[0] == 3 and os.sep == '/'", Ok(true)),
            ("'#' == chr(35) and 'a' != 'b'", Ok(true)),
            ("4/2 == 2 and 7//2 == 3 and -7//2 == -4 and 7 % 3 == 1", Ok(true)),
            ("len('abc') > 2", Ok(true)),
            ("[1, 2][0] == 1 and {1: 2}[1] == 2", Ok(true)),
            ("python_version ~= 'x'", Err(ConditionError::Other("Undefined <Op('~=')> on '3.11' and 'x'.".into()))),
        ];
        for (expr, expected) in cases {
            assert_eq!(&evaluate(expr, &e), expected, "condition {expr:?}");
        }
    }
}
