"""Several sites in one odoo-sync deployment: each site's events reach its own Odoo (its [odoo] settings), and an
event of a site with no config is refused to the DLQ as unknown_site, over the real broker and two stand-ins."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter

import pytest
from flowtools import andon, site_config
from odoo_variants import admin_client
from odoosync_tools import PER_EVENT, assert_all_applied, dead_letters, produce

pytestmark = [pytest.mark.broker, pytest.mark.odoo]

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def as_site(line: bytes, site: str) -> bytes:
    """The same event at another site: its site, and every event id in it (ids and correlations) moved along."""
    moved = UUID.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_URL, site + m.group().decode())).encode(), line)
    doc = json.loads(moved)
    doc["site"] = site
    return json.dumps(doc).encode()


def test_each_site_reaches_its_own_odoo_and_strangers_are_refused(broker, variant, odoo, tmp_path, event_lines):
    tag = f"st{uuid.uuid4().hex[:6]}"
    config_a, topics = site_config(tmp_path, broker, tag, PER_EVENT)
    with variant.standin(tmp_path / "odoo-b") as odoo_b:
        text = config_a.read_text()
        config_a.write_text(text.replace('url = "http://127.0.0.1:8069"', f'url = "{odoo.url}"'))
        config_b = tmp_path / "plant-b.toml"
        config_b.write_text(text.replace('id = "plant-a"', 'id = "plant-b"', 1)
                            .replace('url = "http://127.0.0.1:8069"', f'url = "{odoo_b.url}"')
                            .replace("batch_size = 100", "batch_size = 7"))
        lines_b = [as_site(line, "plant-b") for line in event_lines]
        stranger = as_site(event_lines[0], "plant-z")
        produce(broker, topics[2], [*event_lines, stranger, *lines_b])
        # each site's URL is its config's; the variant's transport and credentials hold for both
        env = {k: v for k, v in variant.env(odoo, broker).items() if k != "ANDON_ODOO_URL"}
        andon("run", "odoo-sync", "--config", str(config_a), "--config", str(config_b), "--eof-idle", "3",
              "--audit", str(tmp_path / "audit.jsonl"), "--snapshot-interval", "1", env=env, timeout=300)
        admin_a, admin_b = admin_client(odoo), admin_client(odoo_b)
        try:
            assert_all_applied(admin_a, event_lines)
            assert_all_applied(admin_b, lines_b)
        finally:
            admin_a.close()
            admin_b.close()
    dead = dead_letters(broker, topics[3])
    strangers = [d for d in dead if d["andon.dlq.reason"] == "unknown_site"]
    assert [d["event"]["site"] for d in strangers] == ["plant-z"]
    assert "site 'plant-z' is not configured here (sites: plant-a, plant-b)" in strangers[0]["andon.dlq.detail"]
    # whatever Odoo refuses of one site's events (e.g. no active work order) it refuses of the other's alike
    refused = {site: Counter(d["andon.dlq.reason"] for d in dead if d["event"]["site"] == site)
               for site in ("plant-a", "plant-b")}
    assert refused["plant-a"] == refused["plant-b"]
