"""The executor's rooms: decision inputs, the trade lifecycle, outcomes and restart recovery, used by
engine/workers/executor.py (which keeps the message handlers, the queue and the dispatch)."""
