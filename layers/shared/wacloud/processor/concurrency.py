"""Independent writes run side by side, within a deadline.

One POST can carry 1,000 updates: about a thousand DynamoDB calls, each waiting a few
milliseconds on the network. The writes of one phase (puts, then conditional updates) touch
different items or commute, so they run on a pool of threads, each call a task. boto3 clients are
thread-safe (the table is written through its low-level client, see :mod:`wacloud.table.client`);
the functions size the client's connection pool to the number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from wacloud.processor.timing import Deadline, OutOfTimeError

Task = Callable[[], object]


class WritePool:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    def run(self, tasks: Sequence[Task], deadline: Deadline | None, what: str) -> None:
        """Run every task; re-raise the first failure, or :class:`OutOfTimeError` at the deadline.

        On a failure or at the deadline, tasks not started yet are dropped. Those running finish on
        their own (each is one idempotent write, which the retry of the record repeats anyway);
        the caller does not wait for them.
        """
        if not tasks:
            return
        if len(tasks) == 1 or self.threads == 1:
            for task in tasks:
                if deadline is not None:
                    deadline.check(what)
                task()
            return
        futures = [self._pool().submit(_guarded, task, deadline, what) for task in tasks]
        timeout = None if deadline is None else max(0.0, deadline.remaining())
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        failed = _first_failure(futures, done)
        if failed is not None and not isinstance(failed, OutOfTimeError):
            raise failed
        # At the deadline a queued write may give up before wait() times out: either way the
        # writes were cut short during this phase, and are reported as such.
        given_up = [f for f in done if not f.cancelled() and isinstance(f.exception(), OutOfTimeError)]
        if pending or given_up:
            unfinished = len(pending) + len(given_up)
            raise OutOfTimeError(f"out of time during {what}: {unfinished} of {len(tasks)} writes unfinished")

    def _pool(self) -> ThreadPoolExecutor:
        # Created on first use and kept for the sandbox's life: threads cost nothing while idle.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="write")
        return self._executor


def _guarded(task: Task, deadline: Deadline | None, what: str) -> None:
    if deadline is not None:
        deadline.check(what)  # queued past the deadline: the record is being given up
    task()


def _first_failure(futures: Sequence[Future[None]], done: set[Future[None]]) -> BaseException | None:
    """The failure of the first task, in submission order, that failed (reproducible reports)."""
    for future in futures:
        if future in done and not future.cancelled() and future.exception() is not None:
            return future.exception()
    return None
