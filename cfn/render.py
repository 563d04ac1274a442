"""Renders the deployable templates and queries from their sources: each line ``-- include: <path>``
becomes the text of that file (a path relative to the including file), indented as the line was.

Why: each SQL text has one source. A named query's SQL lives in ``cfn/queries/<name>.sql`` and
``central-reporting.yaml`` names it with an include line inside its ``QueryString``; the parts
several queries share (the newest-row window over instance information, the newest Config
snapshot chain) live in ``cfn/queries/parts/`` and the queries include them. What CloudFormation,
Athena and QuickSight get is self-contained text: the rendered template (an artifact, published by
``make deploy``; ``make build`` writes it to ``dist/templates/``) and the rendered queries.
``crates/quicksight-builder/build.rs`` renders the dataset SQL the same way at compile time.

    python cfn/render.py --out dist/templates      # every template, and queries/ beside them
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

CFN = pathlib.Path(__file__).resolve().parent
INCLUDE = re.compile(r"^(?P<indent>[ \t]*)-- include: (?P<path>\S+)[ \t]*$")


class RenderError(Exception):
    """An include names a missing file or includes itself; the message names the file and line."""


def expand(path: pathlib.Path, _seen: tuple[pathlib.Path, ...] = ()) -> str:
    """The file's text with every include line replaced by the included file's expanded text."""
    path = path.resolve()
    if path in _seen:
        raise RenderError(" includes ".join(str(p) for p in (*_seen, path)) + ": an include cycle")
    try:
        text = path.read_text()
    except OSError as e:
        raise RenderError(f"{_seen[-1] if _seen else path}: cannot read {path}: {e.strerror}") from e
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        match = INCLUDE.match(line.rstrip("\n"))
        if match is None:
            out.append(line)
            continue
        target = (path.parent / match["path"])
        if not target.is_file():
            raise RenderError(f"{path}:{number}: includes {match['path']}, which does not exist")
        included = expand(target, (*_seen, path))
        indent = match["indent"]
        out += [(indent + part if part.strip() else part) for part in included.splitlines(keepends=True)]
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def template(name: str) -> str:
    """A template of cfn/ as it is deployed."""
    return expand(CFN / name)


def templates() -> dict[str, str]:
    """Every template of cfn/, rendered, by file name."""
    return {path.name: expand(path) for path in sorted(CFN.glob("*.yaml"))}


def queries() -> dict[str, str]:
    """Every named query of cfn/queries/, rendered, by file name (the parts are not queries)."""
    return {path.name: expand(path) for path in sorted((CFN / "queries").glob("*.sql"))}


def write(out: pathlib.Path) -> list[pathlib.Path]:
    """Writes the rendered templates to ``out`` and the rendered queries to ``out/queries``."""
    written = []
    for folder, rendered in ((out, templates()), (out / "queries", queries())):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (folder / name).write_text(text)
            written.append(folder / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for the rendered templates")
    args = parser.parse_args(argv)
    try:
        written = write(args.out)
    except RenderError as e:
        print(f"render: {e}", file=sys.stderr)
        return 2
    print(f"rendered {len(written)} files into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
