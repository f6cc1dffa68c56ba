"""Running simulations, sweeps and calibrations on a Dask cluster (``--dask ADDRESS``).

Only imported when asked for: without ``--dask`` nothing here runs and dask is not imported.

* ``ADDRESS`` is ``tcp://host:8786`` (or any address a ``distributed.Client`` takes) for a running
  scheduler, or ``local`` / ``local:N`` for a ``LocalCluster`` of N single-threaded worker processes
  on this machine (N: the cores).
* Work units are waves of chunks (:data:`simulator.engine.WAVE_CHUNKS` chunks of runs). A wave is
  a pure function of the election, the seed and the wave's place: each chunk has its own random
  stream from the seed (:mod:`simulator.streams`), so a wave gives the same tally on any worker,
  with any number of threads, however often it is run.
* Tallies are integer sums: they merge exactly in any order. They are merged in wave order anyway
  (out-of-order results wait in a bounded window), so that ``--target-se`` stops after the same
  wave as a local run; what is still pending is then cancelled.
* A worker that dies mid-run: Dask runs its tasks again elsewhere; each wave's result is taken
  once, so nothing is counted twice or lost.
* Every worker compiles the kernels (numba's cache is per machine) and reports its versions
  before the first task; a worker whose electsim, numba, numpy or Python differs from the
  client's is an error, as is a scheduler that does not answer within :data:`CONNECT_TIMEOUT_S`.
* Inside a worker, one wave runs at a time and uses the worker's threads (``dask worker
  --nthreads``) as numba threads.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import InputError

CONNECT_TIMEOUT_S = 10.0  # to reach a scheduler, and for it to have a worker
WARM_TIMEOUT_S = 900.0  # for every worker to compile the kernels (about 100 s on 2 cores)
_RUN_LOCK = threading.Lock()  # one wave at a time in a worker process


class ClusterError(InputError):
    """The cluster cannot be used (unreachable, no workers, versions differ, a task failing
    again and again): one line on stderr and exit code 2, like a user's mistake."""


def parse_address(address: str) -> tuple[str, int | None]:
    """``("local", N)`` for ``local`` / ``local:N``, else ``("remote", None)`` with the address
    as given (a scheduler address: ``tcp://host:8786``, ``tls://...``, ``host:8786``)."""
    text = address.strip()
    if text == "local" or text.startswith("local:"):
        count = text.partition(":")[2]
        if not count:
            return "local", os.cpu_count() or 1
        if not count.isdigit() or not 1 <= int(count) <= 1024:
            raise InputError(f"--dask {address!r}: expected local or local:N with N workers (1 to 1024)")
        return "local", int(count)
    if not text:
        raise InputError("--dask needs an address: tcp://host:8786, or local[:N]")
    return "remote", None


def versions() -> dict[str, str]:
    """What must be equal on the client and every worker for results to be identical."""
    import numba
    import numpy

    from . import __version__

    return {"electsim": __version__, "numba": numba.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def _warm_worker() -> dict[str, str]:
    """On a worker, before its first task: compile the kernels (or load them from numba's cache)
    and report the versions."""
    from .engine import warm

    with _RUN_LOCK:
        warm(load=True)
    return versions()


def _on_worker(fn: Callable, *args: Any) -> Any:
    """Run ``fn(*args)`` on a worker: one at a time in its process, with its threads as numba's
    (results do not depend on them). The arguments are copied first: Dask hands arrays over
    read-only, and numba would compile the kernels again for read-only arrays."""
    import pickle

    import numba

    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):  # not on a worker (a test calling it directly)
        threads = numba.config.NUMBA_NUM_THREADS
    with _RUN_LOCK:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
        return fn(*pickle.loads(pickle.dumps(args, protocol=4)))


