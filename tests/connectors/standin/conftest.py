"""Fixtures that start the Odoo stand-in: a subprocess on a free port with its data in a temp dir."""

from __future__ import annotations

import pytest

from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import ADMIN_KEY, INTEGRATION_KEY


@pytest.fixture(scope="module")
def standin17(tmp_path_factory):
    with run_standin(tmp_path_factory.mktemp("odoo17"), odoo_version="17") as handle:
        yield handle


@pytest.fixture(scope="module")
def standin19(tmp_path_factory):
    with run_standin(tmp_path_factory.mktemp("odoo19"), odoo_version="19", api_key=ADMIN_KEY,
                     integration_api_key=INTEGRATION_KEY) as handle:
        yield handle
