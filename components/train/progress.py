"""Training progress in the step's log. Keras' `verbose=2` prints once per epoch, so a long epoch
(an hour at 5M interactions on CPUs) shows nothing in `kubectl logs` or the KFP UI until it ends."""
import time

import tensorflow as tf

from kubetfx.components.common import names, timing

EVERY_SECONDS = 30.0


class ProgressLogger(tf.keras.callbacks.Callback):
    """Logs the step, the share done, time per step, time left and the loss, at most every
    `every_seconds` and at the last step. Keeps the steps run and the seconds from the start of
    training to the end of the last step (`steps`, `seconds`): the training loop alone, without
    reading the data before it or exporting the model after it."""

    def __init__(self, every_seconds: float = EVERY_SECONDS, clock=time.monotonic):
        super().__init__()
        # Keeps the logs as tensors: converting them every step would make each step wait for the device.
        self._supports_tf_logs = True
        self._every = every_seconds
        self._clock = clock
        self._done = 0
        self._start = self._last = self._end = 0.0

    @property
    def steps(self) -> int:
        return self._done

    @property
    def seconds(self) -> float:
        return round(self._end - self._start, 3)

    def on_train_begin(self, logs=None):
        self._done = 0
        self._start = self._last = self._end = self._clock()

    def on_train_batch_end(self, batch, logs=None):
        self._done += 1
        now = self._end = self._clock()
        total = self._total()
        if now - self._last >= self._every or self._done == total:
            self._last = now
            timing.LOG.info("[%s] %s", names.TASK_TRAIN, progress_line(self._done, total, now - self._start, logs or {}))

    def _total(self) -> int:
        steps, epochs = self.params.get("steps"), self.params.get("epochs") or 1
        return steps * epochs if steps else 0


def progress_line(done: int, total: int, elapsed_s: float, logs: dict) -> str:
    """`step 1,200/14,648 (8%), 45 ms/step, 10 min 5 s left, loss 7.1234`; no share or time left
    when the number of steps is unknown."""
    per_step = elapsed_s / max(done, 1)
    loss = f", loss {float(logs['loss']):.4f}" if "loss" in logs else ""
    if not total:
        return f"step {done:,}, {per_step * 1000:.0f} ms/step{loss}"
    left = per_step * max(total - done, 0)
    return f"step {done:,}/{total:,} ({done / total:.0%}), {per_step * 1000:.0f} ms/step, {_duration(left)} left{loss}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
