"""JupyterHub for a class on one server (``make hub``; docs/teaching.md 7.2, 在一台服务器上用 JupyterHub 上课).

Production mode (the default, ``sudo make hub``; needs root):

* JupyterHub 6.1.1 from PyPI (requirements.txt), configurable-http-proxy from npm
  (package.json / package-lock.json here, installed by ``npm ci``).
* Log-in: NativeAuthenticator 1.3.0 with a compatibility fix for JupyterHub 6
  (ch9hub/auth.py: JupyterHub 6 removed ``statsd`` and changed the error page's
  ``_render`` call, so every log-in answered 500). Students sign up at /hub/signup,
  the teacher approves them at /hub/authorize. The teacher's account
  (``$CH9_HUB_ADMIN``, default ``teacher``) is written before the hub listens, from
  the password ``make hub`` asks for (or ``$CH9_HUB_ADMIN_PASSWORD``).
* Servers: ch9hub/spawner.py, a LocalProcessSpawner. Hub name ``alice`` runs as the
  unix account ``ch9-alice`` (``$CH9_HUB_USER_PREFIX``), created by the hub, home
  0700, umask 077; an existing account is never used. Each student is a cgroup
  (memory ``$CH9_HUB_MEM``, CPU quota ``$CH9_HUB_CPUS`` cores with an equal share,
  ``$CH9_HUB_PIDS`` processes, also RLIMIT_NPROC), see ch9hub/limits.py.
* The working copy ``~/ch9-interpret`` is made on the first start by the server's
  start-up command running as the student (ch9hub/start.py), from the release the
  hub builds in ``$CH9_HUB_STATE/release`` (nbgrader release versions or the
  student edition: never the answers). The checkout's course/, notebooks/, tests/,
  build/ and .git are closed to the students (ch9hub/release.py).
* Culling: kernels idle ``$CH9_HUB_KERNEL_CULL`` s (default 1200) are shut down,
  connected or not; servers idle ``$CH9_HUB_CULL`` s (3600) or older than
  ``$CH9_HUB_MAX_AGE`` s (28800) are stopped (an open tab keeps a server "active").
* Hub state (database with password hashes, cookie secret, tokens, the account
  registry) in ``$CH9_HUB_STATE/private`` (default /var/lib/ch9-hub), root-only.
* Network: ``$CH9_HUB_IP``:``$CH9_HUB_PORT`` (default 127.0.0.1:8000); TLS with
  ``$CH9_HUB_SSL_KEY`` / ``$CH9_HUB_SSL_CERT`` (or a reverse proxy, docs/teaching.md).

``CH9_HUB_MODE=test`` (test-only, used by benchmarks/bench_hub.py
and simulate.py): DummyAuthenticator with one shared password and
SimpleLocalProcessSpawner (every server runs as the hub's own user, homes under
the state folder, no limits). Never use it for a real class.

Other environment: CH9_HUB_API_PORT / CH9_PROXY_API_PORT (internal, default 8081 /
8001), CH9_HUB_ADMIN_TOKEN (a service token for scripts; default: read from or
written to the private folder), CH9_HUB_PASSWORD (test mode only), CH9_HUB_HOMES
(/home), CH9_HUB_CGROUP (ch9-hub), CH9_HUB_CULL_EVERY (300), CH9_HUB_THREADS (torch threads
per kernel, 1).
"""

import os
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))
MODE = os.environ.get("CH9_HUB_MODE", "production")
if MODE not in ("production", "test"):
    sys.exit(f"CH9_HUB_MODE must be production or test, not {MODE!r}")
PRODUCTION = MODE == "production"
if PRODUCTION and os.geteuid() != 0:
    sys.exit("The class hub starts students' servers under their own unix accounts: run it as root "
             "(sudo make hub). For a try-out without accounts see CH9_HUB_MODE=test (test-only).")
STATE = Path(os.environ.get("CH9_HUB_STATE") or ("/var/lib/ch9-hub" if PRODUCTION else REPO / "build" / "hub"))
STATE = STATE.resolve()
ADMIN = os.environ.get("CH9_HUB_ADMIN", "teacher")
COURSE = "ch9-interpret"  # the working copy's folder in each home
env = os.environ.get

STATE.mkdir(parents=True, exist_ok=True)
os.chmod(STATE, 0o755)
PRIVATE = STATE / "private"
PRIVATE.mkdir(exist_ok=True)
os.chmod(PRIVATE, 0o700)  # database, secrets, tokens: root (the hub's user) only

c = get_config()  # noqa: F821 (provided by traitlets)

