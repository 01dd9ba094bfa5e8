"""Writing YAML a person can read and edit, that :func:`app.formats.yamlsource.parse_yaml` reads back the same."""

from __future__ import annotations

from typing import Any

import yaml


class _ReadableDumper(yaml.SafeDumper):
    """Block style overall; short lists of plain values inline; multi-line text as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    inline = all(isinstance(v, (str, int, float, bool)) and "\n" not in str(v) for v in value) \
        and sum(len(str(v)) + 2 for v in value) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=inline)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(list, _represent_list)
_ReadableDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML a person can read and edit, that :func:`parse_yaml` reads back to the same data.

    Keys keep the order they were given in (the models' field order), so an
    export diffs cleanly against the previous one.
    """
    return yaml.dump(data, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=10_000, indent=2)
