"""The kernel registry: names, lookups and their errors, the variants each kernel must have,
and the GILBENCH_NO_EXTENSIONS switch (compiled variants off, pure Python still running)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gilbench import kernels
from gilbench.kernels import UnknownNameError, Variant, VariantUnavailable, load_extension
from gilbench.kernels._base import NO_EXTENSIONS_ENV

# The display order reports use; adding a kernel means adding it here too, on purpose.
DISPLAY_ORDER = ["primes", "mandelbrot", "montecarlo", "stream", "checksum", "sleep", "echo"]
COMPILED = ("cython-gil", "cython-nogil")


def test_names_in_display_order() -> None:
    assert kernels.names() == DISPLAY_ORDER
    assert [k.name for k in kernels.all_kernels()] == kernels.names()
    assert all(kernels.get(name).name == name for name in kernels.names())


def test_names_returns_a_copy() -> None:
    kernels.names().append("mutated")
    assert "mutated" not in kernels.names()


def test_unknown_kernel_lists_every_valid_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        kernels.get("nope")
    exc = info.value
    assert isinstance(exc, KeyError)  # callers may catch it as a failed lookup
    assert exc.name == "nope" and exc.valid == kernels.names()
    message = str(exc)
    assert "'nope'" in message
    assert all(name in message for name in kernels.names())
    assert not message.startswith(("'", '"'))  # not KeyError's repr() of the message


def test_unknown_variant_lists_every_valid_variant(kernel) -> None:
    with pytest.raises(UnknownNameError) as info:
        kernel.variant("nope")
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert "'nope'" in message and kernel.name in message
    assert all(name in message for name in kernel.variant_names)


def test_every_kernel_has_an_available_python_reference_first(kernel) -> None:
    assert kernel.variant_names[0] == "python"
    assert kernel.variant("python").available
    names = kernel.variant_names
    assert len(set(names)) == len(names)
    # variant names come from the known set, in its display order
    assert names == [v for v in kernels.VARIANT_ORDER if v in names]


def test_every_cpu_kernel_has_the_compiled_pair_with_honest_claims() -> None:
    cpu_kernels = [k for k in kernels.all_kernels() if k.kind != "io"]
    assert cpu_kernels
    for kernel in cpu_kernels:
        assert set(COMPILED) <= set(kernel.variant_names), kernel.name
        assert kernel.variant("cython-gil").releases_gil is False  # the control
        assert kernel.variant("cython-nogil").releases_gil is True
        assert kernel.variant("python").releases_gil is False
        for name in ("numpy", "stdlib"):
            if name in kernel.variant_names:
                assert kernel.variant(name).releases_gil is True, (kernel.name, name)


def test_kernel_declarations_are_consistent(kernel) -> None:
    assert kernel.kind in ("cpu", "memory", "io")
    assert kernel.description and kernel.unit
    assert 1 <= kernel.min_size <= kernel.verify_size <= kernel.default_size
    assert kernel.rel_tol >= 0
    for v in kernel.variants:
        assert v.available == (v.fn is not None)
        assert v.available or v.reason, f"{v.name} is unavailable without saying why"


def test_calling_an_unavailable_variant_says_why() -> None:
    v = Variant("cython-gil", None, releases_gil=False, reason="extension not built here")
    assert not v.available
    with pytest.raises(VariantUnavailable, match="extension not built here"):
        v((3, 10, 2))


def test_load_extension_honours_the_switch(monkeypatch) -> None:
    monkeypatch.setenv(NO_EXTENSIONS_ENV, "1")
    module, why = load_extension("gilbench.kernels._primes_c")
    assert module is None and NO_EXTENSIONS_ENV in why


def test_load_extension_explains_a_missing_module(monkeypatch) -> None:
    monkeypatch.delenv(NO_EXTENSIONS_ENV, raising=False)
    module, why = load_extension("gilbench.kernels._no_such_module_c")
    assert module is None and "_no_such_module_c" in why and "not importable" in why


# In a fresh interpreter with the switch on: what every variant says, the python results,
# and the error from calling a compiled variant.
NO_EXTENSIONS_SCRIPT = r"""
import json
from gilbench import host, kernels
out = {"variants": {}, "results": {}}
for k in kernels.all_kernels():
    out["variants"][k.name] = {v.name: [v.available, v.reason] for v in k.variants}
    out["results"][k.name] = k.run("python", k.verify_size, 3)
try:
    kernels.get("primes").variant("cython-nogil")((3, 100, 2))
except kernels.VariantUnavailable as exc:
    out["call_error"] = str(exc)
out["extension_build"] = host.extension_build()
print(json.dumps(out))
"""


def test_no_extensions_switch_in_a_subprocess() -> None:
    env = {**os.environ, NO_EXTENSIONS_ENV: "1"}
    proc = subprocess.run([sys.executable, "-c", NO_EXTENSIONS_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)

    for kernel_name, variants in out["variants"].items():
        for variant_name, (available, reason) in variants.items():
            if variant_name.startswith("cython-"):
                assert not available, f"{kernel_name}-{variant_name} still available"
                assert NO_EXTENSIONS_ENV in reason
            else:  # python, numpy and stdlib are not compiled extensions
                assert available, f"{kernel_name}-{variant_name}: {reason}"
    assert "unavailable" in out["call_error"] and NO_EXTENSIONS_ENV in out["call_error"]
    assert out["extension_build"]["compiled"] is False
    assert NO_EXTENSIONS_ENV in out["extension_build"]["reason"]

    # the pure-Python variants still run, and give what they give with the extensions on
    for k in kernels.all_kernels():
        assert k.agrees(out["results"][k.name], k.run("python", k.verify_size, 3)), k.name
