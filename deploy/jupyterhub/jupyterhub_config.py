"""JupyterHub for a class on one server (``make hub``; docs/teaching.md, 在一台服务器上用 JupyterHub 上课).

* JupyterHub from PyPI (requirements.txt), configurable-http-proxy from npm
  (package.json / package-lock.json here, installed by ``npm ci``).
* Log-in: NativeAuthenticator (students sign up at /hub/signup, the teacher
  approves them at /hub/authorize; the teacher account is ``$CH9_HUB_ADMIN``,
  default ``teacher``, and signs up first).
* Servers: LocalProcessSpawner, one unix account per student (created on first
  start when the hub runs as root); the course kernel and the bundled models of
  this checkout's ``.venv``, offline.
* Each student gets a working copy of the notebooks in ``~/ch9-interpret`` on
  first start (nbgrader release versions where ``make assignments`` made them,
  else the student edition: never the answers); later starts keep their work.
* jupyterhub-idle-culler stops servers idle for ``$CH9_HUB_CULL`` seconds (default 3600).
* JupyterLab in Chinese by default (jupyterlab-language-pack-zh-CN; Settings → Language
  switches back).

``CH9_HUB_MODE=test`` (test-only, used by tests/classroom/test_hub.py and
benchmarks/bench_hub.py): DummyAuthenticator with one shared password and
SimpleLocalProcessSpawner (every server runs as the hub's own user, homes under
the state folder). Never use it for a real class: students are separated only by
the hub's tokens, not by unix accounts.

Environment: CH9_HUB_STATE (database, secrets, test homes; default build/hub),
CH9_HUB_IP / CH9_HUB_PORT (public address, default 127.0.0.1:8000),
CH9_HUB_API_PORT / CH9_PROXY_API_PORT (internal, default 8081 / 8001),
CH9_HUB_ADMIN_TOKEN (a service token for scripts; default: read from or written
to the state folder), CH9_HUB_PASSWORD (test mode only).
"""

import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("CH9_HUB_STATE", REPO / "build" / "hub")).resolve()
MODE = os.environ.get("CH9_HUB_MODE", "lab")
ADMIN = os.environ.get("CH9_HUB_ADMIN", "teacher")
COURSE = "ch9-interpret"  # the working copy's folder in each home
STATE.mkdir(parents=True, exist_ok=True)

c = get_config()  # noqa: F821 (provided by traitlets)

# ---------------------------------------------------------------- network ---
c.JupyterHub.ip = os.environ.get("CH9_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("CH9_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("CH9_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('CH9_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")

# ----------------------------------------------------- a token for scripts ---
token_file = STATE / "admin_token"
ADMIN_TOKEN = os.environ.get("CH9_HUB_ADMIN_TOKEN") or (
    token_file.read_text().strip() if token_file.is_file() else secrets.token_hex(32))
if not token_file.is_file():
    token_file.write_text(ADMIN_TOKEN)
    token_file.chmod(0o600)
c.JupyterHub.services = [
    {"name": "ch9-admin", "api_token": ADMIN_TOKEN},
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                 f"--timeout={os.environ.get('CH9_HUB_CULL', '3600')}"]},
]
c.JupyterHub.load_roles = [
    {"name": "ch9-admin", "services": ["ch9-admin"],
     "scopes": ["admin:users", "admin:servers", "tokens", "list:users"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]

# ---------------------------------------------------------- authentication ---
c.Authenticator.admin_users = {ADMIN}
if MODE == "test":  # TEST ONLY: one shared password, no unix accounts
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ.get("CH9_HUB_PASSWORD") or secrets.token_hex(16)
    c.Authenticator.allow_all = True
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
else:
    import nativeauthenticator

    c.JupyterHub.authenticator_class = "native"
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.NativeAuthenticator.open_signup = False  # the teacher approves each sign-up
    c.NativeAuthenticator.minimum_password_length = 8
    c.Authenticator.allow_all = True  # everyone the teacher approved
    c.JupyterHub.spawner_class = "localprocess"

# ---------------------------------------------------------------- servers ---
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = [f"--LabApp.app_settings_dir={REPO / 'deploy' / 'jupyterlab' / 'settings'}"]
if MODE == "test" and os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")  # test mode runs every server as the hub's user
c.Spawner.default_url = f"/lab/tree/{COURSE}/00_start_here.ipynb"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "CH9_MODEL_SOURCE": os.environ.get("CH9_MODEL_SOURCE", "auto"),  # bundled when offline
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    # students hand in through their working copy, not nbgrader's exchange: its server
    # extensions (formgrader, course and assignment lists) stay off in their servers
    "JUPYTER_CONFIG_PATH": str(HERE / "singleuser"),
}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.JupyterHub.concurrent_spawn_limit = 40


def _home(spawner) -> Path:
    if MODE == "test":
        return Path(spawner.home_dir)
    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def ensure_account(name: str) -> None:
    """Create the unix account of a student on first start (lab mode, hub run as root)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        if os.geteuid() != 0:
            raise RuntimeError(f"no unix account {name!r}: create it, or run the hub as root") from None
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name], check=True)


def copy_course(spawner) -> None:
    """pre_spawn_hook: the student's own copy of the notebooks, made once, then left alone.

    Never the teacher's notebooks (they hold the answers): for a notebook with an
    nbgrader assignment, its release version (``make assignments``), which the
    teacher later collects for ``nbgrader autograde``; otherwise the student
    edition of scripts/make_student.py.
    """
    if MODE != "test":
        ensure_account(spawner.user.name)
    target = _home(spawner) / COURSE
    if target.exists():
        return
    sys.path.insert(0, str(REPO / "scripts"))
    import make_student
    import nbformat

    target.mkdir(parents=True)
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        release = REPO / "course" / "release" / notebook.stem / notebook.name
        if release.is_file():
            shutil.copy(release, target / notebook.name)
        else:
            student = make_student.student_notebook(nbformat.read(notebook, as_version=4))
            nbformat.write(student, target / notebook.name)
    if MODE != "test" and os.geteuid() == 0:
        account = pwd.getpwnam(spawner.user.name)
        for path in (target, *target.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)


c.Spawner.pre_spawn_hook = copy_course
