"""The alignment wizard (one module per step, plus the rail and the dialogs)."""

from screens.wizard.screen import WizardScreen

__all__ = ["WizardScreen"]
