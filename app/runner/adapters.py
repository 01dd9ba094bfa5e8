"""The adapters of a batch of runs: one per AI system, keys resolved before anything is sent.

Its own module because the runner, the model judges and the adaptive attacker all open targets, and the
judges and the attacker must not import the runner that calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import UsageError
from app.runner.record import SecretScrubber
from app.store.models import AISystem

if TYPE_CHECKING:
    from app.secrets import SecretResolver
    from app.targets.base import Target
    from app.targets.operation import ClientOperations


class Targets:
    """One adapter per AI system for the whole batch, closed at the end; keys resolved up front."""

    def __init__(self, secrets: SecretResolver | None = None):
        from app.secrets import SecretResolver

        self.resolver = secrets or SecretResolver()
        self._targets: dict[int, Target] = {}
        self._operations: dict[int, ClientOperations] = {}

    def prepare(self, system: AISystem) -> Target:
        """Build the system's adapter; a missing API key fails here, before any run starts."""
        from app.formats.engagement import TargetSpec
        from app.secrets import SecretUnavailable
        from app.targets.factory import make_target

        assert system.id is not None
        if system.id in self._targets:
            return self._targets[system.id]
        fields = set(TargetSpec.model_fields)
        try:
            spec = TargetSpec.model_validate({k: v for k, v in system.target.items() if k in fields})
        except ValueError as exc:
            raise UsageError(f"system '{system.name}' has an invalid target: {exc}") from None
        if spec.api_key is not None:
            self.resolver.resolve(spec.api_key)
        if spec.revoked_key is not None:
            try:
                self.resolver.resolve(spec.revoked_key)
            except SecretUnavailable:
                pass  # only 'auth: revoked' steps need it; the adapter fails those with a clear detail
        target = make_target(spec, secrets=self.resolver)
        self._targets[system.id] = target
        from app.targets.operation import ClientOperations

        # Operation keys are read now, so every value is known to the scrubber before a turn is stored.
        self._operations[system.id] = ClientOperations(dict(system.target or {}), target, self.resolver)
        return target

    def operations(self, system: AISystem) -> ClientOperations:
        """The system's named client operations (after :meth:`prepare`)."""
        self.prepare(system)
        return self._operations[system.id or 0]

    def scrubber(self) -> SecretScrubber:
        return SecretScrubber(self.resolver.values)

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
        self._targets.clear()
