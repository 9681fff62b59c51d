"""odoo_sync end to end despite Odoo's faults on 17 Community over JSON-RPC, the full stream: 503 on 30 % of calls,
a 6 s outage, serialization failures on 20 %, 429 with Retry-After on 10 %, or 40 ms added to every call (a real
broker, the stand-in over HTTP, `andon run odoo-sync` in a subprocess). The other variants:
test_sync_faults_variants.py; the matrix: tests/support/odoosync_faults.py."""

from __future__ import annotations

import pytest
from odoosync_faults import cases, check_applied_despite_faults

pytestmark = [pytest.mark.broker, pytest.mark.odoo, pytest.mark.fault]


@pytest.mark.parametrize("variant, faults", cases("17-community"))
def test_everything_applied_once_in_order_despite_odoo_faults(plant, odoo, admin, broker, tmp_path, event_lines,
                                                              faults, fault_summary):
    check_applied_despite_faults(plant, odoo, admin, broker, tmp_path, event_lines, faults, fault_summary)
