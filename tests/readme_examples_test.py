#!/usr/bin/env python3
"""README's code excerpts are the example programs' own lines, so that what the suite
compiles and runs (the example bots in C++, C, Python and Rust) is what the README shows.

A fenced block right after a line `<!-- excerpt: PATH -->` must appear in PATH: its lines,
stripped of indentation, in order and contiguous, except that a line that is only an
elision mark (`// ...`, `/* ... */` or `# ...`) stands for any number of lines.

    readme_examples_test.py README.md
"""
import re
import sys
from pathlib import Path

ELISIONS = {"// ...", "/* ... */", "# ..."}


def chunks(lines):
    out, cur = [], []
    for line in lines:
        if line in ELISIONS:
            out.append(cur)
            cur = []
        elif line:
            cur.append(line)
    out.append(cur)
    return [c for c in out if c]


def find(haystack, needle, start):
    for i in range(start, len(haystack) - len(needle) + 1):
        if haystack[i:i + len(needle)] == needle:
            return i
    return -1


def main() -> int:
    readme = Path(sys.argv[1])
    root = readme.parent
    text = readme.read_text()
    blocks = re.findall(r"<!-- excerpt: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
    if not blocks:
        print("no excerpts found in", readme)
        return 1
    failures = 0
    for path, body in blocks:
        source = [l.strip() for l in (root / path).read_text().splitlines()]
        source = [l for l in source if l]
        at = 0
        for chunk in chunks([l.strip() for l in body.splitlines()]):
            i = find(source, chunk, at)
            if i < 0:
                print(f"{path}: README's lines are not in it (from {chunk[0]!r})")
                failures += 1
                break
            at = i + len(chunk)
    print(f"{len(blocks) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
