"""``vaxclean --help`` and ``vaxclean COMMAND --help``: every command says what it does and its flags."""

from __future__ import annotations

import importlib.util
import re

import pytest

from vaxclean import cli


def help_text(argv, capsys) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse exits after printing --help
        code = exc.code
    out = capsys.readouterr()
    return int(code or 0), out.out + out.err


def option_entries(text: str) -> list[str]:
    """The entries of argparse's ``options:`` section, continuation lines joined."""
    section = text.split("options:", 1)[1]
    entries: list[str] = []
    for line in section.splitlines():
        if re.match(r"^  -", line):
            entries.append(line.strip())
        elif line.startswith("   ") and entries:
            entries[-1] += "  " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break  # the next section
    return entries


def test_top_level_help_lists_every_command(capsys):
    code, text = help_text(["--help"], capsys)
    assert code == 0
    for name, (module, _) in cli.COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            assert re.search(rf"^  {re.escape(name)}\s+\S", text, re.M), name


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_help_has_a_description_and_documented_flags(name, capsys):
    if importlib.util.find_spec(cli.COMMANDS[name][0]) is None:
        pytest.skip(f"{cli.COMMANDS[name][0]} is not written yet")
    code, text = help_text([name, "--help"], capsys)
    assert code == 0
    assert text.startswith(f"usage: vaxclean {name}"), text[:200]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    description = paragraphs[1]
    assert not description.startswith(("options:", "positional arguments:")), f"{name}: no description"
    assert len(description.split()) >= 4, f"{name}: description too short: {description!r}"
    entries = option_entries(text)
    assert any(e.startswith("-h, --help") for e in entries)
    undocumented = [e for e in entries if not re.search(r"\S {2,}\S", e)]
    assert undocumented == [], f"{name}: flags without help text: {undocumented}"