# ---------------------------------------------------------------- network ---
c.JupyterHub.ip = env("CH9_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("CH9_HUB_PORT", "8000"))
if env("CH9_HUB_SSL_KEY") or env("CH9_HUB_SSL_CERT"):
    c.JupyterHub.ssl_key, c.JupyterHub.ssl_cert = env("CH9_HUB_SSL_KEY"), env("CH9_HUB_SSL_CERT")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("CH9_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('CH9_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(PRIVATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{PRIVATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(PRIVATE / "jupyterhub_cookie_secret")

# ----------------------------------------------------- a token for scripts ---
token_file = PRIVATE / "admin_token"
ADMIN_TOKEN = env("CH9_HUB_ADMIN_TOKEN") or (
    token_file.read_text().strip() if token_file.is_file() else secrets.token_hex(32))
if not token_file.is_file():
    token_file.touch(mode=0o600)
    token_file.write_text(ADMIN_TOKEN)
CULL = {"server idle": int(env("CH9_HUB_CULL", "3600")), "max age": int(env("CH9_HUB_MAX_AGE", "28800")),
        "kernel idle": int(env("CH9_HUB_KERNEL_CULL", "1200")), "every": int(env("CH9_HUB_CULL_EVERY", "300"))}
c.JupyterHub.services = [
    {"name": "ch9-admin", "api_token": ADMIN_TOKEN},
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL['server idle']}",
                 f"--cull-every={CULL['every']}", f"--max-age={CULL['max age']}"]},
]
c.JupyterHub.load_roles = [
    {"name": "ch9-admin", "services": ["ch9-admin"],
     "scopes": ["admin:users", "admin:servers", "tokens", "list:users"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
]

# ---------------------------------------------------------------- servers ---
c.Spawner.args = [f"--LabApp.app_settings_dir={REPO / 'deploy' / 'jupyterlab' / 'settings'}",
                  # kernels idle this long are shut down, even with a browser tab connected
                  f"--MappingKernelManager.cull_idle_timeout={CULL['kernel idle']}",
                  f"--MappingKernelManager.cull_interval={max(5, min(60, CULL['kernel idle'] // 4))}",
                  "--MappingKernelManager.cull_connected=True"]
c.Spawner.default_url = f"/lab/tree/{COURSE}/00_start_here.ipynb"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {
    "CH9_MODEL_SOURCE": env("CH9_MODEL_SOURCE", "auto"),  # bundled when offline
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    "PYTHONPATH": os.pathsep.join(p for p in (env("PYTHONPATH", ""), str(HERE)) if p),
    # students hand in through their working copy, not nbgrader's exchange: its server
    # extensions (formgrader, course and assignment lists) stay off in their servers
    "JUPYTER_CONFIG_PATH": str(HERE / "singleuser"),
    # torch threads per kernel ($CH9_HUB_THREADS, default 1): torch starts one per core and
    # OpenMP's threads spin while they wait, so two students computing at once on 2 cores each
    # ran up to 4.5 times slower with 2 threads than with 1 (benchmarks/bench_threads.py); PASSIVE:
    # a thread that waits sleeps instead of spinning, for a teacher who raises the count
    "OMP_NUM_THREADS": str(max(1, int(env("CH9_HUB_THREADS", "1")))),
    "OMP_WAIT_POLICY": "PASSIVE",
}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.JupyterHub.concurrent_spawn_limit = 40
c.Authenticator.admin_users = {ADMIN}

if not PRODUCTION:  # TEST ONLY: one shared password, no unix accounts, no limits
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = env("CH9_HUB_PASSWORD") or secrets.token_hex(16)
    c.Authenticator.allow_all = True
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
    c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
    if os.geteuid() == 0:
        c.Spawner.args.append("--allow-root")  # test mode runs every server as the hub's user

    def copy_course(spawner) -> None:
        """pre_spawn_hook (test mode): the student edition in the test home, made once."""
        from ch9hub.release import build_release
        from ch9hub.start import copy_once

        home = Path(spawner.home_dir)
        if not (home / COURSE).exists():
            release = STATE / "release"
            if not (release / COURSE).is_dir():
                build_release(REPO, release, COURSE, Path(sys.executable))
            home.mkdir(parents=True, exist_ok=True)
            copy_once(release / COURSE, home)

    c.Spawner.pre_spawn_hook = copy_course
else:
    import nativeauthenticator
    from ch9hub.accounts import HUB_NAME
    from ch9hub.auth import admin_password_hash
    from ch9hub.limits import parse_size
    from ch9hub.release import build_release, check_readable, lock_teacher_files

    # the students' processes run this venv, its base Python and this checkout
    check_readable(BIN, Path(sys.executable).resolve().parent, Path(sys.base_prefix) / "lib", REPO)
    lock_teacher_files(REPO)
    RELEASE = STATE / "release"
    jupyter_path = build_release(REPO, RELEASE, COURSE, Path(sys.executable))

    c.JupyterHub.authenticator_class = "ch9hub.auth.Ch9Authenticator"
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.Ch9Authenticator.admin_name = ADMIN
    c.Ch9Authenticator.admin_hash, new_password = admin_password_hash(PRIVATE, ADMIN)
    c.Ch9Authenticator.reset_admin_password = "yes" if new_password else ""
    c.NativeAuthenticator.open_signup = False  # the teacher approves each sign-up
    c.NativeAuthenticator.minimum_password_length = 8
    c.Authenticator.username_pattern = f"^{HUB_NAME}$"
    c.Authenticator.allow_all = True  # everyone the teacher approved

    c.JupyterHub.spawner_class = "ch9hub.spawner.Ch9Spawner"
    c.Ch9Spawner.user_prefix = env("CH9_HUB_USER_PREFIX", "ch9-")
    c.Ch9Spawner.registry_file = str(PRIVATE / "accounts.json")
    c.Ch9Spawner.homes = env("CH9_HUB_HOMES", "/home")
    c.Ch9Spawner.cgroup_parent = env("CH9_HUB_CGROUP", "ch9-hub")
    c.Ch9Spawner.memory_limit = parse_size(env("CH9_HUB_MEM", "2.6G"))
    c.Ch9Spawner.cpu_limit = float(env("CH9_HUB_CPUS", "2"))
    c.Ch9Spawner.pids_limit = int(env("CH9_HUB_PIDS", "512"))
    c.Spawner.disable_user_config = True  # a student's ~/.jupyter cannot switch off culling
    # the start-up command runs as the student: it copies the course once, then execs the server
    c.Spawner.cmd = [sys.executable, str(HERE / "ch9hub" / "start.py"), str(BIN / "jupyterhub-singleuser")]
    c.Spawner.environment.update(CH9_HUB_RELEASE=str(RELEASE / COURSE), JUPYTER_PATH=str(jupyter_path))
