"""The rq worker ``qbsync worker`` runs: rq's own, with a pub/sub thread that lets it exit at once.

Every rq worker listens on a Redis pub/sub channel (for "stop this job" commands) in a thread. rq 3.0
starts that thread with ``sleep_time=60``: each read waits up to 60 s. On exit rq unsubscribes, then
stops the thread, and since redis-py 8.2 ``PubSubWorkerThread.stop()`` waits for the thread to end. When
the thread reads the unsubscribe reply before the stop flag is cleared (a race), its next read finds no
subscription and waits a whole ``sleep_time`` for one (``PubSub.get_message``), and so does the exit: a
``--burst`` worker or one stopped by SIGTERM took 60 s to leave in 3-4 runs of 10 (bench/worker_exit.py).

Reading with a one-second wait bounds that to a second; one idle Redis read a second per worker costs
nothing worth measuring (rq used 0.2 s before it moved to long reads, rq PRs #2172 and #2228).
"""

from __future__ import annotations

from rq import Worker

# How long the pub/sub thread's read blocks: the most a stopping worker waits for the thread.
PUBSUB_POLL_SECONDS = 1.0


class QbsyncWorker(Worker):
    """rq's :class:`~rq.Worker`, whose command listener stops within :data:`PUBSUB_POLL_SECONDS`."""

    def subscribe(self) -> None:
        """Listen for rq commands (stop a job, shut down) on this worker's channel, in a thread."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler
        )
