"""The grading process of :mod:`grader.isolated`: :func:`main`, the request on stdin.

Order matters, and is the defence: everything the grader needs is read and
loaded *before* the first line of the student's code runs; from then on a
:func:`shield` audit hook (which cannot be removed) refuses to open the
grader's files or another process's memory, to load ``ctypes``, to start a
process or open a socket; each verdict is signed with a key that lives only in
:func:`main`'s frame (frames and memory searches are refused while answers run,
:mod:`grader.audit`) and written to a copy of stdout that the student's
``print`` no longer reaches.

The request (a Python literal): ``key`` (hex), ``root`` (the project),
``cells`` (``[(cell index, source, is_solution), ...]``) and ``exercises``
(``[(check, name, seed, index of its test cell), ...]``). Besides the verdicts it says,
signed too, which cell it runs (``cell:<index>``) and which exercise it grades
(``grade:<name>``), so a cell that hangs can be left out of the next process.
"""

import os
import sys

from grader.audit import EVENTS as _GATE_EVENTS
from grader.audit import FRAME_ATTRIBUTES as FRAMES
from grader.audit import PREFIXES

# names this module binds before any student code runs (C functions and types the student
# cannot change; the module's globals can be rebound, so main() copies what it uses into locals)
_lstat, _readlink, _getcwd = os.lstat, os.readlink, os.getcwd
_S_IFMT, _S_IFLNK = 0o170000, 0o120000


def _resolve(path, lstat=_lstat, readlink=_readlink, getcwd=_getcwd, type=type, len=len):  # noqa: A002
    """The real absolute path, symlinks followed, with C functions only (no patchable Python).

    Builtins are bound as defaults: the notebook can rebind ``builtins.type`` or this
    module's globals, not the values a function was defined with.
    """
    if type(path) is bytes:
        path = path.decode("utf-8", "surrogateescape")
    if not path.startswith("/"):
        path = getcwd() + "/" + path
    parts, done, hops = path.split("/"), [], 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/" + "/".join([*done, part])
        try:
            mode = lstat(here).st_mode
        except OSError:
            done.append(part)
            continue
        if mode & _S_IFMT == _S_IFLNK and hops < 40:
            hops += 1
            target = readlink(here)
            if target.startswith("/"):
                done = []
            parts = target.split("/") + parts
            continue
        done.append(part)
    return "/" + "/".join(done)


