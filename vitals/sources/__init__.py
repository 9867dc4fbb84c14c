"""Sources of readings, independent of Bytewax: each yields :class:`SourceBatch` items from a resumable
position. ``pipelines/connectors.py`` wraps them as Bytewax sources."""
