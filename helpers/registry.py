"""One registry for every explanation method: CAM methods and pixel attributions alike.

A method is a plain ``def`` in its family's folder, registered by one decorator::

    from ..registry import register

    @register("eigen_cam", family="cam", label="Eigen-CAM", needs_layer=True)
    def eigen_cam(model, layer, x, class_idx=None, *, reshape=None) -> Explanation: ...

A CAM method (``family="cam"``) has the signature ``(model, layer, x, class_idx=None,
**options)``, an attribution (``family="attribution"``) ``(model, x, class_idx=None,
**options)`` (``layer=`` a keyword when ``needs_layer``). Both return a
:class:`helpers.explanation.Explanation`. The module must be imported by its package's
``__init__`` so that the decorator runs on ``import helpers``.

:func:`get` is the one look-up: an unknown name raises :class:`UnknownMethodError`,
which lists the known names. ``helpers.cam.METHODS`` and
``helpers.attribution.ATTRIBUTIONS`` are :class:`FamilyView` s of this one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace

FAMILIES = ("cam", "attribution")
_TITLES = {"cam": "CAM", "attribution": "attribution"}


class UnknownMethodError(KeyError, ValueError):
    """An unknown method name; the message lists the known ones.

    A ``KeyError`` (a registry is a mapping) and a ``ValueError`` (a bad argument), so
    callers that caught either before the registries merged still catch it.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry:
    """One registered method.

    Attributes:
        name: the key (``"grad_cam"``), also the result's ``method``.
        fn: the function.
        family: ``"cam"`` or ``"attribution"``.
        label: the name for menus and legends (``"Grad-CAM++"``).
        needs_layer: whether the method needs a target layer.
        uses_class: whether the class changes the map (Eigen-CAM: no).
    """

    name: str
    fn: Callable
    family: str
    label: str
    needs_layer: bool
    uses_class: bool = True


_ENTRIES: dict[str, Entry] = {}


def register(name: str, *, family: str, label: str | None = None, needs_layer: bool | None = None,
             uses_class: bool = True) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as the method ``name``; returns ``fn`` unchanged.

    Args:
        name: a new name (a second registration under the same name is an error).
        family: one of :data:`FAMILIES`.
        label: the menu label; the name by default.
        needs_layer: ``True`` by default for a CAM method, ``False`` for an attribution.
        uses_class: ``False`` for a method whose map does not depend on the class.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")

    def add(fn: Callable) -> Callable:
        if name in _ENTRIES:
            raise ValueError(f"a method named {name!r} is already registered")
        layer = family == "cam" if needs_layer is None else needs_layer
        _ENTRIES[name] = Entry(name, fn, family, label or name, layer, uses_class)
        return fn

    return add


def unregister(name: str) -> None:
    """Remove ``name`` (for tests that register a throw-away method)."""
    get(name)
    del _ENTRIES[name]


def get(name: str) -> Entry:
    """The entry of ``name``; :class:`UnknownMethodError` listing the known names otherwise."""
    try:
        return _ENTRIES[name]
    except (KeyError, TypeError):
        raise UnknownMethodError(f"unknown method {name!r}; known: {', '.join(_ENTRIES)}") from None


def entries(family: str | None = None) -> list[Entry]:
    """Every entry (of one family), in registration order."""
    return [e for e in _ENTRIES.values() if family in (None, e.family)]


def explain(name: str, model: object, x: object, class_idx: object = None, *,
            layer: object = None, **options: object) -> object:
    """Run the method ``name`` with one signature for both families.

    ``layer`` is passed as the CAM family's second argument, or as the keyword ``layer``
    to an attribution that ``needs_layer``; it is ignored otherwise.

    Shapes:
        x: ``(N, 3, H, W)``; returns an :class:`helpers.explanation.Explanation`.
    """
    entry = get(name)
    if entry.needs_layer and layer is None:
        raise ValueError(f"{name} needs a layer: pass layer=")
    if entry.family == "cam":
        return entry.fn(model, layer, x, class_idx, **options)
    if entry.needs_layer:
        options["layer"] = layer
    return entry.fn(model, x, class_idx, **options)


def label(name: str) -> str:
    """The menu label of ``name``."""
    return get(name).label


class FamilyView(MutableMapping):
    """The methods of one family as ``name -> function``, a live view of the registry.

    Reading an unknown name raises :class:`UnknownMethodError` naming the family's
    methods. Setting a name replaces an entry's function (``monkeypatch.setitem`` in
    tests) or registers a new one with the family's defaults.
    """

    def __init__(self, family: str) -> None:
        self.family = family

    def __getitem__(self, name: str) -> Callable:
        entry = _ENTRIES.get(name) if isinstance(name, str) else None
        if entry is None or entry.family != self.family:
            known = ", ".join(self)
            raise UnknownMethodError(f"unknown {_TITLES[self.family]} method {name!r}; known: {known}")
        return entry.fn

    def __setitem__(self, name: str, fn: Callable) -> None:
        if name in _ENTRIES:
            _ENTRIES[name] = replace(_ENTRIES[name], fn=fn)
        else:
            register(name, family=self.family)(fn)

    def __delitem__(self, name: str) -> None:
        self[name]  # the family's error for an unknown name
        del _ENTRIES[name]

    def __iter__(self) -> Iterator[str]:
        return iter([e.name for e in entries(self.family)])

    def __len__(self) -> int:
        return len(entries(self.family))

    def __repr__(self) -> str:
        return f"FamilyView({self.family!r}: {', '.join(self)})"
