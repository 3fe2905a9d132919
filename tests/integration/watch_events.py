"""The one way the integration tests record what objects go through while a run works: API watches in threads.

`recorded(streams, run)` starts one watch per stream, calls `run()`, and returns its result with the events the
streams' handlers made of what the API sent, in order. A stream is (list function, its arguments, handler); the
handler gets each watch event and returns a (kind, value) pair to record, or None. A pair equal to the last one
recorded of its kind is not recorded again; a watch starts with the objects as they are (ADDED events).
"""

from __future__ import annotations

import threading


def recorded(streams, run):
    """(run's result, [(kind, value), ...]); a watch that failed fails the test."""
    from kubernetes import watch

    events, errors, stop = [], [], threading.Event()
    lock = threading.Lock()

    def record(pair):
        with lock:
            if [event for event in events if event[0] == pair[0]][-1:] != [pair]:
                events.append(pair)

    def follow(func, args, handler):
        stream = watch.Watch()
        try:
            for event in stream.stream(func, *args, timeout_seconds=600):
                pair = handler(event)
                if pair is not None:
                    record(pair)
                if stop.is_set():
                    break
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            stream.stop()

    for func, args, handler in streams:
        threading.Thread(target=follow, args=(func, args, handler), daemon=True).start()
    try:
        result = run()
    finally:
        stop.set()
    assert not errors, errors
    with lock:
        return result, list(events)
