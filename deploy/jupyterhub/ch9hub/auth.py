"""Log-in: NativeAuthenticator 1.3.0 on JupyterHub 6, and a teacher account that exists first.

NativeAuthenticator 1.3.0 (the newest release) was written for JupyterHub 4/5.
JupyterHub 6 broke two things in its ``LoginHandler``, so every ``POST /hub/login``
answered 500:

* its ``post`` times the log-in with ``self.statsd.timer(...)``, and JupyterHub 6
  removed ``statsd`` from its handlers: :class:`LoginHandler` gives it a no-op one;
* JupyterHub 6 renders a failed form's error page through ``self._render(**ns)``
  with extra keywords (``sync``, ``status_code``, ...) that NativeAuthenticator's
  ``_render(login_error, username)`` does not take: ours accepts and drops them.

:class:`Ch9Authenticator` serves that handler instead of NativeAuthenticator's and,
before the hub listens, writes the teacher's account (authorized) from a bcrypt hash
that ``make hub`` asked for (:func:`admin_password_hash`), so nobody can sign up
under the teacher's name first. Tested by tests/classroom/test_hub_production.py.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native_handlers
from nativeauthenticator.orm import UserInfo
from traitlets import Bytes, Unicode

MIN_PASSWORD = 8


class _NoStatsd:
    """Stands in for the ``statsd`` client that JupyterHub 6 removed: every call does nothing."""

    def timer(self, *args, **kwargs) -> _NoStatsd:
        return self

    def start(self) -> _NoStatsd:
        return self

    def stop(self, *args, **kwargs) -> None:
        return None

    def incr(self, *args, **kwargs) -> None:
        return None

    def gauge(self, *args, **kwargs) -> None:
        return None

    def timing(self, *args, **kwargs) -> None:
        return None


class LoginHandler(native_handlers.LoginHandler):
    """NativeAuthenticator's log-in page, fixed for JupyterHub 6 (see the module docstring)."""

    statsd = _NoStatsd()

    def _render(self, login_error: str | None = None, username: str | None = None, **kwargs):
        # JupyterHub 6 passes the error page's keywords (sync=..., status_code=...) along
        return super()._render(login_error=login_error, username=username)


class Ch9Authenticator(NativeAuthenticator):
    """NativeAuthenticator with the JupyterHub 6 log-in fix and the teacher account made first."""

    admin_name = Unicode("teacher", config=True, help="The teacher's hub name (an admin).")
    admin_hash = Bytes(b"", config=True, help="bcrypt hash of the teacher's password.")
    reset_admin_password = Unicode("", config=True,
                                   help="Non-empty: overwrite the stored teacher password with admin_hash.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ensure_admin()

    def ensure_admin(self) -> None:
        """Create the teacher's authorized account (or reset its password) before the hub listens."""
        if not self.admin_hash:
            raise RuntimeError("no password hash for the teacher account: see docs/teaching.md 7.2")
        info = UserInfo.find(self.db, self.admin_name)
        if info is None:
            self.db.add(UserInfo(username=self.admin_name, password=self.admin_hash, is_authorized=True))
            self.log.info("created the teacher account %r", self.admin_name)
        elif self.reset_admin_password:
            info.password, info.is_authorized = self.admin_hash, True
            self.log.info("reset the password of the teacher account %r", self.admin_name)
        self.db.commit()

    def get_handlers(self, app) -> list[tuple[str, type]]:
        return [(url, LoginHandler if handler is native_handlers.LoginHandler else handler)
                for url, handler in super().get_handlers(app)]


def admin_password_hash(private: Path, name: str) -> tuple[bytes, bool]:
    """The teacher's bcrypt hash, and whether it is new (so the stored account is reset).

    ``$CH9_HUB_ADMIN_PASSWORD`` wins; else the hash saved in ``private/admin.hash``;
    else the password is asked on the terminal (twice). Without any of them the hub
    does not start: a hub without its teacher would let a student sign up under
    the teacher's name.
    """
    saved = private / "admin.hash"
    password = os.environ.get("CH9_HUB_ADMIN_PASSWORD", "")
    if not password and saved.is_file():
        return saved.read_bytes().strip(), False
    if not password:
        if not sys.stdin.isatty():
            sys.exit(f"No password for the teacher account {name!r}: run `make hub` in a terminal "
                     "(it asks for one), or set CH9_HUB_ADMIN_PASSWORD.")
        password = getpass.getpass(f"Password for the teacher account {name!r} (>= {MIN_PASSWORD} characters): ")
        if password != getpass.getpass("Again: "):
            sys.exit("The two passwords differ.")
    if len(password) < MIN_PASSWORD:
        sys.exit(f"The teacher's password needs at least {MIN_PASSWORD} characters.")
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(hashed)
    return hashed, True
