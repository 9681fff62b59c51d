"""andon.connectors.standin: an Odoo-compatible stand-in server (XML-RPC, JSON-RPC, JSON-2) backed by SQLite.

    from andon.connectors.standin import run_standin
    with run_standin(tmp_path, odoo_version="19", api_key="k") as odoo:
        ...  # odoo.url, odoo.set_faults(...), odoo.stats()
"""

from andon.connectors.standin.runner import StandinError, StandinHandle, run_standin

__all__ = ["StandinError", "StandinHandle", "run_standin"]
