"""LocalProcessSpawner for a class: the student's own unix account, cgroup limits, umask 077.

The hub (root) only creates the account and the cgroup and starts the server as
the student; it never writes into a student's home. The working copy of the
notebooks is made by the server's start-up command, already running as the
student (:mod:`ch9hub.start`), so a symlink a student planted in their home can
only ever lead to files the student could write anyway.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Float, Integer, Unicode

from .accounts import Registry, ensure_account, unix_name
from .limits import Limits, StudentCgroup, limit_processes


class Ch9Spawner(LocalProcessSpawner):
    """One unix account ``<prefix><hub name>`` per student, in its own cgroup."""

    user_prefix = Unicode("ch9-", config=True, help="Prefix of the students' unix accounts.")
    registry_file = Unicode(config=True, help="Root-only JSON file of the accounts the hub created.")
    homes = Unicode("/home", config=True, help="Where the students' homes are created.")
    cgroup_parent = Unicode("ch9-hub", config=True, help="Parent cgroup of the students' cgroups.")
    memory_limit = Integer(2_791_728_742, config=True, help="Bytes per student (all processes).")
    cpu_limit = Float(2.0, config=True, help="Cores per student (CFS quota).")
    pids_limit = Integer(512, config=True, help="Processes + threads per student.")

    @property
    def unix_name(self) -> str:
        return unix_name(self.user.name, self.user_prefix)

    def cgroup(self) -> StudentCgroup:
        return StudentCgroup(self.cgroup_parent, self.unix_name)

    async def start(self):
        ensure_account(self.user.name, self.user_prefix, Registry(Path(self.registry_file)), Path(self.homes))
        cgroup = self.cgroup()
        cgroup.kill()  # anything left from an earlier server of this student
        cgroup.create(Limits(self.memory_limit, self.cpu_limit, self.pids_limit))
        return await super().start()

    def make_preexec_fn(self, name: str):
        """Join the cgroup, cap processes per uid, umask 077, then become the student (in the child)."""
        become_student = set_user_setuid(self.unix_name)
        cgroup, pids = self.cgroup(), self.pids_limit

        def preexec() -> None:
            cgroup.join()
            limit_processes(pids)
            os.umask(0o077)
            become_student()

        return preexec

    def user_env(self, env: dict) -> dict:
        account = pwd.getpwnam(self.unix_name)
        env.update(USER=account.pw_name, LOGNAME=account.pw_name, HOME=account.pw_dir,
                   SHELL=account.pw_shell)
        return env

    async def move_certs(self, paths):  # internal TLS is not used by this hub
        raise NotImplementedError("internal_ssl is not supported by Ch9Spawner")

    async def stop(self, now: bool = False) -> None:
        """Stop the server, then every process the student left running (kernels, `setsid` children)."""
        await super().stop(now=now)
        try:
            self.cgroup().remove()
        except OSError as err:  # a process that would not die keeps its cgroup; the next start reuses it
            self.log.warning("could not remove the cgroup of %s: %s", self.unix_name, err)
