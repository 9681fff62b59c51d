"""Site config: the example loads, bad files name the key path and reason, env overrides secrets."""

from __future__ import annotations

import tomllib

import pytest

from andon.config import example_site_path, load_site, parse_site
from andon.errors import ConfigError
from andon.states import MachineState


def example_raw() -> dict:
    return tomllib.loads(example_site_path().read_text())


def test_example_site_loads(site):
    assert site.site.id == "plant-a"
    assert len(site.machines) == 24
    press = site.machine("press-03")
    assert press.work_center == "WC-PRESS-03" and press.equipment == "EQ-PRESS-03"
    assert site.class_of("press-01").states.code_table()[180000] is MachineState.BREAKDOWN
    assert site.class_of("cnc-01").states.source == "inferred"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["site"].update(timezone="Mars/Olympus"), "site.timezone: unknown IANA time zone"),
        (lambda r: r["processing"].update(window_s=0), "processing.window_s"),
        (lambda r: r["processing"].update(microstop_policy="sometimes"), "processing.microstop_policy"),
        (lambda r: r["machine_groups"][0].update({"class": "laser"}), "class 'laser', which is not defined"),
        (lambda r: r["machine_groups"][1].update(ideal_cycle_time_s=-1), "machines[8].ideal_cycle_time_s"),
        (lambda r: r["machine_classes"]["press"]["states"]["codes"].update({"x1": "running"}),
         "state code 'x1' is not an integer"),
        (lambda r: r["machine_classes"]["press"]["states"]["codes"].update({"1": "dancing"}),
         "unknown machine state 'dancing'"),
        (lambda r: r["odoo"].update(transport="soap"), "odoo.transport"),
        (lambda r: r["kafka"].update(bootstrap="x"), "kafka.bootstrap: unknown key: no andon code reads it"),
        (lambda r: r.update(mappings={"profile": "umh"}), "mappings: unknown key"),
        (lambda r: r["mapping"].update(ts_format="epoch_s"),
         "mapping.ts_format: not read under profile 'andon' (mapping reads no key but profile)"),
        (lambda r: r["mapping"].update(profile="umh", signals_field=""), "mapping.signals_field: not read under "
                                                                          "profile 'umh'"),
        (lambda r: r["mapping"].update(profile="umh", site_from="payload"), "UMH payloads carry no site"),
        (lambda r: r["mapping"].update(profile="umh", site_from="key", machine_from="key", topic_pattern="^umh"),
         "topic_pattern is not read: it picks the UNS topics"),
        (lambda r: r["mapping"].update(profile="custom", machine_from="topic", topic_pattern="^t/(?P<site>.+)$"),
         "machine_from = 'topic' needs a topic_pattern with a named group 'machine'"),
        (lambda r: r["mapping"].update(profile="custom", topic_pattern="^t/(?P<site>.+)$"),
         "topic_pattern is not read: neither site_from nor machine_from is topic or key"),
        (lambda r: r["mapping"].update(profile="custom", topic_pattern="(unclosed"), "not a valid regular expression"),
        (lambda r: r["machine_classes"]["press"].update(mapping={"rename": {"pieces": "part_count"}}),
         "machine_classes.press.mapping.rename: not read under profile 'andon'"),
        (lambda r: (r["mapping"].update(profile="umh"), r["machine_classes"]["press"].update(mapping={"ts_field": "t"})),
         "machine_classes.press.mapping.ts_field: not read under profile 'umh'"),
        (lambda r: r.pop("site"), "site: Field required"),
    ],
)
def test_bad_config_names_key_path_and_reason(mutate, expected):
    raw = example_raw()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        parse_site(raw, "plant-a.toml", env={})
    message = str(info.value)
    assert expected in message
    assert message.startswith("invalid site config")
    assert "plant-a.toml:" in message and "what to do" in message


def test_duplicate_machine_is_refused():
    raw = example_raw()
    raw["machines"] = [{"id": "press-01", "class": "press", "work_center": "X", "ideal_cycle_time_s": 1}]
    with pytest.raises(ConfigError, match="machine id 'press-01' appears twice"):
        parse_site(raw, env={})


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[site\nid = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_site(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_site(tmp_path / "nope.toml")


def test_env_overrides_secrets_and_endpoints(tmp_path):
    secret = tmp_path / "odoo-password"
    secret.write_text("s3cret\n")
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": "kafka:9093", "ANDON_ODOO_PASSWORD_FILE": str(secret),
           "ANDON_ODOO_API_KEY": "key-123"}
    site = parse_site(example_raw(), env=env)
    assert site.kafka.bootstrap_servers == "kafka:9093"
    assert site.odoo.password.get_secret_value() == "s3cret"
    assert site.odoo.api_key.get_secret_value() == "key-123"
    assert "s3cret" not in repr(site) and "key-123" not in repr(site)


def test_unreadable_secret_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="ANDON_ODOO_PASSWORD_FILE"):
        parse_site(example_raw(), env={"ANDON_ODOO_PASSWORD_FILE": str(tmp_path / "missing")})


def test_config_error_exits_nonzero_without_traceback(tmp_path, capsys):
    from andon.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "Bad Site!"\n')
    assert main(["broker", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "site.id" in err and "machines: Field required" in err and "Traceback" not in err
