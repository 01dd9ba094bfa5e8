"""A strategy variant of a scenario: every chat step sent through a strategy chain, judged on its own.

``redline run --strategy base64`` runs each chosen scenario plainly and once
more per strategy. The variant is the same scenario with each chat step's
message transformed (after the step's own strategy, if it names one); a
splitting strategy turns one step into several turns of the same
conversation. The detectors judge the turns that carry each original step's
request, so a variant is judged on what its plain run is judged on.

The run stores the chain and, for each step it sent, the original message
beside the one sent (:func:`variant_record`), so the transcript, the
workpapers and the report can show both. Strategies are deterministic, so a
resumed run rebuilds exactly the same variant from the scenario snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.strategies import apply_chain, parse_chain

if TYPE_CHECKING:
    from app.formats.scenario import ScenarioSpec


@dataclass(frozen=True)
class Variant:
    """The transformed scenario and, per step it will send, what the step said before the strategy."""

    chain: str
    spec: ScenarioSpec
    sent: tuple[dict[str, Any], ...]  # {"step", "of_step", "original", "prompt"} for each chat step sent
    translation_review: str = ""  # for a chain that translates: the language file's review, as of this run


def normalise_chain(chain: str) -> str:
    """The chain as stored: names checked, spaces dropped (``base64 + roleplay`` → ``base64+roleplay``)."""
    return "+".join(s.name for s in parse_chain(chain))


def has_chat(spec: ScenarioSpec) -> bool:
    """Only scenarios that send chat messages have anything for a strategy to transform."""
    return any(step.type == "chat" for step in spec.all_steps)


def variant_spec(spec: ScenarioSpec, chain: str) -> Variant:
    """``spec`` with every chat step sent through ``chain``.

    Raises :class:`~app.strategies.NotApplicable` when the chain cannot
    transform one of the messages (a language with no translation for it),
    and ValueError for an unknown chain or a scenario with no chat step.
    """
    chain = normalise_chain(chain)
    if not has_chat(spec):
        raise ValueError(f"scenario '{spec.id}' sends no chat message for '{chain}' to transform")
    language = [s.name for s in parse_chain(chain) if s.family == "language"]
    rest = "+".join(s.name for s in parse_chain(chain) if s.family != "language")
    steps: list[Any] = []
    sent: list[dict[str, Any]] = []
    where: dict[int, list[int]] = {}  # original step index -> the new indexes that carry its request
    for index, step in enumerate(spec.all_steps):
        if step.type != "chat":
            where[index] = [len(steps)]
            steps.append(step)
            continue
        # A language translates the English message first; then the step's own strategy; then the rest.
        links = [*language, *([step.strategy] if step.strategy else []), *([rest] if rest else [])]
        messages = apply_chain("+".join(links), step.user)
        first = len(steps)
        for n, message in enumerate(messages):
            steps.append(step.model_copy(update={"user": message, "strategy": None,
                                                 "new_session": step.new_session and n == 0}))
            sent.append({"step": first + n, "of_step": index, "original": step.user, "prompt": message,
                         "part": n + 1, "parts": len(messages)})
        where[index] = [len(steps) - 1]  # the turn that asks for the whole request is the one judged
    detectors = [d.model_copy(update={"steps": sorted(i for old in (d.steps if d.steps is not None
                                                                     else range(len(spec.all_steps)))
                                                      for i in where[old])}) for d in spec.detectors]
    form = "turns" if spec.turns is not None else "steps"
    data = spec.model_dump(exclude={"turns", "steps", "detectors"})
    data.update({form: [s.model_dump() for s in steps], "detectors": [d.model_dump() for d in detectors],
                 "title": f"{spec.title} (under {chain})"})
    return Variant(chain, type(spec).model_validate(data), tuple(sent), translation_review(language))


def translation_review(language: list[str]) -> str:
    """``German translation: not yet checked by a native German speaker`` for a chain that translates, else "".

    Kept on the run as it stood when the run was made, so the evidence says
    how far the sent wording was checked then, whatever the file says later.
    """
    from app.strategies.languages import find

    found = find(language[0]) if language else None
    return f"{found.language} translation: {found.review}" if found is not None else ""


def variant_record(variant: Variant) -> dict[str, Any]:
    """What the run row keeps: the chain and, per step sent, the original message beside the one sent."""
    record: dict[str, Any] = {"strategy": variant.chain, "steps": [dict(s) for s in variant.sent]}
    if variant.translation_review:
        record["translation_review"] = variant.translation_review
    return record


def run_label(scenario_id: str, strategy: str) -> str:
    """How every summary names a run: the scenario, and the chain in brackets when the run is a variant.

    One rule for the CLI's summaries, ``redline runs`` and the cockpit's run
    list, so a variant is never shown under its plain scenario's bare name.
    """
    return f"{scenario_id} [{strategy}]" if strategy else scenario_id


def original_prompts(record: dict[str, Any] | None) -> dict[int, str]:
    """Step index → the original message, from a run's stored variant record ({} for a plain run)."""
    return {int(s["step"]): str(s["original"]) for s in (record or {}).get("steps", [])}


def with_strategy(turn: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """An exported turn with its run's strategy chain and, for a variant, its step's original message.

    The original comes from the run's variant record, which the export has
    already scrubbed with the rest of the run, so a redaction covers it too.
    """
    turn["strategy"] = run.get("strategy", "")
    turn["original_prompt"] = original_prompts(run.get("variant")).get(turn["step"], "") if turn["strategy"] else ""
    return turn
