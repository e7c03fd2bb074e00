"""A command-line reference written from an ``argparse`` parser itself.

``reference(parser)`` walks a parser and its sub-commands and returns Markdown: for each
command a heading, its description, its usage line and a table of its arguments (the
invocation, the default and the help, one table per argument group). ``commands(parser)``
lists the top-level commands on one line, for the home page. Nothing is typed twice, so
the pages cannot drift from the command line: a new option appears at the next build.
"""

from __future__ import annotations

import argparse
import html

from markdown.extensions.toc import slugify

#: The width of the usage lines (the page's code blocks show about 80 characters), fixed
#: so that the page does not depend on the terminal that builds it.
USAGE_WIDTH = 78

_DEFAULT_NOTE = "default: "


def _subcommands(parser: argparse.ArgumentParser):
    """(name, help, sub-parser) of each sub-command of ``parser``, in the parser's order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name), sub


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return parser.formatter_class(prog=parser.prog, width=USAGE_WIDTH)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups,
                        prefix="")
    return formatter.format_help().strip()


def _split_default(help_text: str) -> tuple[str, str | None]:
    """Splits a help that ends with "(default: X)" into the help before it and X."""
    if not help_text.endswith(")"):
        return help_text, None
    depth = 0
    for start in range(len(help_text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(help_text[start], 0)
        if depth == 0:
            break
    inside = help_text[start + 1:-1]
    if depth != 0 or not inside.startswith(_DEFAULT_NOTE):
        return help_text, None
    return help_text[:start].rstrip(), inside[len(_DEFAULT_NOTE):]


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def _default(action: argparse.Action, stated: str | None) -> str:
    """The default of ``action`` as the help states it, or as argparse holds it."""
    if stated is not None:
        return stated
    if isinstance(action, argparse._StoreTrueAction):
        return "off"
    if isinstance(action, argparse._StoreFalseAction):
        return "on"
    if action.required or (not action.option_strings and action.nargs is None):
        return "required"
    if action.default is None:
        return "none"
    return _shown(action.default)


def _inline(text: str) -> str:
    """HTML of a help text: escaped, with its `backquoted` spans as code."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backquote: no code spans
        return html.escape(text)
    return "".join(html.escape(part) if index % 2 == 0 else f"<code>{html.escape(part)}</code>"
                   for index, part in enumerate(parts))


def _table(parser: argparse.ArgumentParser, actions) -> str:
    formatter = _formatter(parser)
    rows = []
    for action in actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        invocation = formatter._format_action_invocation(action)
        text, stated = _split_default(formatter._expand_help(action) if action.help else "")
        rows.append(
            f"<tr><td><code>{html.escape(invocation)}</code></td>"
            f"<td><code>{html.escape(_default(action, stated))}</code></td>"
            f"<td>{_inline(text)}</td></tr>")
    if not rows:
        return ""
    head = "<tr><th>Argument</th><th>Default</th><th>Description</th></tr>"
    # The class keeps an option and its metavar on one line (docs/stylesheets/extra.css).
    return (f'<div class="cli-options">\n<table>\n<thead>{head}</thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table>\n</div>")


def _section(parser: argparse.ArgumentParser, level: int, summary: str | None) -> list[str]:
    lines = [f"{'#' * level} `{parser.prog}`", ""]
    description = parser.description or summary
    if description:
        lines += [_inline(description), ""]
    lines += ["```text", _usage(parser), "```", ""]
    for group in parser._action_groups:
        actions = [action for action in group._group_actions
                   if not isinstance(action, argparse._SubParsersAction)]
        table = _table(parser, actions)
        if table:
            title = group.title[:1].upper() + group.title[1:]
            lines += [f"**{html.escape(title)}**", "", table, ""]
    subcommands = list(_subcommands(parser))
    if subcommands:
        lines += ["| Command | What it does |", "| --- | --- |"]
        lines += [f"| [`{sub.prog}`](#{_anchor(sub.prog)}) | {_inline(help or '')} |"
                  for _, help, sub in subcommands]
        lines.append("")
        for _, help, sub in subcommands:
            lines += _section(sub, min(level + 1, 6), help)
    return lines


def _anchor(prog: str) -> str:
    """The id that the ``toc`` extension gives the heading of ``prog``."""
    return slugify(prog, "-")


def reference(parser: argparse.ArgumentParser, level: int = 2) -> str:
    """Markdown for ``parser`` and all its sub-commands, headings from ``level`` down.

    Args:
        parser: the parser, as the command line builds it.
        level: int, the heading level of the top command.

    Returns:
        str, Markdown with one section per command (its options as HTML tables).
    """
    return "\n".join(_section(parser, level, None))


def commands(parser: argparse.ArgumentParser, link: str) -> str:
    """One Markdown line naming every command of ``parser`` with its help, each linked to
    its section of the reference page ``link``; a command with sub-commands is named
    with their choices (``tfae train ae|dae``)."""
    named = []
    for name, help, sub in _subcommands(parser):
        choices = [choice for choice, _, _ in _subcommands(sub)]
        shown = f"{parser.prog} {name}" + (f" {'&#124;'.join(choices)}" if choices else "")
        named.append(f"[<code>{shown}</code>]({link}#{_anchor(sub.prog)}) ({_inline(help or '')})")
    return ", ".join(named)
