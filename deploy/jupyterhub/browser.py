"""What a student's (or the teacher's) browser does on the class hub, for tests and smoke checks.

Forms as a browser posts them (the ``_xsrf`` cookie and hidden field), cookies
kept by a :class:`requests.Session`, the single-user server reached through the
hub's OAuth redirects, and code run in a kernel over its websocket (the messages
JupyterLab sends). Used by tests/classroom/test_hub_production.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import requests
from simulate import DEAD, cell_messages, kernel_message
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, websocket_connect


class Browser:
    """One person's browser on the hub at ``url`` (cookies, forms with _xsrf)."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url.rstrip("/"), name
        self.session = requests.Session()

    def _form(self, path: str, data: dict[str, str]) -> requests.Response:
        page = self.session.get(self.url + path, timeout=60)
        match = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        if not match:
            raise RuntimeError(f"no _xsrf field in {path} ({page.status_code})")
        return self.session.post(self.url + path, data={"_xsrf": match[1], **data},
                                 allow_redirects=False, timeout=60)

    def sign_up(self, password: str) -> str:
        """POST the sign-up form; the page's message."""
        reply = self._form("/hub/signup", {"username": self.name, "signup_password": password,
                                           "signup_password_confirmation": password})
        match = re.search(r'class="alert[^"]*"[^>]*>(.*?)</div>', reply.text, re.DOTALL)
        return " ".join((match[1] if match else reply.text).split())

    def log_in(self, password: str) -> int:
        """POST the log-in form; the status (302 to the next page when it worked)."""
        return self._form("/hub/login", {"username": self.name, "password": password}).status_code

    def authorize(self, student: str) -> int:
        """The teacher's approval link at /hub/authorize/<name> (toggles it)."""
        return self.session.get(f"{self.url}/hub/authorize/{student}", allow_redirects=False,
                                timeout=60).status_code

    def is_authorized(self, student: str) -> bool:
        page = self.session.get(f"{self.url}/hub/authorize", timeout=60).text
        row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*?\b{re.escape(student)}\b(?:(?!</tr>).)*</tr>", page, re.DOTALL)
        return bool(row) and "Unauthorize" in row[0]

    def start_server(self, timeout: float = 180) -> None:
        """Click "Start My Server" (/hub/spawn) and wait until the server answers, then open it."""
        self.session.get(f"{self.url}/hub/spawn", timeout=120)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.session.get(f"{self.url}/hub/api/user", timeout=60).json()
            if user.get("servers", {}).get("", {}).get("ready"):
                break
            time.sleep(0.5)
        else:
            raise TimeoutError(f"{self.name}: server not ready after {timeout} s")
        self.session.get(f"{self.url}/user/{self.name}/lab", timeout=60)  # OAuth: the server's cookie

    def server_api(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        """A request to the student's own Jupyter server API with cookies and the X-XSRFToken header."""
        xsrf = next((c.value for c in self.session.cookies
                     if c.name == "_xsrf" and c.path.startswith(f"/user/{self.name}")), "")
        return self.session.request(method, f"{self.url}/user/{self.name}/api/{path}", json=body,
                                    headers={"X-XSRFToken": xsrf}, timeout=60)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies
                         if c.path.startswith(f"/user/{self.name}") and c.name != "_xsrf")


@dataclass
class Output:
    """What one cell printed, and whether its kernel died under it."""

    text: str = ""
    errors: list[str] = field(default_factory=list)
    died: bool = False
    seconds: float = 0.0


def _channels(hub_url: str, user: str, kernel: str, token: str,
              cookie: str) -> tuple[str, dict[str, str]]:
    """The websocket URL of ``user``'s kernel ``kernel`` through the proxy, and its auth header."""
    ws_url = (hub_url.replace("http", "ws", 1).rstrip("/")
              + f"/user/{user}/api/kernels/{kernel}/channels")
    return ws_url, {"Authorization": f"token {token}"} if token else {"Cookie": cookie}


def wait_for_kernel(hub_url: str, user: str, kernel: str, *, token: str = "", timeout: float = 120,
                    each: float = 10) -> float:
    """Wait until ``kernel`` answers a ``kernel_info_request`` (as JupyterLab does when a kernel
    has restarted, before the student's next cell): the seconds it took. Unlike a cell, an
    unanswered request that a restarted kernel reads later runs no code and prints nothing, so
    asking again after ``each`` seconds loses nothing. Raises TimeoutError."""
    ws_url, headers = _channels(hub_url, user, kernel, token, "")

    async def ask(wait: float) -> bool:
        try:  # a server that refuses the channel while the kernel restarts: ask again later
            ws = await websocket_connect(HTTPRequest(ws_url, headers=headers, connect_timeout=wait,
                                                     request_timeout=wait))
        except (TimeoutError, OSError, HTTPClientError, StreamClosedError):
            return False
        msg = kernel_message("kernel_info_request", {}, uuid.uuid4().hex)
        try:
            await ws.write_message(json.dumps(msg))
            end = time.monotonic() + wait
            while True:
                raw = await asyncio.wait_for(ws.read_message(), max(0.0, end - time.monotonic()))
                if raw is None:
                    return False
                if isinstance(raw, str):
                    reply = json.loads(raw)
                    if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"] \
                            and reply["msg_type"] == "kernel_info_reply":
                        return True
        except (TimeoutError, OSError, StreamClosedError, WebSocketClosedError):
            return False
        finally:
            ws.close()

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if asyncio.run(ask(min(each, max(1.0, timeout - (time.monotonic() - start))))):
            return time.monotonic() - start
        time.sleep(0.5)
    raise TimeoutError(f"{user}'s kernel {kernel} did not answer within {timeout} s")


async def _execute(ws_url: str, headers: dict[str, str], code: str, timeout: float) -> Output:
    # not tornado's 20 s for the handshake: kernels start slowly on busy cores
    ws = await websocket_connect(HTTPRequest(ws_url, headers=headers, connect_timeout=300,
                                             request_timeout=300), max_message_size=64 * 2**20)
    out = Output()
    msg = kernel_message("execute_request", {"code": code, "silent": False, "store_history": True,
                                             "user_expressions": {}, "allow_stdin": False,
                                             "stop_on_error": True}, uuid.uuid4().hex)
    start = time.perf_counter()
    try:
        await ws.write_message(json.dumps(msg))
        async for kind, body in cell_messages(ws, msg["header"]["msg_id"], timeout):
            if kind == "closed" or (kind == "status" and body["execution_state"] in DEAD):
                out.died = True
                break
            if kind == "stream":
                out.text += body["text"]
            elif kind == "execute_result":
                out.text += body["data"].get("text/plain", "")
            elif kind == "error":
                out.errors.append(f"{body['ename']}: {body['evalue']}")
    except TimeoutError:
        out.errors.append(f"no reply within {timeout} s")
    finally:
        out.seconds = time.perf_counter() - start
        ws.close()
    return out


def execute(hub_url: str, user: str, kernel: str, code: str, *, token: str = "", cookie: str = "",
            timeout: float = 120) -> Output:
    """Run ``code`` in ``user``'s kernel ``kernel`` through the proxy, authenticated by token or cookie."""
    return asyncio.run(_execute(*_channels(hub_url, user, kernel, token, cookie), code, timeout))
