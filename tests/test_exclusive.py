"""The machine-wide lock: a timing never overlaps other work, and busy workers cannot starve it."""

import threading
import time

from autocompress.evaluators.exclusive import MachineLock

GIVE_UP_SECONDS = 10.0


def test_waiting_timing_is_not_starved_by_overlapping_workers(tmp_path):
    lock = MachineLock(tmp_path / "measure.lock")
    timed = threading.Event()
    inside, overlaps = [0], []
    guard = threading.Lock()

    def worker() -> None:
        # Four of these keep the shared lock held all the time, as busy search workers do.
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while not timed.is_set() and time.monotonic() < deadline:
            with lock.shared():
                with guard:
                    inside[0] += 1
                time.sleep(0.05)
                with guard:
                    inside[0] -= 1

    def timing() -> None:
        time.sleep(0.2)
        with lock.exclusive():
            with guard:
                overlaps.append(inside[0])
            timed.set()

    workers = [threading.Thread(target=worker) for _ in range(4)]
    threads = [*workers, threading.Thread(target=timing)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert timed.is_set() and time.monotonic() - started < GIVE_UP_SECONDS
    assert overlaps == [0]
