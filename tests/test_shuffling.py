"""``fit``'s own shuffling, which the side-by-side members skip, asked of ``fit`` on a probe.

Training code is imported inside the tests: collecting the suite stays free of Keras (``tests/test_layout.py``).
"""

from __future__ import annotations

import pytest

from harness.core.backend import active

pytestmark = pytest.mark.training


def test_fit_shuffles_the_training_rows_as_recorded():
    from harness.train import shuffling

    epochs = shuffling.batch_sums()
    assert len(epochs) == shuffling.EPOCHS and all(len(e) == 12 for e in epochs)
    assert shuffling.problems(epochs) == []
    assert shuffling.problems(epochs) == shuffling.problems(), "seeded: the same question, the same answer"


@pytest.mark.parametrize(
    "change, found",
    [
        ({"shuffle": False}, "epoch 1 fitted contiguous blocks of rows: not shuffled, or shuffled batch-wise only"),
        ({"shuffle": "batch"}, "epoch 1 fitted contiguous blocks of rows: not shuffled, or shuffled batch-wise only"),
        ({"validation_split": 0.5}, "epoch 1 fitted 8 batches, not 12 of 8 rows"),
        ({"batch_size": 16}, "epoch 1 fitted 6 batches, not 12 of 8 rows"),
    ],
    ids=["no-shuffle", "batch-shuffle", "validation-split", "batch-size"],
)
def test_a_changed_fit_is_found(monkeypatch, change, found):
    """A change made inside ``model.fit``'s arguments, where the members would not see it."""
    from harness.train import shuffling
    from harness.train.training import keras

    real = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **kw: real(self, *a, **{**kw, **change}))
    said = shuffling.problems()
    assert any(found in line for line in said), said
    assert all(line.startswith("model.fit(shuffle=True) no longer shuffles as it did: ") for line in said)


def test_validation_rows_taken_from_elsewhere_are_found(monkeypatch):
    """Keras's data adapter keeping the first rows for validation instead of the last: as many rows, others."""
    from keras.src.trainers.data_adapters import array_slicing

    from harness.train import shuffling

    real = array_slicing.train_validation_split

    def first_rows_held_out(arrays, validation_split):
        flipped = tuple(None if a is None else a[::-1] for a in arrays)
        return real(flipped, validation_split)

    monkeypatch.setattr(array_slicing, "train_validation_split", first_rows_held_out)
    said = shuffling.problems()
    assert any("epoch 1 trained on other rows than validation_split=0.25 leaves" in line for line in said), said


def test_an_epoch_order_that_changed_is_a_note():
    """Each backend's recorded habit, one order every epoch or a new one, read against the other's: either is a
    shuffle, so a change is said, not failed."""
    from harness.train import shuffling

    one_order = [[3.0, 1.0, 2.0]] * 3  # the batches' index sums, per epoch (only their order matters here)
    reordered = [[3.0, 1.0, 2.0], [2.0, 3.0, 1.0], [3.0, 1.0, 2.0]]
    if active() not in shuffling.REORDERS:
        pytest.skip(f"{active()}'s epoch order is not measured")
    expected, other = (reordered, one_order) if shuffling.REORDERS[active()] else (one_order, reordered)
    assert shuffling.habit_note(expected) is None
    assert shuffling.habit_note(shuffling.batch_sums()) is None, "this backend's habit as recorded"
    note = shuffling.habit_note(other)
    assert note and note.startswith(f"a seeded model.fit on {active()} used to fit "), note
