"""The image, checked by reading the Dockerfile (no container engine runs here): non-root, no secrets, kernels
warmed at build time into a fixed NUMBA_CACHE_DIR, a health check, `andon` as the entrypoint."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORD = re.compile(r"PASSWORD|API_KEY|APIKEY|SECRET|TOKEN|CREDENTIAL", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    start = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[start:]


def env_of(stage) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def test_base_image_is_python_311_slim():
    args = dict(rest.split("=", 1) for word, rest in instructions() if word == "ARG" and "=" in rest)
    froms = [rest.split()[0] for word, rest in instructions() if word == "FROM"]
    assert all(f in {"${PYTHON_IMAGE}", args.get("PYTHON_IMAGE")} for f in froms)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"


def test_runs_as_a_non_root_user_from_before_the_warm_up_on():
    stage = final_stage()
    users = [(i, rest) for i, (word, rest) in enumerate(stage) if word == "USER"]
    assert users, "no USER in the final stage"
    index, user = users[-1]
    name = user.split(":")[0]
    assert name not in {"root", "0", ""}
    warm = next(i for i, (word, rest) in enumerate(stage) if word == "RUN" and "warm_up" in rest)
    assert index < warm, "the kernel cache must be written by the runtime user"


def test_kernels_are_warmed_into_a_fixed_cache_dir_and_the_cpu_is_pinned():
    stage = final_stage()
    env = env_of(stage)
    assert env["NUMBA_CACHE_DIR"].startswith("/")
    assert env.get("NUMBA_CPU_NAME"), "without a fixed CPU name the build machine's cache may not match the node"
    warm = [rest for word, rest in stage if word == "RUN" and "warm_up" in rest]
    assert warm == ['python -c "from andon.operators.kernels import warm_up; print(warm_up())"']
    from andon.operators.kernels import warm_up  # the name the image calls exists

    assert callable(warm_up)


def test_installs_the_package_without_dev_extras():
    runs = " ".join(rest for word, rest in instructions() if word == "RUN")
    assert "pip install ." in runs
    assert "[dev]" not in runs and "-e " not in runs


def test_no_secret_in_env_arg_or_label():
    for word, rest in instructions():
        if word in {"ENV", "ARG", "LABEL"}:
            assert not SECRET_WORD.search(rest), f"{word} {rest}"


@pytest.mark.parametrize("pattern", ["**/.env", "**/*.pem", "**/*.key", "**/*secret*"])
def test_secret_files_never_reach_the_build_context(pattern):
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("**") + 1].startswith("!"), "the context is an allow-list"
    assert pattern in ignore


def test_healthcheck_and_entrypoint():
    stage = final_stage()
    health = [rest for word, rest in stage if word == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    (entrypoint,) = [json.loads(rest) for word, rest in stage if word == "ENTRYPOINT"]
    assert entrypoint[-1] == "andon"
    assert ("STOPSIGNAL", "SIGINT") in stage
