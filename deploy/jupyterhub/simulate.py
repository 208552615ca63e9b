"""Simulated students on a test-mode class hub: start it, log students in, run a notebook in each.

Used by benchmarks/bench_hub.py and the production hub tests; also a smoke
test after changing the hub's configuration::

    python deploy/jupyterhub/simulate.py --students 4

Everything stays on 127.0.0.1 (free ports), the hub runs in test mode
(``CH9_HUB_MODE=test``: shared-password log-in and servers as this user,
test-only; :class:`Hub` also starts the production mode for
tests/classroom/test_hub_production.py), and :class:`Hub` stops the hub, its proxy and every student server
it started when it exits. Each student's notebook is run through the hub's
proxy: the Jupyter server REST API starts a session, and the code cells are
sent over the kernel's websocket (the messages a browser sends), one at a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COURSE = "ch9-interpret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    code: int
    body: dict | list | str


class Hub:
    """A test-mode hub on free loopback ports; a context manager that always stops it."""

    def __init__(self, state: Path, env: dict[str, str] | None = None, cull: int = 3600,
                 mode: str = "test", wrapper: list[str] | None = None) -> None:
        self.state = Path(state)
        self.wrapper = wrapper or []  # e.g. a mount namespace (tests/classroom/hub_root.py)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(32)
        self.api_port = free_port()
        self.env = {**os.environ, **(env or {}), "CH9_HUB_MODE": mode, "CH9_HUB_STATE": str(self.state),
                    "CH9_HUB_PORT": str(self.port), "CH9_HUB_API_PORT": str(self.api_port),
                    "CH9_PROXY_API_PORT": str(free_port()), "CH9_HUB_ADMIN_TOKEN": self.admin_token,
                    "CH9_HUB_PASSWORD": secrets.token_hex(16), "CH9_HUB_CULL": str(cull)}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Hub:
        self.state.mkdir(parents=True, exist_ok=True)
        # 0600: in production mode the state folder is readable (the students' release is in it)
        log = os.fdopen(os.open(self.state / "hub.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w")
        self.process = subprocess.Popen(
            [*self.wrapper, str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
            cwd=self.state, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited:\n{self.log()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if asyncio.run(self.api("GET", "/hub/api/", self.admin_token)).code == 200:
                    return self
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise TimeoutError(f"the hub did not answer within 120 s:\n{self.log()[-3000:]}")

    def __exit__(self, *exc) -> None:
        servers = self.server_pids()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops the proxy and the servers
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for pid in servers.values():  # any server the hub left behind (ours only, by pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log(self) -> str:
        return (self.state / "hub.log").read_text(errors="replace")

    def server_pids(self) -> dict[str, int]:
        """``{student: pid}`` of the single-user servers of this hub, from /proc."""
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                env = dict(kv.split("=", 1) for kv in (proc / "environ").read_text().split("\0") if "=" in kv)
            except OSError:
                continue
            if env.get("JUPYTERHUB_API_URL") == f"http://127.0.0.1:{self.api_port}/hub/api" \
                    and "JUPYTERHUB_USER" in env \
                    and "singleuser" in (proc / "cmdline").read_text(errors="replace"):
                found[env["JUPYTERHUB_USER"]] = int(proc.name)
        return found

    async def api(self, method: str, path: str, token: str | None = None, body: dict | None = None,
                  follow: bool = False) -> Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        request = HTTPRequest(self.url + path, method=method, headers=headers, follow_redirects=follow,
                              body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}),
                              request_timeout=300)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as err:  # pragma: no cover (raise_error=False)
            return Response(err.code, str(err))
        text = response.body.decode(errors="replace") if response.body else ""
        try:
            return Response(response.code, json.loads(text) if text else "")
        except json.JSONDecodeError:
            return Response(response.code, text)


@dataclass
class Run:
    """What one simulated student saw."""

    name: str
    token: str = ""
    started: float = 0.0  # the server start request
    ready: float = 0.0  # the server answers
    first_picture: float | None = None  # the first image/png output
    done: float = 0.0
    cells: int = 0
    errors: list[str] = field(default_factory=list)


async def login(hub: Hub, name: str) -> Run:
    """Create the student (if new) and a token for them, as the teacher's script would."""
    await hub.api("POST", f"/hub/api/users/{name}", hub.admin_token)
    reply = await hub.api("POST", f"/hub/api/users/{name}/tokens", hub.admin_token,
                          {"note": "simulated student", "expires_in": 7200})
    if reply.code != 201:
        raise RuntimeError(f"no token for {name}: {reply}")
    return Run(name, token=reply.body["token"])


