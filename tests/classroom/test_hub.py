"""A class on the hub: 2 students run notebook 9.2.2 at once through the proxy; isolation holds.

Two students are enough for what this proves (servers and copies of their own, the
notebook runs for each while another runs it too, one student's token is refused on the
other's server and API); the cost of more students at once is measured by
benchmarks/bench_hub.py (N = 4, 8, 16), not asserted here. Each more student re-runs
the whole notebook, about a minute of CPU on a busy 2-core machine.

Loopback only, free ports, the hub in its test mode (shared-password log-in and
servers as this user: test-only, see deploy/jupyterhub/jupyterhub_config.py),
stopped with every server it started at the end. The production mode (`make hub`:
log-in, unix accounts, limits, attacks) is tested as root by test_hub_login.py and
test_hub_production.py. Needs configurable-http-proxy
from `npm ci` in deploy/jupyterhub (`make hub-install`, part of `make test`).
"""

from __future__ import annotations

import os

import asyncio
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "jupyterhub"))
import simulate  # noqa: E402

STUDENTS = [f"student{i}" for i in range(2)]
NOTEBOOK = "09_2_2_grad_cam.ipynb"
PROXY = ROOT / "deploy" / "jupyterhub" / "node_modules" / ".bin" / "configurable-http-proxy"

# Skipped only outside CI; `make test` installs the proxy first, and in CI a missing one fails.
pytestmark = pytest.mark.skipif(not PROXY.exists() and not os.environ.get("CI"),
                                reason="configurable-http-proxy is not installed: "
                                "run `make hub-install` (npm ci in deploy/jupyterhub)")


@pytest.fixture(scope="module")
def hub_class(tmp_path_factory):
    """The hub with two students who ran the notebook; the runs and isolation probes."""
    with simulate.Hub(tmp_path_factory.mktemp("hub")) as hub:
        runs = asyncio.run(simulate.class_of(hub, STUDENTS, NOTEBOOK))
        probes = asyncio.run(_probes(hub, runs))
        yield hub, runs, probes


async def _probes(hub: simulate.Hub, runs: list[simulate.Run]) -> dict[str, int | list]:
    alice, bob = runs[0], runs[1]
    before = (await hub.api("GET", f"/user/{alice.name}/api/kernels", alice.token)).body
    return {
        "server": (await hub.api("GET", f"/user/{bob.name}/api/kernels", alice.token)).code,
        "new kernel": (await hub.api("POST", f"/user/{bob.name}/api/kernels", alice.token, {})).code,
        "hub api": (await hub.api("GET", f"/hub/api/users/{bob.name}", alice.token)).code,
        "stop server": (await hub.api("DELETE", f"/hub/api/users/{bob.name}/server", alice.token)).code,
        "token": (await hub.api("POST", f"/hub/api/users/{bob.name}/tokens", alice.token, {})).code,
        "anonymous": (await hub.api("POST", f"/user/{alice.name}/api/kernels", None, {})).code,
        "language": (await hub.api("GET", f"/user/{alice.name}/lab/api/settings/"
                                   "@jupyterlab/translation-extension:plugin", alice.token)).body,
        "language packs": (await hub.api("GET", f"/user/{alice.name}/lab/api/translations/",
                                         alice.token)).body,
        "kernels before": [k["id"] for k in before],
        "kernels after": [k["id"] for k in
                          (await hub.api("GET", f"/user/{alice.name}/api/kernels", alice.token)).body],
    }


def test_every_student_ran_the_notebook_without_error(hub_class):
    hub, runs, _ = hub_class
    cells = len([c for c in simulate.json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())["cells"]
                 if c["cell_type"] == "code"])
    for run in runs:
        assert run.errors == [], f"{run.name}: {run.errors}\n{hub.log()[-2000:]}"
        assert run.cells == cells and run.first_picture is not None


def test_each_student_has_an_own_server_and_copy(hub_class):
    hub, runs, _ = hub_class
    assert set(hub.server_pids()) == set(STUDENTS)
    for run in runs:
        copy = hub.state / "homes" / run.name / "ch9-interpret" / NOTEBOOK
        assert "NotImplementedError" in copy.read_text()  # the student's version, not the answers


def test_a_students_token_is_refused_on_another_students_server_and_api(hub_class):
    hub, runs, probes = hub_class
    assert probes["server"] == 403 and probes["new kernel"] == 403
    # the hub's REST API answers 404 rather than 403 for a user one may not see,
    # so that a token cannot even learn who else has an account
    for probe in ("hub api", "stop server", "token"):
        assert probes[probe] in (403, 404), (probe, probes[probe])
    assert runs[1].name in hub.server_pids()  # the "stop server" attempt did nothing


def test_an_unauthenticated_request_gets_no_kernel(hub_class):
    _, _, probes = hub_class
    assert probes["anonymous"] in (302, 401, 403)
    assert probes["kernels after"] == probes["kernels before"]


def test_jupyterlab_speaks_chinese_by_default_and_can_switch(hub_class):
    _, _, probes = hub_class
    # the override sets the default; a student's own choice (Settings -> Language) would win
    settings = probes["language"]
    assert settings["schema"]["properties"]["locale"]["default"] == "zh_CN"
    assert settings["settings"].get("locale", "zh_CN") == "zh_CN"
    assert {"zh_CN", "en"} <= set(probes["language packs"]["data"])
