"""odoo_sync end to end despite Odoo's faults on the other variants, the short stream: every fault over JSON-2
(19 Community), the five split over the XML-RPC variants (17 Enterprise, 18 Community, 19 Enterprise). A file of
its own so that it runs beside test_sync_faults.py (`--dist loadfile`)."""

from __future__ import annotations

import pytest
from odoosync_faults import cases, check_applied_despite_faults

pytestmark = [pytest.mark.broker, pytest.mark.odoo, pytest.mark.fault]


@pytest.mark.parametrize("variant, faults",
                         cases("19-community", "17-enterprise", "18-community", "19-enterprise"))
def test_everything_applied_once_in_order_despite_odoo_faults(plant, odoo, admin, broker, tmp_path, event_lines,
                                                              faults, fault_summary):
    check_applied_despite_faults(plant, odoo, admin, broker, tmp_path, event_lines, faults, fault_summary)