async def start_server(hub: Hub, run: Run, timeout: float = 300) -> None:
    run.started = time.perf_counter()
    reply = await hub.api("POST", f"/hub/api/users/{run.name}/server", run.token)
    if reply.code not in (201, 202):
        raise RuntimeError(f"{run.name}: server did not start: {reply}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        user = (await hub.api("GET", f"/hub/api/users/{run.name}", run.token)).body
        if isinstance(user, dict) and user.get("servers", {}).get("", {}).get("ready"):
            run.ready = time.perf_counter()
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{run.name}: server not ready after {timeout} s")


def kernel_message(msg_type: str, content: dict, session: str) -> dict:
    """A Jupyter message for the shell channel, as JupyterLab sends it over the kernel's websocket."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
              "username": "student", "version": "5.3", "date": ""}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content,
            "channel": "shell", "buffers": []}


async def run_notebook(hub: Hub, run: Run, notebook: str, cell_timeout: float = 300) -> None:
    """Execute every code cell of the student's copy of ``notebook`` through the proxy."""
    base = f"/user/{run.name}/api"
    path = f"{COURSE}/{notebook}"
    reply = await hub.api("GET", f"{base}/contents/{path}?content=1", run.token)
    if reply.code != 200:
        raise RuntimeError(f"{run.name}: no working copy of {path}: {reply.code}")
    cells = [c["source"] for c in reply.body["content"]["cells"] if c["cell_type"] == "code"]
    reply = await hub.api("POST", f"{base}/sessions", run.token,
                          {"path": path, "type": "notebook", "name": notebook,
                           "kernel": {"name": "ch9-interpret"}})
    if reply.code != 201:
        raise RuntimeError(f"{run.name}: no kernel: {reply}")
    kernel = reply.body["kernel"]["id"]
    ws_url = f"ws://127.0.0.1:{hub.port}{base}/kernels/{kernel}/channels"
    # tornado's default 20 s for the handshake is too short while four kernels start on 2 busy
    # cores (the class test failed with HTTPTimeoutError at load 10); the API calls wait 300 s
    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {run.token}"},
                                             connect_timeout=300, request_timeout=300),
                                 max_message_size=256 * 2**20)
    session = uuid.uuid4().hex
    try:
        for source in cells:
            msg = kernel_message("execute_request", {"code": source, "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False,
                                               "stop_on_error": True}, session)
            await ws.write_message(json.dumps(msg))
            await _collect(ws, msg["header"]["msg_id"], run, cell_timeout)
            run.cells += 1
            if run.errors:
                break
    finally:
        ws.close()
        run.done = time.perf_counter()


DEAD = ("restarting", "autorestarting", "dead")  # the server's status messages for a kernel that died


async def cell_messages(ws, msg_id: str, timeout: float):
    """Yield ``(msg_type, content)`` of one cell's messages until its execute_reply and idle status.

    Also yields the kernel's ``status`` messages in :data:`DEAD` (they have no parent),
    and ``("closed", {})`` when the websocket closes. Raises TimeoutError.
    """
    replied = idle = False
    deadline = time.monotonic() + timeout
    while not (replied and idle):
        raw = await asyncio.wait_for(ws.read_message(), max(0.0, deadline - time.monotonic()))
        if raw is None:
            yield "closed", {}
            return
        if not isinstance(raw, str):
            continue  # binary frames: widget buffers
        msg = json.loads(raw)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content.get("execution_state") in DEAD:
            yield kind, content
        elif msg.get("parent_header", {}).get("msg_id") == msg_id:
            replied |= kind == "execute_reply"
            idle |= kind == "status" and content.get("execution_state") == "idle"
            yield kind, content


async def _collect(ws, msg_id: str, run: Run, timeout: float) -> None:
    """Read one cell's messages; note errors and pictures."""
    try:
        async for kind, content in cell_messages(ws, msg_id, timeout):
            if kind == "closed":
                run.errors.append(f"cell {run.cells}: websocket closed")
            elif kind in ("display_data", "execute_result") and "image/png" in content.get("data", {}):
                run.first_picture = run.first_picture or time.perf_counter()
            elif kind == "error":
                run.errors.append(f"cell {run.cells}: {content['ename']}: {content['evalue']}")
    except TimeoutError:
        run.errors.append(f"cell {run.cells}: no reply within {timeout} s")


async def student(hub: Hub, name: str, notebook: str) -> Run:
    """One student: log in, start the server, run the notebook."""
    run = await login(hub, name)
    await start_server(hub, run)
    await run_notebook(hub, run, notebook)
    return run


async def class_of(hub: Hub, names: list[str], notebook: str) -> list[Run]:
    """All students at once."""
    return list(await asyncio.gather(*(student(hub, n, notebook) for n in names)))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--notebook", default="09_2_2_grad_cam.ipynb")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ch9-hub-") as state, Hub(Path(state)) as hub:
        runs = asyncio.run(class_of(hub, [f"student{i}" for i in range(args.students)], args.notebook))
    for r in runs:
        picture = f"{r.first_picture - r.started:.1f} s" if r.first_picture else "none"
        print(f"{r.name}: {r.cells} cells, first picture after {picture}, errors {r.errors or 'none'}")
    return 0 if all(not r.errors for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
