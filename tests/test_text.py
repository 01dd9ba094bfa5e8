"""Untrusted text is made inert for each sink."""

from __future__ import annotations

from app.text import for_html, for_spreadsheet, for_terminal, one_line

HOSTILE = (
    "[bold]x[/bold] [@click=app.quit]q[/] [link=https://evil.example]l[/link] [/"
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\"
    " \x1b]52;c;ZXZpbA==\x07 \x1b]0;pwned title\x07 \u202eevil\u202c \x9b2J done\r\n"
)


def test_terminal_text_has_no_escape_or_control_characters() -> None:
    safe = for_terminal(HOSTILE)
    assert "\x1b" not in safe and "\x9b" not in safe and "\x07" not in safe and "\r" not in safe
    assert "\u202e" not in safe and "⟨RLO⟩evil⟨PDF⟩" in safe
    # Markup is left as literal characters; rendering with markup=False keeps it inert.
    assert "[bold]x[/bold]" in safe and "[@click=app.quit]" in safe
    assert "red" in safe and "pwned title" not in safe


def test_terminal_keeps_ordinary_text_unchanged() -> None:
    plain = "Tabs\tand newlines\nand ünïcödé 漢字 🙂 stay as they are."
    assert for_terminal(plain) == plain


def test_lone_control_characters_become_visible_pictures() -> None:
    assert for_terminal("a\x00b\x08c\x7f") == "a␀b␈c␡"


def test_spreadsheet_cells_cannot_start_a_formula() -> None:
    for risky in ("=HYPERLINK(\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert for_spreadsheet(risky) == "'" + risky
    assert for_spreadsheet("plain") == "plain"
    assert for_spreadsheet(42) == 42


def test_html_is_escaped() -> None:
    assert for_html("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_one_line_preview_is_flat_and_bounded() -> None:
    preview = one_line("first\nsecond \x1b[2Jthird" * 20, limit=30)
    assert "\n" not in preview and "\x1b" not in preview and len(preview) == 30
