from __future__ import annotations

import pytest

from vitals.catalog import Catalog
from vitals.readings import ReadingParser


@pytest.fixture(scope="session")
def parser(catalog: Catalog) -> ReadingParser:
    return ReadingParser(catalog)
