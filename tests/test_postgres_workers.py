"""Workers sharing one study in a real PostgreSQL server: started together on a new database,
killed mid-trial, and cut off by a database restart. Each worker is a real `autocompress search`
process; the server is a real PostgreSQL cluster started by the test session."""

import os
import signal
import subprocess
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState
from postgres_server import PostgresServer, find_bin_dir
from test_search import _search_command, _write_config, tiny_config

from autocompress.study.lifecycle import load_existing_study
from autocompress.study.storage import make_storage
from autocompress.study.workers import counted_trials


@pytest.fixture(scope="module")
def postgres():
    bin_dir = find_bin_dir()
    if bin_dir is None:  # `make test` installs it; a missing server is a failure, not a skip
        pytest.fail("no PostgreSQL server binaries (pg_ctl); `make test` installs them")
    server = PostgresServer.start(bin_dir)
    yield server
    server.close()


def _workers(config_file, run_dir, url, count, *extra, stdout=subprocess.DEVNULL, env=None):
    command = _search_command(config_file, run_dir, "--storage", url, *extra)
    return [
        subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env)
        for _ in range(count)
    ]


def _read_lines(stream, into: list[str]) -> threading.Thread:
    """Append the lines of ``stream`` to ``into`` as they come, in a thread."""

    def read():
        for line in iter(stream.readline, b""):
            into.append(line.decode())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _finish(workers, timeout=420):
    errors = []
    for worker in workers:
        _, err = worker.communicate(timeout=timeout)
        errors.append((worker.returncode, err.decode()))
    return errors


def _study(url, name, tmp_path):
    return load_existing_study(name, url, tmp_path)


def _speed_only(tiny_set, name, trials):
    return tiny_config(tiny_set, name, trials=trials, objectives=("latency", "size"))


def _assert_settled(study, total):
    trials = study.get_trials(deepcopy=False)
    assert counted_trials(trials) == total
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len([t for t in complete if t.user_attrs.get("baseline")]) == 1


def test_three_workers_started_together_on_a_new_database(postgres, tiny_set, tmp_path):
    config = _speed_only(tiny_set, "together", trials=7)
    url = postgres.new_database()
    workers = _workers(_write_config(config, tmp_path / "s.yaml"), tmp_path, url, 3)
    for code, err in _finish(workers):
        assert code == 0, err
        assert "Traceback" not in err
    study = _study(url, "together", tmp_path)
    _assert_settled(study, 7)
    assert len({t.user_attrs["worker"] for t in study.trials if "worker" in t.user_attrs}) == 3
    warm = [sorted(t.params.items()) for t in study.trials if t.user_attrs.get("warm_start")]
    assert warm and len({str(p) for p in warm}) == len(warm)  # queued once, by one worker


def _running_trial_of(storage, name, pid, deadline):
    while time.monotonic() < deadline:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:  # not created yet
            time.sleep(0.2)
            continue
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            mine = trial.user_attrs.get("worker", "").endswith(f":{pid}")
            if trial.number > 0 and mine and "pipeline" in trial.user_attrs:
                return study, trial.number
        time.sleep(0.1)
    raise AssertionError(f"worker {pid} never ran a trial")


def test_worker_killed_mid_trial_loses_nothing(postgres, tiny_set, tmp_path):
    """The killed worker's trial is failed (its heartbeat stale, or its process seen gone) and
    run again by the survivor: nothing stays RUNNING, every finished trial is kept, the total
    is exact."""
    config = _speed_only(tiny_set, "killed", trials=8)
    url = postgres.new_database()
    config_file = _write_config(config, tmp_path / "k.yaml")
    storage = make_storage(url, tmp_path)
    victim, survivor = _workers(config_file, tmp_path, url, 2, "--heartbeat-seconds", "1")
    study, number = _running_trial_of(storage, "killed", victim.pid, time.monotonic() + 240)
    finished_before = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    [(code, err)] = _finish([survivor])
    assert code == 0, err

    study = _study(url, "killed", tmp_path)
    _assert_settled(study, 8)
    trials = study.trials
    assert trials[number].state == TrialState.FAIL
    # Retried by the heartbeat (another machine's way) or, on this machine, as soon as the
    # survivor sees the victim's process gone, whichever comes first.
    retried = [
        t
        for t in trials
        if number in (t.system_attrs.get("failed_trial"), t.user_attrs.get("retry_of"))
    ]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == trials[number].params  # the same pipeline, measured again
    assert all(trials[n].values == values for n, values in finished_before.items())


def test_database_restart_under_running_workers(postgres, tiny_set, tmp_path):
    config = _speed_only(tiny_set, "restart", trials=10)
    url = postgres.new_database()
    storage = make_storage(url, tmp_path)
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # their lines as they print them
    workers = _workers(
        _write_config(config, tmp_path / "r.yaml"),
        tmp_path,
        url,
        2,
        stdout=subprocess.PIPE,
        env=unbuffered,
    )
    outputs = [[] for _ in workers]
    errors = [[] for _ in workers]
    readers = [_read_lines(w.stdout, out) for w, out in zip(workers, outputs, strict=True)]
    readers += [_read_lines(w.stderr, err) for w, err in zip(workers, errors, strict=True)]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            study = optuna.load_study(study_name="restart", storage=storage)
            complete = study.get_trials(states=(TrialState.COMPLETE,))
        except KeyError:
            complete = []
        if len(complete) >= 2:
            break
        time.sleep(0.2)
    finished_before = {t.number: t.values for t in complete}
    assert len(finished_before) >= 2, "workers never finished two trials"

    def reported(marker: str) -> list[str]:
        return ["".join(out) for out in outputs if marker in "".join(out)]

    postgres.halt()
    # The database stays down until a worker says it met the outage (runner: "storage
    # unreachable (...); retrying"; well within their 300 s patience), then a little longer.
    deadline = time.monotonic() + 120
    while not reported("storage unreachable (") and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    postgres.resume()
    for worker in workers:
        worker.wait(timeout=420)
    for reader in readers:
        reader.join(timeout=30)
    for worker, err in zip(workers, errors, strict=True):
        assert worker.returncode == 0, "".join(err)
        assert "Traceback" not in "".join(err)
    # The workers' own word that they met the outage and came back through it, not merely
    # that they ended well.
    met = reported("storage unreachable (")
    assert met, "no worker reported the outage:\n" + "\n---\n".join(map("".join, outputs))
    for out in met:
        after_outage = out[out.index("storage unreachable (") :]
        assert "retrying" in after_outage
        assert "storage reachable again; going on" in after_outage, out

    study = _study(url, "restart", tmp_path)
    _assert_settled(study, 10)
    assert all(study.trials[n].values == values for n, values in finished_before.items())
