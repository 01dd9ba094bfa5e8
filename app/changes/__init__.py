"""Model inventory (AI-GOV-01) and model change detection (AI-GOV-03, CC8.1).

Inventory: list the models an endpoint serves, compare them with the system's
documented ``models``, and propose one draft finding per undocumented model,
once (running the check again never duplicates a finding).

Change detection: a model can change under a system without anyone approving
it. Three signals give it away: the model id the endpoint reports, its
``system_fingerprint``, and a *behaviour fingerprint*, the hash of its answers
to a few fixed canary probes sent at temperature 0 where the API takes one.
Probes are recorded in the audit chain (``system.probed``) and stamped on the
runs made in the same invocation; runs carry the reported model id and
fingerprint already. :func:`change_flags` walks these observations in time
order and raises a flag whenever a value changes: a possible unapproved model
change for the tester to explain.

Modules: ``probes`` (canary probes, behaviour fingerprints), ``flags``
(:func:`change_flags`), ``inventory`` (AI-GOV-01 discovery).
"""

from app.changes.flags import FLAG_TITLE, ChangeFlag, change_flags
from app.changes.inventory import InventoryCheck, check_inventory, propose_inventory_findings
from app.changes.probes import (
                                CANARY_PROBES,
                                ProbeResult,
                                behaviour_fingerprint,
                                probe_and_record,
                                probe_engagement,
                                probe_systems,
                                probe_target,
                                record_probe,
)

__all__ = [
    "CANARY_PROBES", "FLAG_TITLE", "ChangeFlag", "InventoryCheck", "ProbeResult", "behaviour_fingerprint",
    "change_flags", "check_inventory", "probe_and_record", "probe_engagement", "probe_systems", "probe_target",
    "propose_inventory_findings", "record_probe",
]
