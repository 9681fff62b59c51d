"""andon.connectors.odoo: one Odoo client over XML-RPC, JSON-RPC (odoorpc) or JSON-2, with typed errors,
retries with backoff, a circuit breaker and a client-side rate limit.

    from andon.connectors.odoo import OdooClient
    client = OdooClient(site.odoo)
    client.search_read("mrp.workorder", [("workcenter_id.code", "=", "WC-PRESS-01")], ["name", "state"])
"""

from andon.connectors.odoo.client import OdooClient, make_transport
from andon.connectors.odoo.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooCircuitOpenError,
    OdooConfigError,
    OdooError,
    OdooMissingError,
    OdooRequestError,
    OdooServerError,
    OdooTransientError,
    OdooUserError,
    OdooValidationError,
)
from andon.connectors.odoo.resilience import READ_METHODS, CircuitBreaker, RetryPolicy, TokenBucket

__all__ = [
    "READ_METHODS", "CircuitBreaker", "OdooAccessError", "OdooAuthError", "OdooCircuitOpenError", "OdooClient",
    "OdooConfigError", "OdooError", "OdooMissingError", "OdooRequestError", "OdooServerError",
    "OdooTransientError", "OdooUserError", "OdooValidationError", "RetryPolicy", "TokenBucket", "make_transport",
]
