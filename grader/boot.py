"""The hidden test's loader: the grader and the checks afresh from their files, on checked builtins.

The hidden test cell of every autograded exercise (``scripts/make_assignments.py``,
:func:`make_assignments.hidden_test`) reaches the interpreter's own builtins and
``_io.FileIO`` through syntax and the interpreter's immutable types alone (no
name a notebook can rebind, no ``sys.modules``), reads this file with them and
calls :func:`run`. :func:`run` keeps only the builtins that are the
interpreter's own (a replaced one is an error), loads ``grader`` and
``helpers.exercises`` from their files into module objects that are not in
``sys.modules`` (their relative imports are served from the same files), and
calls that fresh :func:`grader.grading.grade`. A notebook that replaced the
grader's functions, ``sys.modules['grader']``, the import machinery or builtins
is therefore graded by the real grader.

Limits (the hidden test runs in the student's kernel): code that edits the
interpreter's memory (``ctypes``), a trace function that rewrites this loader's
variables between its lines, or an IPython input transformer that rewrites the
hidden cell itself is not stopped here: autograde's second verdict, from a process
of its own (:mod:`grader.isolated`), is (docs/teaching.md).

This file runs with the builtins the cell checked for ``compile`` and ``exec``
only, so :func:`_clean` uses syntax and the interpreter's types alone, and every
function after it is defined on the cleaned builtins.
"""

# No imports above _clean: an import would run the notebook's __import__.


def _clean(given):
    """The builtins that are the interpreter's own (C functions under their own names, its own types).

    Raises:
        AssertionError: a builtin the grader uses was replaced or removed.
    """
    o = ().__class__.__base__
    t = o.__dict__["__class__"].__get__  # type(x), whatever the notebook rebound
    ty, bfm, st = t(o), t([].append), t("")
    flags, tname = ty.__dict__["__flags__"].__get__, ty.__dict__["__name__"].__get__
    plain = (t(True), t(...), t(o.__dict__["__eq__"](o, 1)), st)  # bools, ..., NotImplemented, str
    home = given["exec"].__self__  # the builtins module (checked by the cell)
    keep, bad = {}, []
    for k, v in given.items():
        if k is None or t(k) is not st:  # (t(None) is an error)
            bad.append("(a key that is not a str)")
        elif v is None:
            keep[k] = v
        elif t(v) is bfm:
            if v.__name__ == k and (v.__self__ is home or k == "open" and v.__self__.__name__ == "io"):
                keep[k] = v
            else:
                bad.append(k)
        elif t(v) is ty and flags(v) & 256:  # an immutable (C) type
            if tname(v) == k or given.get(tname(v), k) is v:  # its name, or an alias (IOError)
                keep[k] = v
            else:
                bad.append(k)
        elif t(v) in plain:
            keep[k] = v
        # anything else (ipykernel's execfile, IPython's display, a notebook's function) is left
        # out: grader code that used it would fail, never pass; the names it needs are listed below
    for k in ("__import__", "__build_class__", "isinstance", "issubclass", "len", "getattr", "setattr",
              "hasattr", "type", "callable", "print", "open", "compile", "exec", "id", "iter", "next",
              "range", "list", "dict", "set", "frozenset", "str", "int", "float", "bool", "tuple", "object",
              "super", "vars", "repr", "any", "all", "sorted", "min", "max", "sum", "abs", "round", "zip",
              "enumerate", "map", "property", "staticmethod", "classmethod", "BaseException", "Exception",
              "AssertionError", "RuntimeError", "TypeError", "ValueError", "KeyError", "ImportError"):
        if k not in keep and k not in bad:
            bad.append(k)
    assert not bad, f"笔记本替换或删除了内置函数（{', '.join(bad[:8])}），评分无法信任这个内核。本题 0 分。"
    return keep


__builtins__ = _clean(__builtins__)  # every function below looks builtins up here


class Fresh:
    """Packages executed afresh from their files, in module objects that ``sys.modules`` never sees.

    Args:
        root: the folder that holds the packages (the project root).
        packages: top-level package names served from ``root`` (others: the interpreter's import).
        read: reads a file's bytes (the cell's ``_io.FileIO``).
    """

    def __init__(self, root: str, packages: tuple[str, ...], read) -> None:
        self.root, self.packages, self.read = root, packages, read
        self.modules: dict = {}
        self.builtins = dict(__builtins__, __import__=self.importer)
        self.outer = __builtins__["__import__"]
        self.module_type = type(__builtins__["exec"].__self__)
        self.prefix = f"_ch9_fresh_{id(self):x}."  # the modules' __name__ (their classes' __module__)
        system = self.outer("sys")
        # dataclasses looks a class's module up in sys.modules while the module runs: a plain
        # dict of the interpreter's own sys (no notebook code runs when it is read or written)
        assert (type(system.getprofile) is type(len) and system.getprofile.__self__ is system
                and type(system.modules) is dict), "笔记本替换了 sys 或 sys.modules。本题 0 分。"
        self.registry = system.modules

    def _file(self, name: str) -> tuple[str, bool]:
        base = self.root + "/" + name.replace(".", "/")
        for path, package in ((base + "/__init__.py", True), (base + ".py", False)):
            try:
                self.read(path, probe=True)
                return path, package
            except OSError:
                pass
        raise ImportError(f"no module named {name!r} under {self.root}")

    def load(self, name: str):
        """The module ``name`` (its parents first), executed once from its file."""
        if name in self.modules:
            return self.modules[name]
        parent, _, leaf = name.rpartition(".")
        if parent:
            self.load(parent)
        path, package = self._file(name)
        module = self.module_type(self.prefix + name)
        module.__file__ = path
        module.__package__ = name if package else parent
        if package:
            module.__path__ = [path.rpartition("/")[0]]
        module.__dict__["__builtins__"] = self.builtins
        self.modules[name] = module
        code = compile(self.read(path), path, "exec")
        self.registry[module.__name__] = module
        try:
            exec(code, module.__dict__)  # noqa: S102 (the grader's own files)
        finally:
            self.registry.pop(module.__name__, None)
        if parent:
            setattr(self.modules[parent], leaf, module)
        return module

    def importer(self, name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        """``__import__`` for the fresh modules: their packages from the files, the rest as usual."""
        if level:
            base = (globals or {}).get("__package__") or ""
            for _ in range(level - 1):
                base = base.rpartition(".")[0]
            full = base + ("." + name if name else "")
        elif name.partition(".")[0] in self.packages:
            full = name
        else:
            return self.outer(name, globals, locals, fromlist, level)
        module = self.load(full)
        if not fromlist:
            return module if level else self.load(full.partition(".")[0])
        for item in fromlist:
            if item != "*" and not hasattr(module, item):
                try:
                    self.load(full + "." + item)
                except ImportError:
                    pass
        return module


def run(folder: str, check: str, name: str, namespace: dict, fileio) -> None:
    """Grade ``namespace[name]`` with a fresh grader (see the module docstring).

    Args:
        folder: the ``grader`` folder (its parent holds ``helpers``).
        check, name, namespace: as :func:`grader.grading.grade` takes them.
        fileio: ``_io.FileIO``, as the cell found it.
    """

    def read(path: str, probe: bool = False) -> bytes:
        with fileio(path) as fh:
            return b"" if probe else fh.readall()

    root = folder.rpartition("/")[0]
    fresh = Fresh(root, ("grader", "helpers"), read)
    grading = fresh.load("grader.grading")
    grading.use_fresh(fresh)
    grading.grade(check, name, namespace)
