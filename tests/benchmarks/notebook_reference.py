"""The course notebook's ``run_model``, kept as written (Keras 3 imports, figures saved not shown).

It is the yardstick of the ``full-suite`` benchmark: the harness running the six exercises
must not be slower than this function called six times.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from keras.layers import Activation, Dense, Input
from keras.models import Sequential
from keras.optimizers import SGD
from keras.regularizers import l1
from sklearn.metrics import accuracy_score, auc, confusion_matrix, roc_curve
from sklearn.preprocessing import StandardScaler


def plot_model_history(history, out: Path) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(history.history["loss"], label="loss")
    ax1.plot(history.history["val_loss"], label="val_loss")
    ax2.plot(history.history["accuracy"], label="accuracy")
    ax2.plot(history.history["val_accuracy"], label="val_accuracy")
    ax1.legend()
    ax2.legend()
    fig.savefig(out / "history.png")
    plt.close(fig)


def distribution_weights(model, out: Path) -> None:
    layers = [layer for layer in model.layers if layer.get_weights()]
    fig, axes = plt.subplots(1, len(layers), figsize=(16, 3.5))
    for ax, layer in zip(axes, layers, strict=True):
        w = layer.get_weights()[0]
        print(layer.name, np.min(w), np.max(w), np.mean(w), np.std(w))
        ax.hist(w.ravel(), bins=50)
    fig.savefig(out / "weights.png")
    plt.close(fig)


def plot_confusion_matrix(y_true, y_pred, classes, out: Path) -> None:
    cm = confusion_matrix(np.argmax(y_true, axis=1), np.argmax(y_pred, axis=1), normalize="true")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes)
    fig.savefig(out / "confusion.png")
    plt.close(fig)


def make_roc(y_true, y_pred, classes, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    for i, name in enumerate(classes):
        fpr, tpr, _ = roc_curve(y_true[:, i], y_pred[:, i])
        ax.plot(tpr, fpr, label=f"{name} AUC = {auc(fpr, tpr) * 100:.1f}%")
    ax.semilogy()
    ax.legend()
    fig.savefig(out / "roc.png")
    plt.close(fig)


def run_model(
    name, X_training_data, y_training_data, X_test_data, y_test_data, classes, out: Path,
    optimizer="sgd", scaled=False, regularization=False, epochs=50,
):  # fmt: skip
    if scaled:
        scaler = StandardScaler()
        X_training_data = scaler.fit_transform(X_training_data)
        X_test_data = scaler.transform(X_test_data)

    model = Sequential(name=f"sequential1_{name}")
    model.add(Input(shape=(16,)))
    if regularization:
        model.add(Dense(64, name="fc1", kernel_regularizer=l1(0.01)))
    else:
        model.add(Dense(64, name="fc1"))
    model.add(Activation(activation="relu", name="relu1"))
    model.add(Dense(32, name="fc2"))
    model.add(Activation(activation="relu", name="relu2"))
    model.add(Dense(32, name="fc3"))
    model.add(Activation(activation="relu", name="relu3"))
    model.add(Dense(5, name="fc4"))
    model.add(Activation(activation="softmax", name="softmax"))

    model.compile(optimizer=optimizer, loss=["categorical_crossentropy"], metrics=["accuracy"])
    history = model.fit(
        X_training_data, y_training_data, batch_size=1024, epochs=epochs, validation_split=0.25, shuffle=True, verbose=0
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_model_history(history, out)
    y_keras = model.predict(X_test_data, batch_size=1024, verbose=0)
    print(f"Accuracy: {accuracy_score(np.argmax(y_test_data, axis=1), np.argmax(y_keras, axis=1))}")
    distribution_weights(model, out)
    plot_confusion_matrix(y_test_data, y_keras, classes, out)
    make_roc(y_test_data, y_keras, classes, out)
    return model


def all_exercises(split, out: Path, epochs: int = 50) -> None:
    """The notebook's cells 41-45: scaled, L1, the two learning rates, SGD and Adam."""
    args = (split.X_train, split.y_train, split.X_test, split.y_test, split.classes)
    run_model("scaled", *args, out / "scaled", scaled=True, epochs=epochs)
    run_model("L1", *args, out / "L1", regularization=True, epochs=epochs)
    for lr in (1e-5, 0.1):
        run_model(f"lr_{lr}", *args, out / f"lr_{lr}", optimizer=SGD(learning_rate=lr), epochs=epochs)
    run_model("sgd", *args, out / "sgd", epochs=epochs)
    run_model("adam", *args, out / "adam", optimizer="adam", epochs=epochs)
