"""Training progress lines in the step's log, from a real `model.fit` with a clock the test moves."""
import itertools
import logging

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components.common import timing
from kubetfx.components.train.progress import ProgressLogger, progress_line


@pytest.fixture
def log_lines():
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    timing.LOG.addHandler(handler)
    timing.LOG.setLevel(logging.INFO)
    yield lines
    timing.LOG.removeHandler(handler)


def test_the_line_gives_share_time_per_step_time_left_and_loss():
    line = progress_line(1_200, 14_648, 54.0, {"loss": 7.123456})
    assert line == "step 1,200/14,648 (8%), 45 ms/step, 10 min 5 s left, loss 7.1235"
    assert progress_line(3, 0, 1.5, {}) == "step 3, 500 ms/step"


def test_fit_logs_at_most_every_interval_and_at_the_last_step(log_lines):
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    ticks = itertools.count(0, 10)  # ten seconds pass between two looks at the clock
    data = tf.data.Dataset.from_tensor_slices((np.ones((64, 2), "float32"), np.ones((64, 1), "float32"))).batch(8).repeat()
    model.fit(data, epochs=2, steps_per_epoch=4, verbose=0,
              callbacks=[ProgressLogger(every_seconds=25, clock=lambda: next(ticks))])
    steps = [line.split(",")[0] for line in log_lines]
    assert steps == ["[train] step 3/8 (38%)", "[train] step 6/8 (75%)", "[train] step 8/8 (100%)"]
    assert all("ms/step" in line and "loss" in line for line in log_lines)


def test_the_training_loop_is_timed_from_its_start_to_its_last_step():
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    ticks = itertools.count(0, 10)
    logger = ProgressLogger(clock=lambda: next(ticks))
    data = tf.data.Dataset.from_tensor_slices((np.ones((64, 2), "float32"), np.ones((64, 1), "float32"))).batch(8).repeat()
    model.fit(data, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[logger])
    # the clock is read once at the start and once after each of the 6 steps
    assert (logger.steps, logger.seconds) == (6, 60.0)
