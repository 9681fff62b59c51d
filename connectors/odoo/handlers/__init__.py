"""One handler per Odoo model behind `OdooSync`'s apply loop (which keeps batching, retries and idempotency).

The loop routes each event to the handlers of its type, in the order of `handlers()`: quality alerts before the
hold's time log (the log finishes the event), scraps, maintenance requests, quantities, then operation buttons.
"""

from __future__ import annotations

from andon.connectors.odoo.handlers.base import Handler, Writer
from andon.connectors.odoo.handlers.maintenance import MaintenanceHandler
from andon.connectors.odoo.handlers.operation import OperationHandler
from andon.connectors.odoo.handlers.productivity import ProductivityHandler
from andon.connectors.odoo.handlers.quality_alert import QualityAlertHandler
from andon.connectors.odoo.handlers.quantity import QuantityHandler
from andon.connectors.odoo.handlers.scrap import ScrapHandler


def handlers(w: Writer) -> list[Handler]:
    """The handlers in the order they apply a segment's events."""
    operations = OperationHandler(w)
    quantities = QuantityHandler(w, operations)
    operations.finished_hooks.append(quantities.forget)
    return [QualityAlertHandler(w), ProductivityHandler(w), ScrapHandler(w), MaintenanceHandler(w), quantities,
            operations]


__all__ = ["Handler", "MaintenanceHandler", "OperationHandler", "ProductivityHandler", "QualityAlertHandler",
           "QuantityHandler", "ScrapHandler", "Writer", "handlers"]
