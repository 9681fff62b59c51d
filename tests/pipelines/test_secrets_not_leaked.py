"""Credentials never leak: a full `andon demo` run with distinctive secrets in the environment, and none of them
appears in its stdout/stderr, the metrics, health and status pages of its dataflows, the audit trail (and what
`andon audit` prints), or any file it wrote. Plus the reprs of the objects that hold secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request

import pytest
from flowtools import ROOT, andon

from andon.config import example_site_path, load_site
from andon.connectors.broker import free_port

pytestmark = [pytest.mark.broker, pytest.mark.odoo]  # about 30 s

SECRETS = {
    "ANDON_ODOO_PASSWORD": "pw-odoo-9f3c1e5a",
    "ANDON_ODOO_API_KEY": "key-odoo-77ab02d4",
    "ANDON_KAFKA_SASL_PASSWORD": "kafka-sasl-5d2e88c1",
    "ANDON_AUDIT_KEY": "audit-hmac-c0ffee42",
    "ANDON_GATEWAY_KEY_GW_A": "gateway-hmac-4b1d9e07",
}


def leaks(text: bytes | str, where: str) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [f"{name} in {where}" for name, secret in SECRETS.items() if secret.encode() in data]


class Scraper:
    """Fetches the status server's pages every 0.3 s while the demo's dataflows run."""

    PAGES = ("/metrics", "/", "/healthz", "/readyz")

    def __init__(self, port: int) -> None:
        self.port, self.bodies, self.stop = port, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            for page in self.PAGES:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{page}", timeout=1) as resp:
                        self.bodies.append((page, resp.read()))
                except OSError:
                    pass
            self.stop.wait(0.3)


def test_a_full_demo_run_leaks_no_configured_secret(tmp_path):
    out = tmp_path / "demo"
    port = free_port()
    env = {**os.environ, **SECRETS, "ANDON_METRICS_PORT": str(port)}
    scraper = Scraper(port)
    scraper.thread.start()
    try:
        demo = subprocess.run([sys.executable, "-m", "andon.cli", "demo", "--speed", "0", "--machines", "4",
                               "--hours", "1", "--out", str(out)], capture_output=True, env=env, cwd=ROOT,
                              timeout=240)
    finally:
        scraper.stop.set()
        scraper.thread.join()
    assert demo.returncode == 0, demo.stderr.decode()[-3000:]
    found = leaks(demo.stdout, "demo stdout") + leaks(demo.stderr, "demo stderr")

    metrics = [body for page, body in scraper.bodies if page == "/metrics"]
    assert metrics and any(b"andon_" in body for body in metrics), "no metrics scraped from the dataflows"
    for page, body in scraper.bodies:
        found += leaks(body, f"GET {page}")

    files = [p for p in out.rglob("*") if p.is_file()]
    assert (out / "odoo-audit.jsonl") in files and (out / "odoo-audit.jsonl.head") in files
    for path in files:
        found += leaks(path.read_bytes(), str(path.relative_to(out)))

    keyed = {"ANDON_AUDIT_KEY": SECRETS["ANDON_AUDIT_KEY"]}
    verified = andon("audit", "verify", str(out / "odoo-audit.jsonl"), env=keyed)
    assert "chain hmac-sha256" in verified.stdout
    shown = andon("audit", "show", str(out / "odoo-audit.jsonl"), "--last", "0", env=keyed)
    assert len(shown.stdout.splitlines()) > 100
    for proc, what in ((verified, "audit verify"), (shown, "audit show")):
        found += leaks(proc.stdout + proc.stderr, what)
    assert not found, f"secrets leaked: {found}"


def test_objects_holding_secrets_do_not_show_them():
    from andon.connectors.odoo import OdooClient
    from andon.connectors.odoo.journal import AuditTrail
    from andon.security import Authorizer

    raw = example_site_path().read_text() + '\n[[gateways]]\nid = "gw-a"\nkey_name = "gw-a"\n'
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"secrets-{os.getpid()}.toml")
    with open(path, "w") as fh:
        fh.write(raw)
    try:
        site = load_site(path, env=SECRETS)
    finally:
        os.unlink(path)
    assert site.odoo.password.get_secret_value() == SECRETS["ANDON_ODOO_PASSWORD"]
    client = OdooClient(site.odoo)
    texts = {"site": repr(site), "site str": str(site), "dump": str(site.model_dump()),
             "json dump": site.model_dump_json(), "client": repr(client), "transport": repr(client.transport),
             "authorizer": repr(Authorizer.from_sites([site])), "audit trail": repr(AuditTrail(None, key=SECRETS["ANDON_AUDIT_KEY"].encode()))}
    found = [leak for where, text in texts.items() for leak in leaks(text, where)]
    assert not found, found
