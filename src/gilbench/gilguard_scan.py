"""Which installed extension modules would turn the GIL back on? (``gilbench info`` on a
free-threaded build.)

Whether an extension module declares free-threading support is decided when it loads; it
cannot be read from the file. Importing them in gilbench's own process would turn its GIL on
for good, so ``scan(modules)`` imports them in child processes of the same interpreter, one
after another under ``gilguard.guard()``, with PYTHON_GIL unset (the default behaviour). Once a
module turns a child's GIL on, that child cannot judge any other, so it reports the culprit and
ends, and the next child goes on with the rest. The whole scan has a time budget: what it could
not check in time is listed, not guessed.

``scan_dependencies()`` checks the extension modules of gilbench and of the distributions it
depends on (recursively, extras included when installed) and names the other installed
distributions that have extension modules, which it did not check.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Sequence

from gilbench import gilguard
from gilbench.errors import one_line

#: seconds ``gilbench info`` gives the scan of gilbench's dependencies
DEFAULT_BUDGET_S = 15.0
#: child processes at most (each one after a culprit); the rest is reported unchecked
MAX_CHILDREN = 25
#: the child's lines on stdout start with this (an imported module may print too)
_TAG = "gilguard-scan "


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependencies(root: str = "gilbench") -> list[str]:
    """``root`` and the installed distributions it requires, recursively (extras' requirements
    too, when installed), in the order found; uninstalled ones are left out."""
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop(0)
        key = _normalise(name)
        if key in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        seen[key] = dist.metadata["Name"] or name
        for requirement in dist.requires or []:
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match:
                todo.append(match.group(1))
    return list(seen.values())


def extension_modules(distribution: str) -> list[tuple[str, str]]:
    """(module name, file) of each extension module a distribution installed, by its file
    list (RECORD): files with an extension-module suffix whose path is a dotted name (shared
    libraries in ``*.libs`` folders are not modules)."""
    try:
        files = importlib.metadata.distribution(distribution).files or []
    except importlib.metadata.PackageNotFoundError:
        return []
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    found = []
    for file in files:
        text = str(file).replace("\\", "/")
        suffix = next((s for s in suffixes if text.endswith(s)), None)
        if suffix is None or text.startswith("../"):
            continue
        parts = text[:-len(suffix)].split("/")
        if all(part.isidentifier() for part in parts):
            found.append((".".join(parts), str(file.locate())))
    return sorted(found)


def distributions_with_extensions(exclude: Sequence[str] = ()) -> list[str]:
    """Installed distributions that have extension modules, but for ``exclude``."""
    skip = {_normalise(n) for n in exclude}
    names = {dist.metadata["Name"] for dist in importlib.metadata.distributions()
             if dist.metadata["Name"]}
    return sorted((n for n in names if _normalise(n) not in skip and extension_modules(n)),
                  key=str.lower)


def _run_child(python: str, modules: list[str], path: Sequence[str],
               timeout_s: float) -> tuple[list[dict], str | None]:
    """One child over ``modules``: its reports, and why it ended early (None if it did not)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    request = json.dumps({"modules": modules, "path": list(path)})
    command = [python, "-P", "-c", "from gilbench.gilguard_scan import _child; _child()"]
    try:
        proc = subprocess.run(command, input=request, capture_output=True, text=True,
                              timeout=timeout_s, env=env)
        out, ended = proc.stdout, (None if proc.returncode == 0
                                   else f"the child exited with status {proc.returncode}")
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or ""
        out = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        ended = f"timed out after {timeout_s:.1f} s"
    reports = [json.loads(line[len(_TAG):]) for line in out.splitlines()
               if line.startswith(_TAG)]
    return reports, ended


def scan(modules: Sequence[str], *, python: str | None = None, path: Sequence[str] = (),
         budget_s: float = DEFAULT_BUDGET_S) -> dict[str, Any]:
    """Import each of ``modules`` in child processes of ``python`` (default: this one), with
    ``path`` put first on their sys.path; within ``budget_s`` seconds in all.

    Returns ``reenable`` (one ``Culprit.as_dict()`` per module that turns the GIL on),
    ``via`` (module -> the culprit its import loaded first: not judged alone), ``ok``,
    ``failed`` (module -> why it did not import), ``unchecked`` (no time left), ``seconds``
    and ``children``."""
    python = python or sys.executable
    remaining = list(dict.fromkeys(modules))
    ok: list[str] = []
    failed: dict[str, str] = {}
    culprits: dict[str, dict] = {}
    via: dict[str, str] = {}
    started = time.monotonic()
    children = 0
    while remaining and children < MAX_CHILDREN:
        left = budget_s - (time.monotonic() - started)
        if left <= 0.1:
            break
        children += 1
        reports, ended = _run_child(python, remaining, path, left)
        current = None
        for report in reports:
            if "start" in report:
                current = report["start"]
                continue
            name, current = report["module"], None
            if name in remaining:
                remaining.remove(name)
            if "error" in report:
                failed[name] = report["error"]
            elif "culprit" in report:
                found = report["culprit"]
                culprits.setdefault(found["module"], found)
                if found["module"] != name:
                    via[name] = found["module"]
                if found["module"] in remaining:
                    remaining.remove(found["module"])
            else:
                ok.append(name)
        if ended is not None and current is not None:
            if ended.startswith("timed out"):
                break  # the budget is spent: the rest stays unchecked
            failed[current] = f"importing it ended the child process ({ended})"
            remaining.remove(current)
    return {"reenable": list(culprits.values()), "via": via, "ok": ok, "failed": failed,
            "unchecked": remaining, "seconds": time.monotonic() - started,
            "children": children}


def scan_dependencies(budget_s: float = DEFAULT_BUDGET_S) -> dict[str, Any]:
    """``scan`` of the extension modules of gilbench and its installed dependencies, plus
    ``distributions`` (those checked: name -> number of extension modules), ``owner`` (module
    -> distribution) and ``not_checked`` (other installed distributions with extension
    modules)."""
    dists = dependencies("gilbench")
    owner: dict[str, str] = {}
    counts: dict[str, int] = {}
    for dist in dists:
        found = extension_modules(dist)
        counts[dist] = len(found)
        for module, _ in found:
            owner.setdefault(module, dist)
    result = scan(list(owner), budget_s=budget_s)
    result.update(distributions=counts, owner=owner,
                  not_checked=distributions_with_extensions(exclude=dists))
    return result


def _say(**report: Any) -> None:
    sys.stdout.write(_TAG + json.dumps(report) + "\n")
    sys.stdout.flush()


def _child() -> None:
    """In the child: import the requested modules one by one under the guard; report each,
    and stop at the first that turns the GIL on (no later one could be judged)."""
    request = json.loads(sys.stdin.read())
    sys.path[:0] = request["path"]
    for name in request["modules"]:
        if gilguard.gil_on():  # on before any of ours: nothing here can be judged
            break
        _say(start=name)
        try:
            _, culprit = gilguard.import_module(name)
        except BaseException as exc:  # a module's import may raise anything, even SystemExit
            _say(module=name, error=one_line(exc, line="last"))
            continue
        if culprit is not None:
            _say(module=name, culprit=culprit.as_dict())
            return
        _say(module=name, ok=True)
