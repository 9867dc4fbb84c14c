"""Every ``vitals ...`` command line the documentation shows parses with the real command-line parser: the fenced
blocks of README.md and docs/*.md, and the examples of every command's ``--help``. A renamed option, a removed
choice or a typo in an example fails here, not in a user's terminal.

What counts as a command: in a block with ``$ `` prompts, the prompted lines (the others are output); in a block
without, every line starting with ``vitals ``; continuation lines (``\\``) joined; environment assignments in front,
comments, pipes, redirections and ``&`` cut off; error output (``vitals run: error: ...``) is not a command. Usage
syntax (``[--json]``), elided arguments (``...``) and lines that load a plugin first (its choices exist only once
it is imported) are not runnable examples and are skipped."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from vitals.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
CUT = (" #", " | ", " > ", " >> ", " 2>", " && ", " &")


def _joined(lines: list[str]) -> Iterator[str]:
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line.rstrip()[:-1] + " " + lines[i].strip()
        i += 1
        yield line


def _command(line: str, *, prompted: bool) -> str | None:
    text = line.strip()
    if prompted:
        if not text.startswith("$ "):
            return None
        text = text[2:]
    text = re.sub(r"^(\w+=\S*\s+)+", "", text).removeprefix(".venv/bin/")
    if not text.startswith("vitals ") or re.match(r"vitals [\w-]+: ", text):  # not output ("vitals run: error")
        return None
    for mark in CUT:
        text = text.split(mark)[0]
    if "[" in text or "..." in text or "--plugin" in text:
        return None
    return text.strip()


def doc_commands() -> list[tuple[str, str]]:
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in FENCE.findall(path.read_text(encoding="utf-8")):
            lines = block.split("\n")
            prompted = any(line.startswith("$ ") for line in lines)
            for line in _joined(lines):
                if (command := _command(line, prompted=prompted)) is not None:
                    found.append((str(path.relative_to(REPO)), command))
    return found


def help_commands() -> list[tuple[str, str]]:
    def walk(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:  # argparse keeps its subparsers there
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*path, name])

    found = []
    for path, parser in walk(build_parser(), ["vitals"]):
        for line in _joined((parser.epilog or "").split("\n")):
            if (command := _command(line, prompted=False)) is not None:
                found.append((" ".join(path) + " --help", command))
    return found


def _parse_error(command: str) -> str | None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit as exc:
        if exc.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


def test_the_extraction_finds_the_commands() -> None:
    docs, helps = doc_commands(), help_commands()
    assert len(docs) > 50 and len(helps) > 50
    assert ("docs/alerting.md", "vitals alerts unsilence 901f") in docs  # a prompted line, its comment cut
    assert not any(c.startswith("vitals  ") or " 2025-06-02 2025-06-02 " in c for _, c in docs)  # no output lines
    assert _parse_error("vitals history export DIR --out x.csv --names fr") is not None  # the check can fail


@pytest.mark.parametrize(("where", "command"), doc_commands() + help_commands())
def test_a_documented_command_parses(where: str, command: str) -> None:
    error = _parse_error(command)
    assert error is None, f"{where}: `{command}`: {error}"


def test_the_settings_file_of_the_operations_page_loads(tmp_path: Path) -> None:
    from vitals.config import load_settings

    block = re.search(r"```yaml\n(# /etc/city-vitals/prod\.yaml.*?)```", (REPO / "docs" / "operations.md").read_text(
        encoding="utf-8"), re.S)
    assert block is not None
    (tmp_path / "prod.yaml").write_text(block.group(1), encoding="utf-8")
    settings = load_settings(str(tmp_path / "prod.yaml"), {})
    assert settings.source == "mqtt" and settings.planned_works == "/etc/city-vitals/planned-works.yaml"
    assert settings.sinks["history"].dir == "/var/lib/city-vitals/history"
