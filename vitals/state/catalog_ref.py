"""Pickling the catalog of a shard state cheaply: by value, but serialized once per process and shared back.

A shard state pickles its catalog with it, so a Bytewax recovery snapshot restores in a fresh process with no
other setup. Pickling the catalog object itself costs about 2 ms and unpickling it again as much, per shard
and per snapshot; instead :func:`catalog_payload` pickles each catalog object once and keeps the bytes (about
130 KB for the full city), so a snapshot only copies them, and :func:`restore_catalog` hands every shard
restored from the same bytes the same :class:`~vitals.catalog.model.Catalog` object (and the derived arrays
built from it stay shared too).
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import weakref

from vitals.catalog.model import Catalog
from vitals.errors import StateError

_PAYLOADS: weakref.WeakKeyDictionary[Catalog, tuple[str, bytes]] = weakref.WeakKeyDictionary()
_RESTORED: weakref.WeakValueDictionary[str, Catalog] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()


def catalog_payload(catalog: Catalog) -> tuple[str, bytes]:
    """(digest, pickled bytes) of a catalog, computed once per catalog object."""
    with _LOCK:
        found = _PAYLOADS.get(catalog)
        if found is None:
            data = pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL)
            found = (hashlib.sha256(data).hexdigest(), data)
            _PAYLOADS[catalog] = found
            _RESTORED.setdefault(found[0], catalog)
        return found


def restore_catalog(digest: str, data: bytes) -> Catalog:
    """The catalog pickled as ``data``: the object already restored (or pickled) in this process if any."""
    with _LOCK:
        found = _RESTORED.get(digest)
        if found is not None:
            return found
        catalog = pickle.loads(data)
        if not isinstance(catalog, Catalog):
            msg = f"a shard snapshot holds a {type(catalog).__name__} where its catalog should be"
            raise StateError(msg)
        _RESTORED[digest] = catalog
        _PAYLOADS[catalog] = (digest, data)
        return catalog
