"""The steps of the streaming flow as plain objects (no Bytewax here): per-partition checks, per-shard state
updates and what they emit. ``pipelines/`` wires them into Bytewax operators."""
