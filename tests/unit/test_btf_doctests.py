"""The examples in pybpf.btf's docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = ["pybpf.btf", "pybpf.btf.container", "pybpf.btf.values"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name != "pybpf.btf.values" and not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("the example reads the kernel's BTF, and this kernel has none")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
