#!/usr/bin/env python3
"""Run real buildout configurations with zc.buildout 6.0.1 and with ours; compare the outcomes.

See README.md beside this file.  Standard library only.
"""

import argparse
import concurrent.futures
import difflib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

CONFIGS = "/work/shared/real-configs"
REF = "/work/ref-full"
OURS = "/work/main/target/debug/buildout"
REACHABLE_HOSTS = {"pypi.org", "files.pythonhosted.org"}
# Recipes (or distributions named in eggs) that make a case expensive: Zope/Plone instances,
# Odoo, compiled software.
HEAVY_RECIPES = re.compile(
    r"plone\.recipe\.zope2(instance|install)|plone\.recipe\.zeoserver|anybox\.recipe\.(odoo|openerp)"
    r"|collective\.recipe\.plonesite|zc\.recipe\.cmmi|hexagonit\.recipe\.cmmi|z3c\.recipe\.staticlxml"
    r"|collective\.recipe\.(appengine|ruby)|appfy\.recipe\.gae|gp\.recipe\.node|rubygemsrecipe",
    re.I,
)
HEAVY_WORDS = re.compile(r"Products\.CMFPlone|\bPlone\b|\bZope2\b|\bodoo\b|\bopenerp\b")

# Files below the buildout directory left out of the comparison (top-level directories, names).
EXCLUDED_TOP = {"eggs", "develop-eggs", "home"}
EXCLUDED_NAME = re.compile(r"^(\.installed\.cfg.*|__pycache__|.*\.pyc)$")

OPTION = re.compile(r"(?P<name>[^:=\s\[][^:=]*?)\s*(?P<op>[+-]?)[:=]\s*(?P<value>.*)$")
SECTION = re.compile(r"\[\s*(?P<head>[^\]]*?)\s*\]\s*([#;].*)?$")


# ---------------------------------------------------------------------------------------------
# Static classification
# ---------------------------------------------------------------------------------------------


def parse_cfg(text):
    """A lenient buildout-style parser: {section: {option: [(op, value), ...]}}."""
    sections = {}
    cur = None
    last = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip()[:1] in "#;":
            continue
        if line[:1] in " \t":
            if cur is not None and last is not None:
                opts = sections[cur][last]
                op, val = opts[-1]
                opts[-1] = (op, val + "\n" + line.strip())
            continue
        m = SECTION.match(line)
        if m:
            head = m.group("head")
            cur = head.split(":", 1)[0].strip()
            sections.setdefault(cur, {})
            last = None
            continue
        m = OPTION.match(line)
        if m and cur is not None:
            last = m.group("name").strip()
            sections[cur].setdefault(last, []).append((m.group("op"), m.group("value").strip()))
    return sections


def tokens(value):
    out = []
    for line in value.split("\n"):
        for tok in line.split():
            if tok[:1] in "#;":
                break
            out.append(tok)
    return out


