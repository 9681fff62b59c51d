"""Shared fixtures: the example site and a session-scoped local broker on loopback.

The broker is Apache Kafka 4 (KRaft) by default where a JDK and the jars of `make kafka` are present, Tansu
otherwise; `--broker=kafka|tansu|auto` or `ANDON_TEST_BROKER` chooses (`make test` asks for Kafka). The choice is
exported as `ANDON_BROKER`, so every `EmbeddedBroker()` of a test and of a child process uses the same engine.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from andon.config import example_site_path, load_site

# Hypothesis: the normal suite (and CI) draws the same examples on every run; `make fuzz` loads "fuzz" (random
# draws, a seed printed for replay, many more examples: see tests/support/fuzzing.py).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("ANDON_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def site():
    return load_site(example_site_path())


def pytest_addoption(parser):
    parser.addoption("--broker", default=os.environ.get("ANDON_TEST_BROKER") or "auto",
                     choices=("auto", "kafka", "tansu"),
                     help="broker engine for the tests (default: $ANDON_TEST_BROKER, else kafka where available)")


def pytest_configure(config):
    from andon.connectors.broker import resolve_engine

    os.environ["ANDON_BROKER"] = resolve_engine(config.getoption("--broker"))


def pytest_report_header(config):
    from andon.connectors.broker_kafka import kafka_version

    engine = os.environ["ANDON_BROKER"]
    if engine == "kafka":
        return f"broker: Apache Kafka {kafka_version()} (KRaft), --broker=tansu for Tansu"
    return "broker: Tansu (in memory); --broker=kafka after `make kafka` for Apache Kafka"


@pytest.fixture(scope="session")
def broker_engine() -> str:
    return os.environ["ANDON_BROKER"]


@pytest.fixture(scope="session")
def broker():
    """A real broker for the whole session; tests create their own uniquely named topics."""
    from andon.connectors.broker import EmbeddedBroker

    with EmbeddedBroker() as running:
        yield running


@pytest.fixture
def kafka_only(broker_engine):
    """Skip a test that needs what only Apache Kafka offers (data kept across a restart, exact watermarks, tools)."""
    if broker_engine != "kafka":
        pytest.skip("needs Apache Kafka (data kept across restarts, its tools): run with --broker=kafka")


# ---- fault-injection summary lines (pytest -m fault) -----------------------------------------------------------

FAULT_SUMMARIES: list[tuple[str, str]] = []


@pytest.fixture
def fault_summary(record_property, request):
    """Record what a fault test injected and found; printed in the terminal summary (no -s needed).

        fault_summary(faults="kill -9 x5", readings_in=n, events_expected=e, events_applied=a, duplicates=0, lost=0)
    """

    def record(*, faults: str, readings_in: int | str = "-", events_expected: int | str = "-",
               events_applied: int | str = "-", duplicates: int = 0, lost: int = 0, **extra) -> str:
        line = (f"faults injected={faults}, readings in={readings_in}, events expected={events_expected}, "
                f"events applied={events_applied}, duplicates={duplicates}, lost={lost}")
        if extra:
            line += ", " + ", ".join(f"{k}={v}" for k, v in extra.items())
        record_property("fault_summary", line)
        return line

    return record


def pytest_runtest_logreport(report):
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "fault_summary":
                FAULT_SUMMARIES.append((f"{report.nodeid} [{report.outcome}]", value))


def pytest_terminal_summary(terminalreporter):
    if FAULT_SUMMARIES:
        terminalreporter.section("fault-injection summary")
        for nodeid, line in FAULT_SUMMARIES:
            terminalreporter.write_line(f"{nodeid}\n    {line}")
