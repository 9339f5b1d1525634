"""The manual's links: every relative link of README.md and docs/*.md names a
file that exists and, with a #anchor, a heading of that file (GitHub's slug
rules); README.md links every page of docs/. The checker is also run on small
pages made here, to show that it names a broken link and a broken anchor."""
import glob
import os
import re
from urllib.parse import unquote

import pytest

pytestmark = pytest.mark.no_lb_binaries

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) or [text](target "title"); ![alt](src) alike
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")   # http:, https:, mailto:, ...


def prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks, code
    spans blanked out (a link inside backticks is not a link)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fence = None
    for n, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield n, CODE_SPAN.sub(lambda c: " " * len(c.group(0)), line)


def slug(heading):
    """GitHub's anchor of a heading: its text without markup, lower-case,
    punctuation other than '-' and '_' removed, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = re.sub(r"<[^>]+>", "", text)                           # inline HTML
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor of a Markdown file, with GitHub's -1, -2 ... suffixes for
    headings that repeat."""
    seen, out = {}, set()
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fence = None
    for line in lines:
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is not None:
            continue
        h = HEADING.match(line)
        if not h:
            continue
        s = slug(h.group(2))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def links(path):
    """(line number, target) of every link of a Markdown file."""
    for n, line in prose_lines(path):
        for m in INLINE_LINK.finditer(line):
            yield n, m.group(1)
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1)


def broken_links(paths, root=ROOT):
    """'file:line: target: why' for every relative link that does not resolve."""
    problems = []
    cache = {}
    for path in paths:
        rel = os.path.relpath(path, root)
        for n, target in links(path):
            if not target or EXTERNAL.match(target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), unquote(file_part))) \
                if file_part else path
            if not os.path.exists(dest):
                problems.append(f"{rel}:{n}: {target}: no such file "
                                f"{os.path.relpath(dest, root)}")
                continue
            if not anchor:
                continue
            if not dest.endswith(".md") or os.path.isdir(dest):
                problems.append(f"{rel}:{n}: {target}: an anchor into a file that is not Markdown")
                continue
            if dest not in cache:
                cache[dest] = anchors(dest)
            if unquote(anchor) not in cache[dest]:
                problems.append(f"{rel}:{n}: {target}: no heading #{anchor} in "
                                f"{os.path.relpath(dest, root)}")
    return problems


def manual(root=ROOT):
    return [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))


def pages_not_linked(readme, root=ROOT):
    """The docs/*.md pages README.md does not link."""
    linked = set()
    for _, target in links(readme):
        file_part = target.partition("#")[0]
        if file_part and not EXTERNAL.match(target):
            linked.add(os.path.normpath(os.path.join(os.path.dirname(readme), unquote(file_part))))
    return [os.path.relpath(p, root) for p in sorted(glob.glob(os.path.join(root, "docs", "*.md")))
            if os.path.normpath(p) not in linked]


def test_every_relative_link_and_anchor_resolves():
    problems = broken_links(manual())
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_readme_links_every_page_of_the_manual():
    assert glob.glob(os.path.join(ROOT, "docs", "*.md")), "no docs/*.md"
    missing = pages_not_linked(os.path.join(ROOT, "README.md"))
    assert not missing, f"README.md does not link: {missing}"


def test_the_checker_names_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# lb\n\n"
        "- [ok](docs/a.md) and [ok too](docs/a.md#the-proxys-own-routes)\n"
        "- [gone](docs/missing.md)\n"
        "- [no such heading](docs/a.md#nowhere)\n"
        "```\n[in a code block](docs/not-checked.md)\n```\n"
        "`[in a code span](docs/not-checked.md)` [out](https://example.com/x)\n")
    (tmp_path / "docs" / "a.md").write_text(
        "# A\n\n## The proxy's own routes\n\n"
        "[here](#a) [README](../README.md#lb) [up](../README.md#nope)\n"
        "```sh\n# not a heading\n```\n[code comment](#not-a-heading)\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n")
    problems = broken_links(manual(str(tmp_path)), root=str(tmp_path))
    assert problems == [
        "README.md:4: docs/missing.md: no such file docs/missing.md",
        "README.md:5: docs/a.md#nowhere: no heading #nowhere in docs/a.md",
        "docs/a.md:5: ../README.md#nope: no heading #nope in README.md",
        "docs/a.md:9: #not-a-heading: no heading #not-a-heading in docs/a.md",
    ], problems
    assert pages_not_linked(str(tmp_path / "README.md"), root=str(tmp_path)) == ["docs/b.md"]


@pytest.mark.parametrize("heading,anchor", [
    ("Two listeners: TLS and plain, and --redirect-https",
     "two-listeners-tls-and-plain-and---redirect-https"),
    ("The proxy's own routes", "the-proxys-own-routes"),
    ("lb-discover --kubernetes", "lb-discover---kubernetes"),
    ("Configuration (every program)", "configuration-every-program"),
    ("`make test` and [fuzzing](x.md)", "make-test-and-fuzzing"),
])
def test_slugs_follow_github(heading, anchor):
    assert slug(heading) == anchor