def read_manifest(case_dir):
    info = {"files": [], "remote_extends": [], "notes": []}
    key = None
    with open(os.path.join(case_dir, "MANIFEST.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if not line.startswith(" "):
                k, _, v = line.partition(":")
                key = k.strip()
                if v.strip():
                    info[key] = v.strip()
                continue
            item = line.strip()
            if key == "files":
                info["files"].append(item)
            elif key == "remote-extends":
                info["remote_extends"].append(item)
            elif key == "notes":
                info["notes"].append(item)
    return info


def classify(case_dir):
    manifest = read_manifest(case_dir)
    entry = manifest["files"][0] if manifest["files"] else "buildout.cfg"
    recipes, extensions, remote, missing, unresolved, index_hosts = set(), set(), [], [], [], set()
    parts, develop = [], []
    heavy_words = set()
    seen = set()
    todo = [os.path.join(case_dir, entry)]
    first = True
    while todo:
        path = os.path.normpath(todo.pop(0))
        if path in seen:
            continue
        seen.add(path)
        if not os.path.isfile(path):
            missing.append(os.path.relpath(path, case_dir))
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        heavy_words.update(m.group(0) for m in HEAVY_WORDS.finditer(text))
        cfg = parse_cfg(text)
        for name, opts in cfg.items():
            for op, value in opts.get("recipe", []):
                recipes.add(value.strip())
        bo = cfg.get("buildout", {})
        for op, value in bo.get("extensions", []):
            extensions.update(tokens(value))
        for op, value in bo.get("parts", []):
            if first and not op:
                parts = tokens(value)
            elif op == "+":
                parts += tokens(value)
            elif not op:
                parts = parts or tokens(value)
        for op, value in bo.get("develop", []):
            develop += tokens(value)
        for key in ("find-links", "index"):
            for op, value in bo.get(key, []):
                for tok in tokens(value):
                    host = urllib.parse.urlsplit(tok).hostname if "://" in tok else None
                    if host:
                        index_hosts.add(host)
        for op, value in bo.get("extends", []):
            for tok in tokens(value):
                if "${" in tok:
                    unresolved.append(tok)
                elif "://" in tok:
                    remote.append(tok)
                else:
                    todo.append(os.path.join(os.path.dirname(path), tok))
        first = False
    remote_hosts = sorted({urllib.parse.urlsplit(u).hostname or u for u in remote})
    unreachable = sorted(h for h in remote_hosts if h not in REACHABLE_HOSTS)
    heavy = sorted(r for r in recipes if HEAVY_RECIPES.search(r))
    recipe_dists = sorted({re.split(r"[:\[\s]", r, maxsplit=1)[0] for r in recipes if r})
    cost = len(parts) + 20 * len(heavy) + 3 * len(extensions) + 5 * bool(heavy_words) + len(recipe_dists)
    if unreachable:
        status = "unreachable"
    elif missing or unresolved:
        status = "missing-local"
    else:
        status = "runnable"
    return {
        "repo": manifest.get("repo", ""),
        "entry": entry,
        "files_followed": sorted(os.path.relpath(p, case_dir) for p in seen if os.path.isfile(p)),
        "recipes": sorted(recipes),
        "recipe_dists": recipe_dists,
        "extensions": sorted(extensions),
        "remote_extends": sorted(set(remote)),
        "remote_hosts": remote_hosts,
        "unreachable_hosts": unreachable,
        "index_hosts": sorted(index_hosts),
        "unreachable_index_hosts": sorted(h for h in index_hosts if h not in REACHABLE_HOSTS),
        "missing_local": missing,
        "unresolved_extends": unresolved,
        "parts": parts,
        "develop": develop,
        "heavy_recipes": heavy,
        "heavy_words": sorted(heavy_words),
        "cost": cost,
        "status": status,
    }


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def copy_case(case_dir, dest):
    shutil.copytree(case_dir, dest, ignore=shutil.ignore_patterns("MANIFEST.txt"),
                    copy_function=shutil.copyfile)
    for root, dirs, names in os.walk(dest):
        os.chmod(root, 0o755)
        for n in names:
            os.chmod(os.path.join(root, n), 0o644)


STUB_SETUP = """# Stub written by tests/real_configs/compare.py --stub-develop: the case holds only its
# configuration files, not the project that `develop` names.
from setuptools import setup
setup(name=%r, version="0.0.0.dev0", py_modules=[])
"""


def stub_develop(bo, info):
    """Give each `develop` directory that has no setup.py / pyproject.toml a stub setup.py."""
    made = []
    for d in info["develop"]:
        d = d.replace("${buildout:directory}", ".")
        if "${" in d or os.path.isabs(d):
            continue
        path = os.path.normpath(os.path.join(bo, d))
        if os.path.exists(os.path.join(path, "setup.py")) or os.path.exists(os.path.join(path, "pyproject.toml")):
            continue
        if d in (".", "./"):
            name = info.get("repo", "project").rsplit("/", 1)[-1]
        else:
            name = os.path.basename(path.rstrip("/"))
        # A valid project name (PEP 508: letters or digits at both ends).
        name = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("._-") or "project"
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "setup.py"), "w", encoding="utf-8") as f:
            f.write(STUB_SETUP % name)
        made.append(os.path.relpath(os.path.join(path, "setup.py"), bo))
    return made


