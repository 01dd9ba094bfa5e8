"""Picking what to run: the engagement's scenarios grouped by category, by control, or by system.

What is picked is a set of ``(system, scenario id)`` pairs, because a run is
one scenario against one system. Picking a scenario under a category or a
control picks it for every in-scope system; under a system, for that system
only. Space toggles the highlighted scenario, or every scenario of the
highlighted group. Labels are ``Text`` built from file content: never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from app.text import one_line

if TYPE_CHECKING:
    from sqlmodel import Session

Mode = Literal["category", "control", "system"]
MODES: tuple[Mode, ...] = ("category", "control", "system")
Pair = tuple[str, str]  # (system name, scenario id)


@dataclass(frozen=True)
class PickItem:
    """A tree node's meaning: a scenario (for one system, or for every in-scope one) or a group."""

    scenario: str = ""  # "" for a group
    system: str = ""  # "" = every in-scope system
    label: str = ""  # a group's name


@dataclass(frozen=True)
class PickSource:
    """What the picker offers: loaded by the screen in a worker (library and matrix are files and rows)."""

    titles: dict[str, str]  # scenario id -> title, library order
    categories: dict[str, list[str]]  # category -> scenario ids
    matrix: list[tuple[str, str, list[str]]]  # (criterion, client ref, scenario ids)
    systems: list[str]  # in-scope systems


def pick_source(db: Session, engagement_id: int) -> PickSource:
    """The engagement's library (bundled plus its own folders), control matrix and in-scope systems."""
    from app.alignment import engagement_library, rows_of, systems_of

    library = engagement_library(db, engagement_id)
    return PickSource(
        titles={s.spec.id: s.spec.title for s in library.all()},
        categories={c: [s.spec.id for s in items] for c, items in library.by_category().items()},
        matrix=[(r.criterion, r.client_ref, list(r.scenarios)) for r in rows_of(db, engagement_id)],
        systems=[s.name for s in systems_of(db, engagement_id) if s.in_scope])


class ScenarioPicker(Tree[PickItem]):
    """The scenario tree with check marks. ``picked`` holds the chosen ``(system, scenario)`` pairs."""

    BINDINGS = [
        Binding("space", "pick", "Pick", id="picker.pick", tooltip="Pick or unpick the scenario or group"),
    ]

    class Changed(Message):
        """The picked set changed (the screen shows the count)."""

        def __init__(self, picker: ScenarioPicker) -> None:
            super().__init__()
            self.picker = picker

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("scenarios", id=id)
        self.show_root = False
        self.source: PickSource | None = None
        self.mode: Mode = "category"
        self.picked: set[Pair] = set()

    def load(self, source: PickSource, mode: Mode | None = None) -> None:
        self.source = source
        self.mode = mode or self.mode
        self.picked &= {(s, sc) for s in source.systems for sc in source.titles}
        self._regroup()

    def next_mode(self) -> Mode:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self._regroup()
        return self.mode

    # ------------------------------------------------------------------ building

    def _regroup(self) -> None:
        self.clear()
        source = self.source
        if source is None:
            return
        if self.mode == "category":
            for category, ids in source.categories.items():
                self._group(category.replace("_", " "), ids, "")
        elif self.mode == "control":
            mapped: set[str] = set()
            for criterion, ref, ids in source.matrix:
                known = [i for i in ids if i in source.titles]
                mapped.update(known)
                self._group(f"{criterion} · {ref}" if ref else criterion, known, "")
            rest = [i for i in source.titles if i not in mapped]
            if rest:
                self._group("not in the control matrix", rest, "")
        else:
            planned = [i for _c, _r, ids in source.matrix for i in ids if i in source.titles]
            ids = list(dict.fromkeys(planned)) or list(source.titles)
            for system in source.systems:
                self._group(f"system {system}", ids, system)
        self.root.expand_all()
        self.refresh_marks()
        self.move_cursor_to_line(0)

    def _group(self, label: str, ids: Sequence[str], system: str) -> None:
        name = one_line(label, 60)
        group = self.root.add(Text(name, style="bold"), data=PickItem("", system, name), expand=True)
        for scenario in ids:
            group.add_leaf(Text(scenario), data=PickItem(scenario, system))

    # ------------------------------------------------------------------ picking

    def pairs_of(self, node: TreeNode[PickItem]) -> list[Pair]:
        """The (system, scenario) pairs a node stands for."""
        item = node.data
        if item is None:
            return []
        if not item.scenario:
            return [pair for child in node.children for pair in self.pairs_of(child)]
        systems = [item.system] if item.system else (self.source.systems if self.source else [])
        return [(system, item.scenario) for system in systems]

    def cursor_pairs(self) -> list[Pair]:
        node = self.cursor_node
        return self.pairs_of(node) if node is not None else []

    def action_pick(self) -> None:
        pairs = self.cursor_pairs()
        if not pairs:
            return
        if all(pair in self.picked for pair in pairs):
            self.picked.difference_update(pairs)
        else:
            self.picked.update(pairs)
        self.refresh_marks()
        self.post_message(self.Changed(self))

    def pick(self, pairs: Iterable[Pair]) -> None:
        self.picked.update(pairs)
        self.refresh_marks()
        self.post_message(self.Changed(self))

    def clear_picks(self) -> None:
        self.picked.clear()
        self.refresh_marks()
        self.post_message(self.Changed(self))

    def refresh_marks(self) -> None:
        """Redraw every label with its check mark: ☑ all picked, ◪ some, ☐ none."""
        titles = self.source.titles if self.source else {}

        def walk(node: TreeNode[PickItem]) -> None:
            for child in node.children:
                item = child.data
                pairs = self.pairs_of(child)
                chosen = sum(1 for pair in pairs if pair in self.picked)
                mark = "☑ " if pairs and chosen == len(pairs) else ("◪ " if chosen else "☐ ")
                style = "green" if chosen else ""
                if item is not None and item.scenario:
                    label = Text(mark, style=style) + Text(item.scenario)
                    title = titles.get(item.scenario, "")
                    if title:
                        label += Text(f"  {one_line(title, 60)}", style="dim")
                else:
                    label = Text(mark, style=style) + Text(one_line(item.label, 60) if item else "", style="bold")
                    walk(child)
                child.set_label(label)

        walk(self.root)

    def hint(self) -> Text:
        """The line above the tree: the grouping, then what is picked or what to press."""
        if self.source is None:
            return Text("loading the scenarios…", style="dim")
        text = Text(f"by {self.mode}", style="bold") + Text(" · ", style="dim")
        if not self.source.systems:
            return text + Text("no in-scope system: add one in the wizard", style="red")
        if self.picked:
            return text + Text(f"{len(self.picked)} picked · r run", style="green")
        return text + Text("space pick · r run", style="dim")
