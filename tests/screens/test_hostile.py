"""Hostile model output streamed through the real path (loopback SSE server → OpenAI adapter → runner → run
screen) is drawn literally: markup stays characters, escapes never reach the terminal, bidi is shown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cockpit_pilot import PATIENCE_S, TODAY, screen_name, store_ready, wait_for

from screens.app import RedlineApp
from tests.servers.loopback import LoopbackServer, Reply
from tests.servers.stream_server import OPENAI_PATH, openai_events, sse

CHUNKS = [
    "[bold]x[/bold] ",
    "[@click=app.quit]quit[/] ",
    "[link=https://evil.example]l[/link] ",
    "unbalanced [/ ",
    "\x1b[31mred\x1b[0m ",
    "\x1b]8;;https://evil.example\x1b\\osc8\x1b]8;;\x1b\\ ",
    "\x1b]52;c;ZXZpbA==\x07 ",
    "\x1b]0;pwned title\x07 ",
    "\u202eevil\u202c ",
    "split \x1b",  # an escape cut in two by the stream
    "[31mtail done",
]
LITERAL = ["[bold]x[/bold]", "[@click=app.quit]quit[/]", "[link=https://evil.example]l[/link]", "unbalanced [/",
           "⟨RLO⟩evil⟨PDF⟩", "tail done"]
SCENARIO = """\
id: hostile-echo
title: "[bold]Hostile[/bold] echo [@click=app.quit]x[/]"
category: security
controls: [CC6.6]
severity: high
turns:
  - user: "Say [red]something[/red]"
detectors:
  - type: regex
    name: "[@click=app.quit]d[/]"
    pattern: evil
"""


def hostile_engagement(server: LoopbackServer, folder: Path) -> int:
    from app import alignment
    from app.store.engine import dispose_all, session

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hostile.yaml").write_text(SCENARIO, encoding="utf-8")
    with session() as db:
        engagement = alignment.create_engagement(db, "hostile", "Evil Corp")
        engagement.scenario_paths = [str(folder)]
        db.add(engagement)
        eid = engagement.id or 0
        alignment.save_system(db, eid, alignment.system_spec(
            name="echo-bot", kind="openai", base_url=f"{server.url}/v1", model="gpt-test-1",
            key={"env": "HOSTILE_TEST_KEY"}))
    dispose_all()
    return eid


def check_strips(strips: list[Any]) -> str:
    """Every segment inert; returns the visible text."""
    lines = []
    for strip in strips:
        for segment in strip:
            assert "\x1b" not in segment.text and "\x07" not in segment.text and "\u202e" not in segment.text
            assert not any(0x80 <= ord(c) <= 0x9F or (ord(c) < 0x20 and c != "\n") for c in segment.text)
            style = segment.style
            if style is not None:
                assert style.link is None, f"a link reached the terminal: {style.link}"
                assert not any(str(key).startswith("@") for key in (style.meta or {})), style.meta
        lines.append(strip.text)
    return "\n".join(lines)


def rendered(widget: Any) -> str:
    return check_strips([widget.render_line(y) for y in range(widget.size.height)])


def unwrapped(picture: str) -> str:
    """The transcript's rows joined back into running text (rows wrap at spaces; headers left out)."""
    return " ".join(line[6:].strip() for line in picture.splitlines() if line.strip() and not line.startswith("──"))


