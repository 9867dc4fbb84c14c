"""The detectors sit below the flow's scoring: no module of vitals.detectors imports vitals.scoring (each module
imported alone in a fresh interpreter, so an import cycle cannot hide behind import order)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import vitals.detectors

MODULES = sorted(m.name for m in pkgutil.iter_modules(vitals.detectors.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_detector_module_imports_alone_without_the_scoring_layer(name: str) -> None:
    code = (f"import sys, vitals.detectors.{name}; "
            "bad = sorted(k for k in sys.modules if k.startswith(('vitals.scoring', 'pipelines'))); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