class Cluster:
    """A connection to a Dask cluster, checked and warmed; use as a context manager.

    ``ordered`` runs work units and yields their results in order; ``map`` is its list form.
    """

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT_S,
                 say: Callable[[str], None] | None = None):
        try:
            import distributed
        except ImportError:
            raise InputError("--dask needs Dask: pip install 'electsim[dask]'") from None
        self.address = address
        self._local = None
        kind, workers = parse_address(address)
        if kind == "local":
            from .engine import warm

            # the workers share this machine's cache: compile once, here
            warm((lambda what: say(f"compiling {what}")) if say is not None else None)
            self._local = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR)
            self.client = distributed.Client(self._local, timeout=f"{timeout}s")
        else:
            try:
                self.client = distributed.Client(address, timeout=f"{timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                                   f"({type(exc).__name__})") from None
        try:
            self._check(timeout, say)
        except BaseException:
            self.close()
            raise

    def _check(self, timeout: float, say) -> None:
        import distributed

        warm_timeout = WARM_TIMEOUT_S
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ClusterError(f"no worker joined the Dask scheduler at {self.address} within "
                               f"{timeout:g} s") from None
        try:
            self.client.get_versions(check=True)
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "versions differ"
            raise ClusterError(f"the Dask client and workers at {self.address} run different "
                               f"versions of Dask's own packages: {first}") from None
        workers = list(self.client.scheduler_info()["workers"])
        if say:
            say(f"dask: {len(workers)} worker{'s' if len(workers) > 1 else ''} at {self.address}; "
                "compiling the kernels on each (first time on a machine only)")
        futures = [self.client.submit(_warm_worker, workers=[w], allow_other_workers=False, pure=False,
                                      key=f"electsim-warm-{uuid.uuid4().hex}") for w in workers]
        try:
            distributed.wait(futures, timeout=warm_timeout)
        except TimeoutError:
            self.client.cancel(futures)
            raise ClusterError(f"the Dask workers at {self.address} did not compile the kernels within "
                               f"{warm_timeout:g} s") from None
        try:
            found = self.client.gather(futures, errors="raise", direct=False) if futures else []
        except Exception as exc:  # noqa: BLE001 (any failure of a worker: one line)
            raise ClusterError(f"a Dask worker at {self.address} could not run electsim: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        mine = versions()
        for worker, theirs in zip(workers, found):
            diff = [f"{k} {theirs.get(k)} (client {v})" for k, v in mine.items() if theirs.get(k) != v]
            if diff:
                raise ClusterError(f"Dask worker {worker} runs different versions: {', '.join(diff)}; "
                                   "every worker needs the client's electsim, numba, numpy and Python")

    @property
    def threads(self) -> int:
        """Worker threads in the cluster now."""
        return sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()) or 1

    def settings(self) -> dict:
        """What a result records of the cluster it ran on: its workers and their threads."""
        workers = self.client.scheduler_info()["workers"].values()
        return {"threads": sum(w.get("nthreads", 1) for w in workers) or 1, "dask_workers": len(workers)}

    def ordered(self, fn: Callable, shared: Any, items: Iterable[tuple], window: int | None = None,
                on_done: Callable[[int], None] | None = None) -> Iterator[Any]:
        """Run ``fn(shared, *item)`` for every item on the workers and yield the results in the
        items' order. At most ``window`` units (default: twice the worker threads, at least 4)
        are submitted or waiting to be yielded at a time; ``on_done(i)`` is called as unit i
        completes, in any order. Closing the generator early cancels what is pending."""
        from distributed import as_completed

        window = window or max(4, 2 * self.threads)
        items = iter(enumerate(items))
        tag = uuid.uuid4().hex
        index: dict[str, int] = {}
        pending: dict[int, Any] = {}
        results: dict[int, Any] = {}
        queue = as_completed()

        def submit() -> bool:
            nxt = next(items, None)
            if nxt is None:
                return False
            i, item = nxt
            future = self.client.submit(_on_worker, fn, shared, *item, pure=False, key=f"electsim-{tag}-{i}")
            index[future.key] = i
            pending[i] = future
            queue.add(future)
            return True

        for _ in range(window):
            if not submit():
                break
        wanted = 0
        try:
            for future in queue:
                i = index[future.key]
                try:
                    results[i] = future.result()
                except Exception as exc:  # noqa: BLE001
                    if isinstance(exc, InputError):
                        raise
                    raise ClusterError(f"a task failed on the Dask cluster at {self.address}: "
                                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
                del pending[i]
                if on_done is not None:
                    on_done(i)
                while wanted in results:
                    yield results.pop(wanted)
                    wanted += 1
                    submit()
        finally:
            if pending:
                self.client.cancel(list(pending.values()))

    def map(self, fn: Callable, shared: Any, items: Iterable[tuple]) -> list:
        """``[fn(shared, *item) for item in items]``, computed on the workers."""
        return list(self.ordered(fn, shared, items))

    def close(self) -> None:
        for thing in (getattr(self, "client", None), self._local):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 (closing a cluster that is already gone)
                    pass

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(address: str | None, timeout: float | None = None, say=None):
    """A :class:`Cluster` for ``address``, or a do-nothing context for None (run here)."""
    if address is None:
        import contextlib

        return contextlib.nullcontext(None)
    return Cluster(address, CONNECT_TIMEOUT_S if timeout is None else timeout, say)


def local_map(fn: Callable, shared: Any, items: Iterable[tuple]) -> list:
    """The local form of :meth:`Cluster.map`."""
    return [fn(shared, *item) for item in items]


__all__ = ["Cluster", "ClusterError", "connect", "local_map", "parse_address", "versions"]
