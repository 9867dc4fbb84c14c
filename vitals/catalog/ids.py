"""Ids people type on the command line (``--indicator``, ``--district``, ``--street``, ``--domain``), checked
against the catalog: one line naming the first unknown one and the nearest known ids."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

from vitals.catalog.model import Catalog
from vitals.errors import ConfigError

IdKind = Literal["indicator", "district", "street", "domain"]


def split_ids(text: str | None) -> list[str]:
    """``a, b,c`` -> ``[a, b, c]``; empty parts dropped; None -> []."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def check_ids(catalog: Catalog, kind: IdKind, ids: Sequence[str], option: str | None = None) -> list[str]:
    """``ids``, each one of the catalog's ``kind``; one line naming the first that is not, with the nearest ids."""
    known: Sequence[str] = {
        "indicator": lambda: list(catalog.indicator_index), "district": lambda: list(catalog.district_index),
        "street": lambda: list(catalog.street_index), "domain": lambda: list(catalog.domain_names),
    }[kind]()
    wanted = set(known)
    for ident in ids:
        if ident not in wanted:
            near = difflib.get_close_matches(ident, list(known), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else "; `vitals catalog show` lists them"
            msg = f"{option or '--' + kind} {ident!r} is not one of the catalog's {kind} ids ({catalog.source}){hint}"
            raise ConfigError(msg)
    return list(ids)