PROC = ("/mem", "/pagemap", "/environ")
# Frames, tracers, profilers and memory searches: only the grader's own functions named in
# ``allowed`` may ask for them (the caller is looked up by the hook itself). Anything else would
# reach main()'s frame, which holds the key, even from code the notebook slipped into a library
# function that the grader calls.
SENSITIVE = frozenset({"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                       "gc.get_objects", "gc.get_referrers", "gc.get_referents"})
EVENTS = _GATE_EVENTS - SENSITIVE  # the rest of what grader.audit's Gate refuses: from anyone, always


def shield(grader, allowed):
    """An audit hook for the student phase, and its state ``{"on", "refused"}``.

    What no answer needs is refused from any caller: opening the grader's files or another
    process's memory, ctypes, processes, sockets, more audit hooks; frames, tracers and memory
    searches unless the caller's code is one of ``allowed`` (the grader's). A closure, not a
    class: the notebook can reach this module and rebind its names, not the values the hook was
    made with.
    """
    state = {"on": False, "refused": [], "inside": False}
    grader = grader.rstrip("/") + "/"
    getframe = sys._getframe

    def hook(event, args, state=state, grader=grader, events=EVENTS, prefixes=PREFIXES, proc=PROC,
             sensitive=SENSITIVE, frames=FRAMES, allowed=allowed, getframe=getframe, type=type,  # noqa: A002
             len=len, int=int, str=str, bytes=bytes, resolve=_resolve, refused=PermissionError):
        if not state["on"] or state["inside"]:  # (inside: this hook's own getframe)
            return
        why = None
        if event in sensitive or event == "object.__getattr__" and len(args) > 1 and args[1] in frames:
            state["inside"] = True
            try:
                caller = getframe(1).f_code  # 0: this hook; 1: who asked
            finally:
                state["inside"] = False
            if caller in allowed:
                return
            why = event if event in sensitive else f"取栈帧（{args[1]}）"
            raise refused(f"评分进程不允许：{why}")  # (reveals nothing: fails only where asked)
        if event == "open":
            path = args[0] if args else None
            if type(path) is int:
                return
            if type(path) is not str and type(path) is not bytes:
                why = f"open({type(path).__name__})：评分进程里只能用字符串路径打开文件"
            else:
                real = resolve(path) + "/"
                if real.startswith(grader) or real.startswith("/proc/") and \
                        (real.rstrip("/").endswith(proc) or "/map_files/" in real):
                    why = f"打开 {path!s}"
        elif event in events or event.startswith(prefixes):
            why = event
        elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            why = "改写函数的代码（__code__）"
        if why:
            # A refused open reveals nothing, so it only fails where it is asked for (linecache
            # asks for the grader's lines when a stack is formatted). The rest marks the notebook.
            if event != "open":
                state["refused"].append(why)
            raise refused(f"评分进程不允许：{why}")

    return hook, state


def _codes(code):
    """``code`` and the code of every function defined inside it."""
    yield code
    for const in code.co_consts:
        if type(const) is type(code):
            yield from _codes(const)


def _read_request():
    raw = b""
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        raw += chunk
    os.close(0)
    return raw


def main():
    import ast
    import builtins
    import _hashlib
    import _io

    request = ast.literal_eval(_read_request().decode("utf-8"))
    key = bytes.fromhex(request["key"])
    root = request["root"]
    out = os.dup(1)  # the verdicts' channel; the student's print goes to /dev/null
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    write, digest, text_repr = os.write, _hashlib.hmac_digest, repr
    own_namespace = os.getpid() == 1  # unshare --pid: this process is alone in its PID namespace
    counter = os.open("/proc/sys/kernel/ns_last_pid", os.O_RDONLY) if own_namespace else None
    pread, number = os.pread, int

    def tasks():  # the last PID (thread or process) made in this namespace
        return number(pread(counter, 32, 0)) if counter is not None else 0

    def say(name, passed, message):
        text = text_repr((name, passed, message))
        signature = digest(key, text.encode("utf-8"), "sha256").hex()
        write(out, (signature + " " + text + "\n").encode("utf-8"))

    # the grader, afresh from its files and outside sys.modules (as the hidden test loads it)
    def read(path, probe=False):
        with _io.FileIO(path) as fh:
            return b"" if probe else fh.readall()

    folder = root + "/grader"
    boot = {"__builtins__": builtins.__dict__, "__name__": "_ch9_boot"}
    exec(compile(read(folder + "/boot.py"), folder + "/boot.py", "exec"), boot)  # noqa: S102
    fresh = boot["Fresh"](root, ("grader", "helpers"), read)
    grading = fresh.load("grader.grading")
    grading.use_fresh(fresh)
    grading.fresh_exercises()
    references = grading.fresh_references()
    grading.fresh_references = lambda: references  # read once, now, before any student code
    forbidden = fresh.load("grader.forbidden").forbidden
    for check, *_ in request["exercises"]:
        forbidden(check)
    watch = fresh.load("grader.watch")
    watch._gate([])  # its audit hook, added now (the shield refuses sys.addaudithook later)
    started = watch.STARTED
    grade, error_type = grading.grade, grading.GradingError
    grading.KEEP_ALIVE = True  # nothing the answer touched is freed (and finalized) in the grader

    # a signal handler is given the interrupted frame (main's, with the key): none may be set
    import gc
    import signal
    getsignal, callbacks, collecting = signal.getsignal, gc.callbacks, gc.isenabled
    gc.disable()  # no cycle of the notebook's objects is collected (and finalized) in the grader
    signals = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
    defaults = {s: (getsignal(s),) for s in signals}
    mask, block, leave = signal.pthread_sigmask, signal.SIG_BLOCK, os._exit  # (bound before the cells)

    # The modules the cells import, imported now: libraries read frames while they load (typing,
    # enum, namedtuple), which the cells may not. Only installed modules: sys.path has neither
    # the submission's folder nor PYTHONPATH (python -I).
    import importlib
    pending = []  # (cell index, its statements, solution?, its syntax error)
    for index, source, solution in request["cells"]:
        try:
            pending.append((index, ast.parse(source).body, solution, None))
        except SyntaxError as err:
            pending.append((index, [], solution, err))
    for _, statements, _, _ in pending:
        for node in statements:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module, *(f"{node.module}.{a.name}" for a in node.names)] \
                if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for module in names:
                try:
                    importlib.import_module(module)
                except BaseException:  # noqa: BLE001 (a name that is not a module; the cell will say)
                    pass

    # the grader's functions that set the profiler, look for threads or stop a tracer
    tamper = fresh.load("grader.tamper")
    own = [grade, watch.watched_call, tamper.foreign_threads, tamper.tampered]
    # torch keeps the caller's stack as text when it seeds CUDA or XPU lazily: traceback's own
    # functions may take frames, they hand out only text (no locals)
    import traceback
    own += [traceback.format_stack, traceback.extract_stack, traceback.print_stack]
    allowed = frozenset(c for f in own for c in _codes(f.__code__))
    watch.BEFORE_START.append(lambda: [s for s in signals if getsignal(s) not in defaults[s]])
    watch.AFTER_RETURN.append(gc.disable)

    hook, guard = shield(_resolve(folder), allowed)
    sys.addaudithook(hook)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    failures, started_by_cells = [], 0

    def unfit(threads):  # why the notebook cannot be graded any more, or ""
        if collecting():
            guard["refused"].append("打开了垃圾回收（gc.enable）")
        handlers = [s for s in signals if getsignal(s) not in defaults[s]]
        return f"启动了 {threads} 个线程或进程" if threads else \
            f"设置了信号处理函数（{handlers[:3]}）" if handlers else "；".join(dict.fromkeys(guard["refused"]))

    guard["on"] = True
    # In the notebook's order, as the kernel ran it: an exercise sees the cells above its test
    # cell only (what a later cell replaces does not spoil an earlier answer).
    for check, name, seed, at in sorted(request["exercises"], key=lambda e: e[3]):
        before = tasks()
        while pending and pending[0][0] < at:
            index, statements, solution, error = pending.pop(0)
            say("", True, f"cell:{index}")
            if error and solution:
                failures.append(f"SyntaxError: {error}")
            for statement in statements:  # one at a time: an error spoils only its own statement
                try:
                    code = compile(ast.Module([statement], []), f"<ipython-input-{index}-graded>", "exec")
                    exec(code, namespace)  # noqa: S102
                except BaseException as err:  # noqa: BLE001 (the student's code: any error is recorded)
                    if solution:
                        failures.append(f"{type(err).__name__}: {err}")
        started_by_cells += tasks() - before
        say("", True, f"grade:{name}")
        mask(block, signals)  # no signal is delivered to this thread while it grades
        del callbacks[:]  # (a gc callback would run the notebook's code inside the grader's)
        if what := unfit(started_by_cells):
            say(name, False, f"{name} 不能评分：笔记本的代码在独立评分进程里{what}。本题 0 分。")
            continue
        before, ours = tasks(), started[0]
        try:
            grade(check, name, namespace, seed=seed)
            passed, message = True, ""
        except error_type as err:
            passed, message = False, str(err)
        except BaseException as err:  # noqa: BLE001
            passed, message = False, f"{name} 在独立评分进程里出错：{type(err).__name__}: {err}。本题 0 分。"
        if passed and (what := unfit(tasks() - before - (started[0] - ours))):
            passed, message = False, f"{name} 在评分时{what}。本题 0 分。"
        if not passed and failures and name not in namespace:
            message += "（答案单元格出错：" + "；".join(failures[:3]) + "）"
        say(name, passed, message)
    leave(0)


if __name__ == "__main__":
    main()
