#!/usr/bin/python3
"""The man pages agree with --help, and the README with both.

For every program: its man page was rendered at build time (scdoc) into
$TDNS_BUILD/man/; every option that --help lists (short and long) and every
default it states appears in the page, and the page has an EXAMPLES section;
for tierdns-zone every command too. The README's copy of each --help text is
the program's output, with the build's state directory shown as
/var/lib/tierdns and its configuration directory as /etc/tierdns (what a
package built with the prefix /usr prints).

tierdns.conf(5) documents every key of the option table: the keys that
--check-config prints for each daemon (it prints them all, defaults
included), top-level keys as "key:" and those of a section (control:,
metrics:, zones:) as "key:" after the section's "section:".
"""
import os
import re
import subprocess
import sys

BUILD = os.environ["TDNS_BUILD"]
SRC = os.environ.get("TDNS_SRC",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROGRAMS = {"tierdns-upper": 8, "tierdns-local": 8, "tierdns-query": 1, "tierdns-zone": 1,
            "tierdns-control": 8}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def squeeze(text):
    return " ".join(text.split())


def roff_text(path):
    """The words of a page scdoc wrote, without the roff markup."""
    out = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("."):
            parts = line.split(None, 1)
            # .SH NAME keeps its words; .P, .RS 4, .nf ... are layout only
            if parts[0] in (".SH", ".SS") and len(parts) > 1:
                out.append(parts[1])
            continue
        out.append(line)
    text = "".join(out)
    for a, b in (("\\fB", ""), ("\\fI", ""), ("\\fR", ""), ("\\&", ""),
                 ("\\-", "-"), ("\\e", "\\"), ("\\(aq", "'"), ("\\(dq", '"')):
        text = text.replace(a, b)
    return text


def help_text(prog):
    r = subprocess.run([os.path.join(BUILD, prog), "--help"], capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        fail(f"{prog} --help exited {r.returncode}")
    return r.stdout


def options(help_out):
    """-x and --long from the option lines (those that start with a dash
    after the indent)."""
    opts = set()
    for line in help_out.splitlines():
        m = re.match(r"^\s+(-[A-Za-z0-9])?(?:, )?(--[a-z0-9][a-z0-9-]*)?", line)
        if m and (m.group(1) or m.group(2)):
            opts.update(o for o in m.groups() if o)
    return opts


def defaults(help_out):
    """What every "(default X)" or "(default: X)" says, whitespace squeezed."""
    return [squeeze(d) for d in re.findall(r"\(default:? ([^)]*)\)", help_out)]


def readme_block(readme, prog):
    m = re.search(r"^### " + re.escape(prog) + r"\n\n```\n(.*?)```\n", readme,
                  re.S | re.M)
    return m.group(1) if m else None


man_dir = os.path.join(BUILD, "man")
if not os.path.isdir(man_dir):
    print("man pages not built (-DTDNS_MAN=OFF): skipped")
    sys.exit(77)
readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()

for prog, section in PROGRAMS.items():
    page = os.path.join(man_dir, f"{prog}.{section}")
    if not os.path.isfile(page):
        fail(f"no man page {page}")
        continue
    man = roff_text(page)
    man_sq = squeeze(man)
    out = help_text(prog)
    opts = options(out)
    if len(opts) < 4:
        fail(f"{prog}: only {sorted(opts)} found in --help")
    for o in sorted(opts):
        if not re.search(r"(?<![A-Za-z0-9-])" + re.escape(o) + r"(?![A-Za-z0-9-])", man):
            fail(f"{prog}: option {o} is in --help but not in {prog}({section})")
    for d in defaults(out):
        if d not in man_sq:
            fail(f"{prog}: default '{d}' is in --help but not in {prog}({section})")
    if prog == "tierdns-zone":
        cmds = re.findall(r"^  ([a-z]+) ", out.split("commands:")[1].split("options:")[0],
                          re.M)
        for c in cmds:
            if not re.search(r"^" + c + r"\b", man, re.M):
                fail(f"tierdns-zone: command {c} not in tierdns-zone(1)")
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"):
        if not re.search(r"^" + sec + r"$", man, re.M):
            fail(f"{prog}({section}) has no {sec} section")
    # README: the same --help text.
    block = readme_block(readme, prog)
    want = re.sub(r"\(default /[^)]*/lib/tierdns/", "(default /var/lib/tierdns/", out)
    want = re.sub(r"\(default /[^)]*/etc/tierdns/", "(default /etc/tierdns/", want)
    if block is None:
        fail(f"README has no --help block under '### {prog}'")
    elif block != want:
        import difflib
        diff = "".join(difflib.unified_diff(block.splitlines(True), want.splitlines(True),
                                            "README.md", f"{prog} --help"))
        fail(f"README's {prog} --help differs from the program's:\n{diff}")
    print(f"{prog}: {len(opts)} options, {len(defaults(out))} defaults checked")



def config_keys(prog):
    """(section, key) for every key --check-config prints; section None at
    the top, "zones" for the keys of a zone stanza."""
    r = subprocess.run([os.path.join(BUILD, prog), "-c", "/dev/null", "--check-config"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        fail(f"{prog} --check-config exited {r.returncode}: {r.stderr}")
    keys, section = [], None
    # with a zone stanza, so that the stanza's keys are printed too
    for line in r.stdout.splitlines() + ["zones:", "  - name: x."]:
        m = re.match(r"^(  (?:- )?)?([a-z0-9-]+):", line)
        if not m:
            continue
        if m.group(1) is None:
            section = m.group(2)
            keys.append((None, m.group(2)))
        else:
            keys.append((section, m.group(2)))
    return keys


page = os.path.join(man_dir, "tierdns.conf.5")
if not os.path.isfile(page):
    fail(f"no man page {page}")
else:
    man = roff_text(page)
    n = 0
    for prog in ("tierdns-upper", "tierdns-local"):
        keys = config_keys(prog)
        if len(keys) < 15:
            fail(f"{prog} --check-config printed only {keys}")
        for section, key in keys:
            n += 1
            term = r"(?<![A-Za-z0-9-])" + re.escape(key) + r":"
            if section is None:
                ok = re.search(term, man)
            else:
                m = re.search(r"(?<![A-Za-z0-9-])" + re.escape(section) + r":", man)
                ok = m and re.search(term, man[m.end():])
            if not ok:
                where = f"{section}: {key}" if section else key
                fail(f"key '{where}' of {prog} is not in tierdns.conf(5)")
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES"):
        if not re.search(r"^" + sec + r"$", man, re.M):
            fail(f"tierdns.conf(5) has no {sec} section")
    print(f"tierdns.conf(5): {n} keys checked")

if failures:
    sys.exit(1)
print("ok")
