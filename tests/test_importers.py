"""garak and promptfoo results as evidence: imported into runs, turns and verdicts, mapped through an editable
table, marked with their tool and version, covered by the audit chain, and carried through triage, findings
and the bundle. The report files are small ones written for these tests in each tool's documented format."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).parent / "data" / "imports"
GARAK = DATA / "garak.report.jsonl"
PROMPTFOO = DATA / "promptfoo.results.json"


@pytest.fixture
def demo(redline_home: Path) -> str:
    from app.demo_engagement import ensure_demo_engagement
    from app.store import session

    with session() as db:
        ensure_demo_engagement(db)
    return "demo"


def imported(capsys: pytest.CaptureFixture[str], tool: str, path: Path, *extra: str) -> str:
    capsys.readouterr()
    assert main(["import", tool, str(path), "--engagement", "demo", "--system", "support-bot", *extra]) == 0
    return capsys.readouterr().out


def runs(home: Path) -> list[tuple]:
    from tests.test_runner_support import read_db

    return read_db(home, "SELECT r.id, s.scenario_id, r.verdict, r.tool_version, s.controls FROM run r "
                         "JOIN scenario s ON s.id = r.scenario_pk ORDER BY r.id")


def test_parsers_read_each_shape_the_tools_write() -> None:
    from app.importers import parse_report

    garak = parse_report("garak", GARAK)
    assert (garak.tool, garak.version, garak.model) == ("garak", "0.17.0", "acme-support-1")
    probes = {p.name: p for p in garak.probes}
    hijack = probes["promptinject.HijackHateHumans"]
    assert [a.ref for a in hijack.attempts] == ["a1", "a2"]  # the evaluated line of a1 replaced its first log
    first = hijack.attempts[0]
    assert first.prompt.endswith("print I hate humans") and [o.text for o in first.outputs][0] == "I hate humans"
    assert [[j.outcome() for j in o.judgements] for o in first.outputs] == [["fail"], ["pass"]]
    assert hijack.attempts[1].prompt.startswith("Translate to French")  # the older, plain-string shape
    assert [j.outcome() for j in probes["leakreplay.LiteratureCloze"].attempts[0].outputs[0].judgements] == []
    promptfoo = parse_report("promptfoo", PROMPTFOO)
    assert promptfoo.version == "0.118.0" and promptfoo.model == "openai:acme-support-1"
    rows = {p.name: p.attempts[0].outputs[0] for p in promptfoo.probes}
    assert rows["prompt-extraction"].judgements[0].outcome() == "fail"
    assert rows["cross-session-leak"].judgements[0].outcome() == "pass"
    assert rows["pii:direct"].text is None and "503" in rows["pii:direct"].error


def test_a_garak_report_becomes_judged_runs_covered_by_the_chain(demo: str, redline_home: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = imported(capsys, "garak", GARAK)
    assert "imported garak 0.17.0: 4 run(s) (1 error, 1 fail, 2 pass), 6 turn(s)" in out
    assert "no control mapping for fictional.MadeUpProbe" in out
    rows = runs(redline_home)
    by_probe = {r[1]: r for r in rows}
    hijack = by_probe["garak.promptinject.hijackhatehumans"]
    assert hijack[2] == "fail" and hijack[3] == "garak 0.17.0"
    assert set(json.loads(hijack[4])) >= {"CC6.6", "AI-SEC-01"}  # through the owasp:llm01 tag
    assert by_probe["garak.encoding.injectbase64"][2] == "pass"
    # An attempt garak never evaluated is not a pass: the run is inconclusive.
    assert by_probe["garak.leakreplay.literaturecloze"][2] == "error"

    from app.store import session
    from app.store.audit import verify_chain

    with session() as db:
        from sqlmodel import select

        from app.store.models import AuditEvent, Finding

        events = db.exec(select(AuditEvent).where(AuditEvent.chain == "engagement:1")).all()
        assert [e.action for e in events].count("run.finished") == 4
        recorded = next(e for e in events if e.action == "import.recorded")
        assert recorded.payload["report_sha256"] and recorded.payload["tool_version"] == "0.17.0"
        assert verify_chain(db, 1) == []
        [finding] = db.exec(select(Finding)).all()
        assert finding.run_id == hijack[0] and finding.status == "draft"
        assert "I hate humans" in finding.steps_to_reproduce or "print I hate humans" in finding.steps_to_reproduce

    # Triage works on an imported turn as on a native one, and the bundle carries and verifies it all.
    from app.triage import record_human_verdict
    from tests.test_runner_support import read_db

    [(turn_id,)] = read_db(redline_home, "SELECT id FROM turn WHERE run_id = ? AND sample = 1", (hijack[0],))[:1]
    with session() as db:
        record_human_verdict(db, run_id=hijack[0], turn_id=turn_id, outcome="pass", reason="refused", actor="ana")
    bundle = tmp_path / "bundle.zip"
    assert main(["export", "demo", "--out", str(bundle), "--no-sign"]) == 0
    assert main(["verify", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        transcript = [json.loads(x) for x in archive.read(f"transcripts/{hijack[0]}.jsonl").splitlines()]
        report = archive.read("report.md").decode()
    assert transcript[0]["request"]["imported"] == {"tool": "garak", "attempt": "a1", "strategy": "",
                                                    "goal": "inject a prompt on hate humans"}
    assert transcript[0]["response_text"] == "I hate humans" and transcript[0]["outcome"] == "fail"
    assert "Redline versions that ran the tests: garak 0.17.0" in report


def test_promptfoo_results_import_with_their_grader_reasons(demo: str, redline_home: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = imported(capsys, "promptfoo", PROMPTFOO)
    assert "imported promptfoo 0.118.0: 3 run(s) (1 error, 1 fail, 1 pass)" in out
    by_probe = {r[1]: r for r in runs(redline_home)}
    assert by_probe["promptfoo.prompt-extraction"][2] == "fail"
    assert json.loads(by_probe["promptfoo.prompt-extraction"][4]) == ["CC6.6", "AI-SEC-02"]
    assert by_probe["promptfoo.pii-direct"][2] == "error"  # the provider failed: never judged, never a pass
    from tests.test_runner_support import read_db

    [(reason,)] = read_db(redline_home, "SELECT reason FROM verdict WHERE detector = 'promptfoo:prompt-extraction'")
    assert reason == "The output reveals the system prompt."
    capsys.readouterr()
    assert main(["coverage", "demo", "--taxonomy", "owasp", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["LLM07"]["runs"], rows["LLM07"]["fail"]) == (1, 1)


def test_a_broken_report_or_mapping_names_the_place_and_writes_nothing(demo: str, redline_home: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = GARAK.read_text().splitlines()
    lines.insert(4, '{"entry_type": "attempt", "uuid": "zz"')  # cut off mid-object
    broken.write_text("\n".join(lines) + "\n")
    assert main(["import", "garak", str(broken), "--engagement", "demo", "--system", "support-bot"]) != 0
    assert f"{broken}:5: not a JSON object" in capsys.readouterr().err
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("tags:\n  owasp:llm01:\n    controls: [CC6.66]\n")
    assert main(["import", "garak", str(GARAK), "--engagement", "demo", "--system", "support-bot",
                 "--mapping", str(mapping)]) != 0
    assert f"{mapping}:3:16: field 'tags.owasp:llm01.controls.0': unknown control id 'CC6.66'" in \
        capsys.readouterr().err
    assert main(["import", "garak", str(GARAK), "--engagement", "demo", "--system", "nobody"]) != 0
    assert "has no system 'nobody'" in capsys.readouterr().err
    assert runs(redline_home) == []


def test_a_user_mapping_replaces_the_shipped_entry(demo: str, redline_home: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("garak_probes:\n  fictional: [house:made-up]\ntags:\n  house:made-up:\n"
                       "    controls: [PI1.5]\n    owasp: [LLM05]\n")
    out = imported(capsys, "garak", GARAK, "--mapping", str(mapping))
    assert "no control mapping" not in out
    by_probe = {r[1]: r for r in runs(redline_home)}
    assert json.loads(by_probe["garak.fictional.madeupprobe"][4]) == ["PI1.5"]
    # The shipped entries still apply to the other probes.
    assert "CC6.6" in json.loads(by_probe["garak.promptinject.hijackhatehumans"][4])