def run_tool(argv, cwd, env, timeout, log_prefix):
    start = time.monotonic()
    with open(log_prefix + ".stdout", "wb") as out, open(log_prefix + ".stderr", "wb") as err:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=timeout)
            outcome = "exit %d" % rc
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            rc = None
            outcome = "timeout"
    elapsed = round(time.monotonic() - start, 1)
    with open(log_prefix + ".stderr", "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    with open(log_prefix + ".stdout", "rb") as f:
        stdout = f.read().decode("utf-8", "replace")
    errors = [l for l in (stderr + "\n" + stdout).splitlines() if l.startswith("Error:")]
    lines = [l for l in stderr.splitlines() if l.strip()]
    return {"status": outcome, "returncode": rc, "seconds": elapsed,
            "error": errors[-1] if errors else None,
            "last_line": lines[-1] if lines else None,
            "traceback": "Traceback (most recent call last)" in stderr}


def file_set(bo, replace, texts=None):
    """Relative paths (directories with a trailing '/') and a hash of each file's content with
    the scratch paths in `replace` turned into placeholders."""
    files = {}
    for root, dirs, names in os.walk(bo):
        rel_root = os.path.relpath(root, bo)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if d not in EXCLUDED_TOP and not EXCLUDED_NAME.match(d)]
            names = [n for n in names if not EXCLUDED_NAME.match(n)]
        else:
            dirs[:] = [d for d in dirs if not EXCLUDED_NAME.match(d)]
            names = [n for n in names if not EXCLUDED_NAME.match(n)]
        prefix = "" if rel_root == "." else rel_root + "/"
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                files[prefix + d] = "symlink"
                dirs.remove(d)
            else:
                files[prefix + d + "/"] = "dir"
        for n in names:
            p = os.path.join(root, n)
            if os.path.islink(p):
                files[prefix + n] = "symlink"
                continue
            try:
                if os.path.getsize(p) > 4 << 20:
                    files[prefix + n] = "big"
                    continue
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                files[prefix + n] = "unreadable"
                continue
            for old, new in replace:
                data = data.replace(old.encode(), new.encode())
            files[prefix + n] = hashlib.sha256(data).hexdigest()[:16]
            if texts is not None and len(data) < 256 << 10 and b"\0" not in data:
                texts[prefix + n] = data.decode("utf-8", "replace")
    return files


def installed_parts(bo):
    path = os.path.join(bo, ".installed.cfg")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        cfg = parse_cfg(f.read())
    value = "".join(v for _, v in cfg.get("buildout", {}).get("parts", []))
    return tokens(value)


# Where this machine's CA bundle is (a TLS-inspecting proxy signs the certificates): kept from
# the caller's environment, as a user's shell would have them.
CA_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE",
           "GIT_SSL_CAINFO")
PASS_ENV = list(CA_VARS)


