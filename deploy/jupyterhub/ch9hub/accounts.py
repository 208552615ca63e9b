"""One unix account per student, in the hub's own namespace (``ch9-<name>``), never an existing one.

A hub name ``alice`` runs as the unix account ``<prefix>alice`` (prefix ``ch9-`` by
default, as The Littlest JupyterHub uses ``jupyter-``), so a student who signs up
as ``root`` or as a teaching assistant's login gets ``ch9-root`` / ``ch9-ta1``, a
new account. The hub creates each account itself (``useradd``, home 0700, locked
password) and records its uid in a root-only registry; an account with the prefix
that the hub did not create is refused, never taken over.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

HUB_NAME = r"[a-z][a-z0-9_]{0,19}"  # what the hub accepts at sign-up (Authenticator.username_pattern)


class AccountError(RuntimeError):
    """A student's account cannot be used safely."""


def unix_name(hub_name: str, prefix: str) -> str:
    """The unix account of a hub user: ``prefix + hub_name``; a bad name is an error."""
    if not re.fullmatch(HUB_NAME, hub_name):
        raise AccountError(f"hub name {hub_name!r} is not of the form {HUB_NAME}")
    return prefix + hub_name


class Registry:
    """``{unix name: uid}`` of the accounts this hub created, in a root-only JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, int]:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def add(self, name: str, uid: int) -> None:
        accounts = {**self.read(), name: uid}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(accounts, f, indent=1)
        os.replace(tmp, self.path)


def ensure_account(hub_name: str, prefix: str, registry: Registry, homes: Path) -> pwd.struct_passwd:
    """The student's unix account, created on first use; an account we did not create is refused.

    Also (re)asserts the home: a real directory (not a link) owned by the student, mode 0700.
    """
    name = unix_name(hub_name, prefix)
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(Path(homes) / name),
                        "--shell", "/bin/bash", "--user-group", "-K", "UMASK=0077",
                        "--comment", f"ch9-interpret hub student {hub_name}", name],
                       check=True, capture_output=True)
        account = pwd.getpwnam(name)
        registry.add(name, account.pw_uid)
    if registry.read().get(name) != account.pw_uid:
        raise AccountError(f"the unix account {name!r} exists but was not created by this hub: "
                           "refusing to run a student's server as it")
    home = os.lstat(account.pw_dir)
    if not stat.S_ISDIR(home.st_mode) or home.st_uid != account.pw_uid:
        raise AccountError(f"{account.pw_dir} is not a directory owned by {name}")
    os.chmod(account.pw_dir, 0o700)  # its parent (/home) is root's: the student cannot swap it
    return account