async def test_hostile_stream_renders_literally_while_streaming_and_after(
        stream_server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.store.engine import session
    from app.store.models import Turn
    from screens.widgets.picker import ScenarioPicker
    from screens.widgets.transcript import Transcript

    monkeypatch.setenv("HOSTILE_TEST_KEY", "hostile-test-key-0123456789")
    events = openai_events(CHUNKS)
    stream_server.route(OPENAI_PATH, Reply(chunks=[sse([e]) for e in events], delay=0.05))
    eid = hostile_engagement(stream_server, tmp_path / "scenarios")
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(100, 40)) as pilot:
        await store_ready(pilot)
        app.push_screen_for("run", eid)
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the run screen")
        screen = app.screen
        picker = screen.query_one(ScenarioPicker)
        await wait_for(pilot, lambda: picker.source is not None, "the scenarios")
        label = next(n.label for n in picker.root.children[0].children if n.data and n.data.scenario == "hostile-echo")
        assert "[bold]Hostile[/bold] echo [@click=app.quit]x[/]" in label.plain and not label.spans[1:]

        transcript = screen.query_one(Transcript)
        during: list[str] = []
        original = transcript.append

        def append(key: int, chunk: str) -> None:
            original(key, chunk)
            during.append(rendered(transcript))  # every intermediate picture is inert too

        transcript.append = append
        screen.queue_scenarios(["hostile-echo"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE_S
        while not (screen.entries and all(e.status == "finished" for e in screen.entries.values() if e.live)):
            assert loop.time() < deadline, "the hostile run never finished"
            await pilot.pause(0.02)
        await pilot.pause()
        assert len(during) >= 3  # it streamed in pieces
        final = rendered(transcript)
        for piece in LITERAL:
            assert piece in unwrapped(final), piece
        assert "pwned title" not in final and "ZXZpbA" not in final and "\x1b" not in transcript.text
        assert "Say [red]something[/red]" in final  # the prompt (scenario text) is literal too
        stats = rendered(screen.query_one("#run-stats"))
        assert "[@click=app.quit]d[/]" in stats
        assert app.return_code is None and screen_name(pilot) == "RunScreen"  # [@click=app.quit] did nothing

        with session() as db:
            stored = db.get(Turn, transcript.turn_keys[0]).response_text
        assert stored == "".join(CHUNKS)  # the store keeps exactly what came; only the screen is made safe

        await pilot.press("t")
        await wait_for(pilot, lambda: screen_name(pilot) == "TriageScreen", "triage")
        triage = app.screen
        picture = unwrapped(rendered(triage.query_one(Transcript)))
        for piece in LITERAL:
            assert piece in picture, piece
        assert "[@click=app.quit]d[/]" in rendered(triage.query_one("#triage-panel"))
        await pilot.press("v", "w", "w")  # select "[bold]x[/bold] [@click=app.quit]quit[/]"
        start, end = triage.query_one(Transcript).raw_selection()
        assert stored[start:end] == "[bold]x[/bold] [@click=app.quit]quit[/]"
        assert app.return_code is None


def test_a_selection_maps_back_to_the_raw_text_around_removed_escapes() -> None:
    from app.text import for_terminal
    from screens.widgets.wrap import display_text

    raw = "".join(CHUNKS) + "\ttab"
    shown, where = display_text(raw)
    assert len(where) == len(shown) + 1 and for_terminal(raw).replace("\t", "    ") == shown
    i = shown.index("red")
    assert raw[where[i]:where[i + 2] + 1] == "red"  # the colour escapes on either side stay out
    i = shown.index("⟨RLO⟩")
    assert raw[where[i]:where[i + 4] + 1] == "\u202e"  # five shown characters, one raw one
    i = shown.index("tab")
    assert raw[where[i - 4]:where[i + 2] + 1] == "\ttab"


async def test_an_escape_split_across_chunks_is_shown_inert_then_dropped_by_the_final_render() -> None:
    from textual.app import App, ComposeResult

    from screens.widgets.transcript import Transcript

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Transcript()

    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.begin_turn(1, "step 1 · chat", "hi")
        transcript.append(1, "split \x1b")
        transcript.append(1, "[31mtail \x1b]0;title")
        await pilot.pause()
        streaming = rendered(transcript)
        # Each chunk is made safe on its own: the cut CSI shows as a visible ␛, the unterminated OSC is dropped.
        assert "split ␛[31mtail" in streaming and "title" not in streaming
        transcript.append(1, "\x07 done")
        transcript.end_turn(1)
        await pilot.pause()
        final = rendered(transcript)
        assert "split tail  done" in final and "title" not in final  # the whole text made safe at once


def test_the_inertness_check_catches_markup_that_was_obeyed() -> None:
    """The checks above can fail: text rendered *as markup* carries a link and an @click meta."""
    from rich.console import Console
    from rich.text import Text
    from textual.strip import Strip

    for markup in ("[link=https://evil.example]l[/link]", "[@click=app.quit]q[/]"):
        strip = Strip(list(Text.from_markup(markup).render(Console())))
        with pytest.raises(AssertionError):
            check_strips([strip])
    assert check_strips([Strip(list(Text("[link=https://evil.example]l[/link]").render(Console())))])
