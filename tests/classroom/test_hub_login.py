"""The production hub's log-in as a browser does it, and culling (as root; see hub_root.py).

NativeAuthenticator 1.3.0 on JupyterHub 6 (with ch9hub/auth.py's fix): the teacher
account exists before anyone can sign up; a student signs up, cannot log in until
the teacher approves them at /hub/authorize/<name>, logs in through the form
(``_xsrf`` cookie and field), starts a server (their own unix account) and talks
to its API with the cookies. Then the culler, with short times: the idle kernel
goes although a websocket is still connected, and the server goes at its maximum
age although its tab was active.
"""

from __future__ import annotations

import asyncio
import pwd
import time

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

import hub_root
from hub_root import PREFIX, TEACHER_PASSWORD

from browser import Browser, execute  # noqa: E402 (deploy/jupyterhub, on sys.path via hub_root)

KERNEL_CULL, MAX_AGE = 10, 30  # seconds (the production defaults: 1200 and 28800)


@pytest.fixture(scope="module")
def visit():
    """Teacher and student through the forms; then wait for the culler. What each step answered."""
    hub_root.require_root_hub()
    seen: dict = {}
    env = {"CH9_HUB_KERNEL_CULL": str(KERNEL_CULL), "CH9_HUB_MAX_AGE": str(MAX_AGE), "CH9_HUB_CULL_EVERY": "5"}
    with hub_root.root_hub(env) as hub:
        teacher, alice, impostor = Browser(hub.url, "teacher"), Browser(hub.url, "alice"), Browser(hub.url, "teacher")
        seen["impostor sign-up"] = impostor.sign_up("impostor-password-1")
        seen["impostor log-in"] = impostor.log_in("impostor-password-1")
        seen["teacher log-in"] = teacher.log_in(TEACHER_PASSWORD)
        seen["sign-up"] = alice.sign_up("alice-password-1")
        seen["log-in before approval"] = alice.log_in("alice-password-1")
        seen["approve"] = teacher.authorize("alice")
        seen["approved"] = teacher.is_authorized("alice")
        seen["wrong password"] = alice.log_in("not-her-password")
        seen["log-in"] = alice.log_in("alice-password-1")
        seen["log"] = hub.log()
        # no server without a log-in: fail now, with the hub's log, rather than time out below
        assert seen["log-in"] == 302, f"log-in answered {seen['log-in']}:\n{seen['log'][-3000:]}"
        alice.start_server()
        seen["spawned"] = time.monotonic()
        seen["contents"] = alice.server_api("GET", "contents/ch9-interpret")
        kernel = alice.server_api("POST", "kernels", {"name": "ch9-interpret"})
        seen["kernel"] = kernel
        kernel_id = kernel.json()["id"]
        seen["cell"] = execute(hub.url, "alice", kernel_id, "import os\nprint(os.getuid(), os.getcwd())",
                               cookie=alice.cookie_header())
        seen["uid"] = pwd.getpwnam(PREFIX + "alice").pw_uid
        seen["kernel culled after"] = asyncio.run(_wait_for_cull(hub.url, alice, kernel_id))
        deadline = seen["spawned"] + MAX_AGE + 60
        while time.monotonic() < deadline:
            alice.server_api("GET", "kernels")  # an open tab keeps polling: activity
            if not alice.session.get(f"{hub.url}/hub/api/user", timeout=60).json()["servers"]:
                break
            time.sleep(2)
        seen["server age when culled"] = time.monotonic() - seen["spawned"]
        seen["log"] = hub.log()
    yield seen


async def _wait_for_cull(url: str, browser: Browser, kernel_id: str) -> float | None:
    """Seconds until the kernel is gone while a websocket stays connected to it (None: it stayed)."""
    ws_url = url.replace("http", "ws", 1) + f"/user/{browser.name}/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Cookie": browser.cookie_header()},
                                             connect_timeout=300, request_timeout=300))
    start = time.monotonic()
    try:
        while time.monotonic() - start < KERNEL_CULL + 40:
            ids = [k["id"] for k in browser.server_api("GET", "kernels").json()]
            if kernel_id not in ids:
                return time.monotonic() - start
            await asyncio.sleep(1)
        return None
    finally:
        ws.close()


def test_the_teacher_exists_before_anyone_can_sign_up(visit):
    assert "already in use" in visit["impostor sign-up"], visit["impostor sign-up"]
    # the impostor's password does not open the teacher's account (the form again, with its message)
    assert visit["impostor log-in"] in (200, 403)
    assert visit["teacher log-in"] == 302, visit["log"][-3000:]


def test_a_student_logs_in_only_after_the_teacher_approved(visit):
    assert "sent to the admin" in visit["sign-up"], visit["sign-up"]
    # refused: the form again with a message (200 from NativeAuthenticator), not a 500
    assert visit["log-in before approval"] in (200, 403) and visit["wrong password"] in (200, 403)
    assert visit["approve"] == 302 and visit["approved"]
    assert visit["log-in"] == 302, visit["log"][-3000:]
    assert "statsd" not in visit["log"] and "_render()" not in visit["log"]


def test_the_server_runs_as_the_students_own_account_and_answers_with_cookies(visit):
    names = {item["name"] for item in visit["contents"].json()["content"]}
    assert visit["contents"].status_code == 200 and "09_2_2_grad_cam.ipynb" in names
    assert visit["kernel"].status_code == 201
    uid, cwd = visit["cell"].text.split()
    assert int(uid) == visit["uid"] and cwd == f"/home/{PREFIX}alice", visit["cell"]


def test_an_idle_kernel_is_culled_while_connected(visit):
    assert visit["kernel culled after"] is not None, "the idle kernel was not culled"
    assert visit["kernel culled after"] <= KERNEL_CULL + 20


def test_a_server_is_stopped_at_its_maximum_age_although_active(visit):
    # measured from "ready"; the hub counts the age from the start request, a few seconds earlier
    assert MAX_AGE - 15 <= visit["server age when culled"] <= MAX_AGE + 40, visit["server age when culled"]
    assert "Culling server alice (age:" in visit["log"]