def tool_env(home, python_dir, extra=None):
    env = {
        "PATH": ":".join([python_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "LANG": "C.UTF-8",
    }
    for name in PASS_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra or {})
    return env


def run_case(name, args, info):
    case_dir = os.path.join(args.configs, name)
    scratch = os.path.join(args.scratch, name)
    logs = os.path.join(args.out, "logs", name)
    if os.path.exists(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(logs, exist_ok=True)
    entry = info["entry"]
    result = {"case": name, "classification": info, "tools": {}}
    texts = {}
    for tool in ("ref", "ours"):
        base = os.path.join(scratch, tool)
        bo = os.path.join(base, "bo")
        home = os.path.join(base, "home")
        cache = os.path.join(base, "cache")
        copy_case(case_dir, bo)
        if args.stub_develop:
            result["stubs"] = stub_develop(bo, info)
        os.makedirs(home)
        os.makedirs(cache)
        argv = [os.path.join(args.ref, "bin", "buildout") if tool == "ref" else args.ours, "-n"]
        if entry != "buildout.cfg":
            argv += ["-c", entry]
        extra = {"BUILDOUT_CACHE_DIR": cache} if tool == "ours" else {}
        env = tool_env(home, args.python_dir, extra)
        r = run_tool(argv, bo, env, args.timeout, os.path.join(logs, tool))
        r["argv"] = argv
        r["cwd_placeholder"] = "<scratch>/%s/%s/bo" % (name, tool)
        # The Python each tool writes into scripts by default: the reference venv's for
        # zc.buildout (the Python running it), python3 on PATH for ours.
        pythons = [os.path.join(args.ref, "bin", "python3"), os.path.join(args.ref, "bin", "python"),
                   os.path.join(args.python_dir, "python3")]
        texts[tool] = {}
        files = file_set(bo, [(bo, "<BUILDOUT>"), (home, "<HOME>"), (cache, "<CACHE>")]
                         + [(p, "<PYTHON>") for p in pythons], texts[tool])
        r["files"] = files
        r["installed_parts"] = installed_parts(bo)
        result["tools"][tool] = r
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    compare(result)
    # A unified diff of the (normalised) text files whose content differs.
    with open(os.path.join(logs, "content.diff"), "w", encoding="utf-8") as f:
        for p in result["content_differs"][:20]:
            a, b = texts["ref"].get(p), texts["ours"].get(p)
            if a is None or b is None:
                f.write("--- %s: binary or big\n" % p)
                continue
            f.writelines(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                              "ref/" + p, "ours/" + p))
    with open(os.path.join(args.out, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    return result


def compare(result):
    ref, ours = result["tools"]["ref"], result["tools"]["ours"]
    rf, of = set(ref["files"]), set(ours["files"])
    only_ref, only_ours = sorted(rf - of), sorted(of - rf)
    content = sorted(p for p in rf & of if ref["files"][p] != ours["files"][p])
    result["same_status"] = ref["status"] == ours["status"]
    result["same_files"] = not only_ref and not only_ours
    result["same_parts"] = ref["installed_parts"] == ours["installed_parts"]
    result["only_ref"] = only_ref
    result["only_ours"] = only_ours
    result["content_differs"] = content
    if not result["same_status"]:
        first = "status: ref %s, ours %s" % (ref["status"], ours["status"])
    elif only_ref or only_ours:
        first = "files: " + ", ".join(["-" + p for p in only_ref[:3]] + ["+" + p for p in only_ours[:3]])
    elif not result["same_parts"]:
        first = "installed parts: ref %s, ours %s" % (ref["installed_parts"], ours["installed_parts"])
    elif content:
        first = "(same set) content: " + ", ".join(content[:3])
    else:
        first = ""
    result["first_difference"] = first
    result["verdict"] = "same" if (result["same_status"] and result["same_files"] and result["same_parts"]) else "differs"


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def md_cell(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")[:220]


def write_summary(args, classes):
    rows = []
    counts = {}
    for name in sorted(classes):
        path = os.path.join(args.out, name + ".json")
        info = classes[name]
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                r = json.load(f)
            ref, ours = r["tools"]["ref"], r["tools"]["ours"]
            note = r["first_difference"]
            ref_line = ref.get("error") or ref.get("last_line") or ""
            our_line = ours.get("error") or ours.get("last_line") or ""
            if ref["status"] != "exit 0" or ours["status"] != "exit 0":
                note = (note + " — " if note else "") + "ref: %s — ours: %s" % (ref_line[:100], our_line[:160])
            rows.append((name, info["status"], ref["status"], ours["status"],
                         "yes" if r["same_files"] else "no (%d/%d)" % (len(r["only_ref"]), len(r["only_ours"])),
                         "yes" if r["same_parts"] else "no", r["verdict"], note))
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        else:
            why = "not run"
            if info["status"] == "unreachable":
                why = "skipped: unreachable " + ", ".join(info["unreachable_hosts"])
            rows.append((name, info["status"], "", "", "", "", why, ""))
            key = "unreachable" if info["status"] == "unreachable" else "not run"
            counts[key] = counts.get(key, 0) + 1
    lines = [
        "# Real configurations: zc.buildout 6.0.1 vs ours",
        "",
        "Counts: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())),
        "",
        "| case | class | ref | ours | same files (-ref/+ours) | same parts | verdict | first difference / our error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(md_cell(c) for c in row) + " |")
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def default_python_dir(ref):
    try:
        with open(os.path.join(ref, "pyvenv.cfg"), encoding="utf-8") as f:
            for line in f:
                k, _, v = line.partition("=")
                if k.strip() == "home":
                    return v.strip()
    except OSError:
        pass
    return os.path.dirname(shutil.which("python3") or "/usr/bin/python3")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cases", nargs="*", help="case directory names (default: all)")
    ap.add_argument("--configs", default=CONFIGS, help="directory of cases (%(default)s)")
    ap.add_argument("--ref", default=REF, help="zc.buildout 6.0.1 venv (%(default)s)")
    ap.add_argument("--ours", default=OURS, help="our buildout binary (%(default)s)")
    ap.add_argument("--python-dir", help="directory put first on PATH, where ours finds python3"
                    " (default: the reference venv's bin, so both tools use the same interpreter"
                    " and site-packages; --python-dir base: the venv's base Python)")
    ap.add_argument("--out", default="target/real-configs", help="output directory (%(default)s)")
    ap.add_argument("--scratch", help="scratch directory (default: OUT/scratch)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per tool run (%(default)s)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="cases run in parallel (%(default)s)")
    ap.add_argument("--force", action="store_true", help="rerun cases that have a result")
    ap.add_argument("--all", action="store_true", help="also run cases classified unreachable")
    ap.add_argument("--limit", type=int, help="run at most this many cases (cheapest first)")
    ap.add_argument("--max-cost", type=int, help="run only cases whose static cost is at most this")
    ap.add_argument("--no-heavy", action="store_true", help="skip cases with Zope/Plone/Odoo/compiling recipes")
    ap.add_argument("--classify", action="store_true", help="only write classification.json / print the order")
    ap.add_argument("--summary", action="store_true", help="only rewrite summary.md from the results")
    ap.add_argument("--stub-develop", action="store_true",
                    help="write a stub setup.py into each develop directory the case lacks (both tools)")
    ap.add_argument("--pass-env", action="append", default=None, metavar="NAME",
                    help="environment variable kept for both tools (repeatable; default: the CA"
                    " bundle variables %s; --pass-env '' keeps none)" % ", ".join(CA_VARS))
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    args.scratch = os.path.abspath(args.scratch or os.path.join(args.out, "scratch"))
    args.ref = os.path.abspath(args.ref)
    args.ours = os.path.abspath(args.ours)
    if args.python_dir == "base":
        args.python_dir = default_python_dir(args.ref)
    args.python_dir = os.path.abspath(args.python_dir or os.path.join(args.ref, "bin"))
    os.makedirs(args.out, exist_ok=True)
    if args.pass_env is not None:
        PASS_ENV[:] = [n for n in args.pass_env if n]

    names = sorted(d for d in os.listdir(args.configs)
                   if os.path.isfile(os.path.join(args.configs, d, "MANIFEST.txt")))
    classes = {n: classify(os.path.join(args.configs, n)) for n in names}
    with open(os.path.join(args.out, "classification.json"), "w", encoding="utf-8") as f:
        json.dump(classes, f, indent=1, sort_keys=True)
    if args.summary:
        write_summary(args, classes)
        return 0

    if args.cases:
        unknown = [c for c in args.cases if c not in classes]
        if unknown:
            sys.exit("unknown cases: " + ", ".join(unknown))
        todo = list(args.cases)
    else:
        todo = sorted(names, key=lambda n: (classes[n]["cost"], n))
    selected = []
    for n in todo:
        c = classes[n]
        if c["status"] == "unreachable" and not args.all:
            continue
        if not args.cases and args.no_heavy and (c["heavy_recipes"] or c["heavy_words"]):
            continue
        if not args.cases and args.max_cost is not None and c["cost"] > args.max_cost:
            continue
        if not args.force and os.path.isfile(os.path.join(args.out, n + ".json")):
            continue
        selected.append(n)
    if args.limit is not None:
        selected = selected[: args.limit]

    if args.classify:
        for n in todo:
            c = classes[n]
            print("%-45s %-13s cost=%-3d parts=%-2d ext=%s recipes=%s%s" % (
                n, c["status"], c["cost"], len(c["parts"]), ",".join(c["extensions"]) or "-",
                ",".join(c["recipe_dists"]) or "-",
                " unreachable=" + ",".join(c["unreachable_hosts"]) if c["unreachable_hosts"] else ""))
        return 0

    lock = threading.Lock()

    def one(n):
        t0 = time.monotonic()
        try:
            r = run_case(n, args, classes[n])
            msg = "%s: ref %s, ours %s, %s %s" % (n, r["tools"]["ref"]["status"], r["tools"]["ours"]["status"],
                                                   r["verdict"], r["first_difference"])
        except Exception as e:  # keep going with the other cases
            msg = "%s: harness error %r" % (n, e)
        with lock:
            print("[%4.0fs] %s" % (time.monotonic() - t0, msg), flush=True)
            write_summary(args, classes)

    print("running %d case(s), %d at a time" % (len(selected), args.jobs), flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, selected))
    write_summary(args, classes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
