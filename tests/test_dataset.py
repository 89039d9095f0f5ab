"""Dataset sources and their validator: every bad input is one clear DatasetError, nothing else."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.core.errors import DatasetError
from harness.data import dataset as ds


def jets(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(n, len(ds.FEATURES))), columns=list(ds.FEATURES))
    frame["class"] = np.array(ds.CLASSES)[np.arange(n) % len(ds.CLASSES)]
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_local_files_load_in_feature_order(tmp_path, suffix):
    frame = jets()
    path = tmp_path / f"jets{suffix}"
    shuffled = frame[["class", *reversed(ds.FEATURES)]]  # column order must not matter
    if suffix == ".csv":
        shuffled.to_csv(path, index=False)
    elif suffix == ".parquet":
        shuffled.to_parquet(path)
    else:
        np.savez(path, X=frame[list(ds.FEATURES)].to_numpy(), y=frame["class"].to_numpy().astype(str))
    loaded = ds.load(path)
    assert loaded.name == "jets"
    np.testing.assert_allclose(loaded.X, frame[list(ds.FEATURES)].to_numpy(), rtol=1e-6)
    assert list(loaded.y) == list(frame["class"])


def write_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "jets.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.drop(columns=["j_mass_mmdt", "class"]), "missing column(s) j_mass_mmdt, class"),
        (lambda f: f.assign(j_zlogz=np.nan), "NaN, infinite or beyond-float32 feature value(s), first in row 0"),
        (lambda f: f.assign(j_zlogz=1e39), "beyond-float32 feature value(s), first in row 0, column j_zlogz"),
        (lambda f: f.assign(j_multiplicity="many"), "feature j_multiplicity is not numeric (row 0: 'many')"),
        (lambda f: f.assign(**{"class": "x"}), "unknown class label(s) 'x'"),
        (lambda f: f.assign(**{"class": "q"}), "only class(es) q present, no g, t, w, z"),
        (
            lambda f: f[f["class"].isin(["g", "q", "t"])],
            "only class(es) g, q, t present, no w, z; the exercises' 5-way",
        ),
        (lambda f: f.iloc[:0], "no rows"),
    ],
    ids=[
        "missing-columns",
        "nan",
        "beyond-float32",
        "wrong-dtype",
        "unknown-class",
        "single-class",
        "three-classes",
        "zero-rows",
    ],
)
def test_bad_file_is_one_line_naming_file_and_problem(tmp_path, edit, message):
    path = write_csv(tmp_path, edit(jets()))
    before = path.read_bytes()
    with pytest.raises(DatasetError) as info:
        ds.load_file(path)
    text = str(info.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text
    assert path.read_bytes() == before


def test_npz_without_y_and_unknown_spec(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, X=np.zeros((3, 16)))
    with pytest.raises(DatasetError, match="missing array"):
        ds.load_file(path)
    with pytest.raises(DatasetError, match=r"unknown dataset 'jets\.txt'"):
        ds.load("jets.txt")
    with pytest.raises(DatasetError, match="no such dataset file"):
        ds.load(tmp_path / "absent.csv")


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_semicolon_or_tab_separated_csv_loads(tmp_path, sep):
    path = tmp_path / "jets.csv"
    jets().to_csv(path, index=False, sep=sep)
    loaded = ds.load_file(path)
    np.testing.assert_allclose(loaded.X, jets()[list(ds.FEATURES)].to_numpy(), rtol=1e-6)


def test_a_folder_named_like_a_file_says_so(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(DatasetError, match=r"x\.csv: a folder, not a dataset file"):
        ds.load(tmp_path / "x.csv")


def test_truncated_parquet_is_a_dataset_error(tmp_path):
    path = tmp_path / "jets.parquet"
    jets().to_parquet(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError, match="cannot read parquet file"):
        ds.load_file(path)


def test_integer_labels_index_the_class_list():
    loaded = ds.validate(np.zeros((6, 16)), np.array([0, 2, 4, 1, 3, 0]), source="mem")
    assert list(loaded.y) == ["g", "t", "z", "q", "w", "g"]
    with pytest.raises(DatasetError, match="integer labels must be 0-4"):
        ds.validate(np.zeros((2, 16)), np.array([0, 7]), source="mem")


@settings(max_examples=150, deadline=None)
@given(
    X=arrays(st.sampled_from([np.float64, np.int64, np.float32]), st.tuples(st.integers(0, 6), st.integers(0, 18))),
    y=st.one_of(
        arrays(np.int64, st.integers(0, 6), elements=st.integers(-2, 7)),
        st.lists(st.sampled_from(["g", "q", "t", "w", "z", "b", ""]), max_size=6).map(np.array),
    ),
)
def test_validator_fuzz_returns_valid_data_or_our_error(X, y):
    try:
        loaded = ds.validate(X, y, source="fuzz")
    except DatasetError as exc:
        assert "\n" not in str(exc)
    else:
        assert loaded.X.shape == (len(loaded.y), 16) and loaded.X.dtype == np.float32
        assert np.isfinite(loaded.X).all() and set(loaded.y) == set(ds.CLASSES)


def test_head_is_a_fixed_subset_with_every_class():
    full = ds.load("surrogate")
    small = full.head(1000)
    assert len(small) == 1000 and set(small.y) == set(ds.CLASSES)
    np.testing.assert_array_equal(small.X, full.head(1000).X)
    assert full.head(None) is full


# --- OpenML, offline: a miniature copy of hls4ml_lhc_jets_hlf in scikit-learn's own cache layout ---

FILE_ID = 22044765


def _gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload))


def openml_cache(root: Path, frame: pd.DataFrame) -> None:
    """What ``fetch_openml(data_id=42468, data_home=root)`` leaves behind after a real download."""
    base = root / "openml" / "openml.org"
    arff = ["@RELATION hls4ml_lhc_jets_hlf"]
    arff += [f"@ATTRIBUTE {name} NUMERIC" for name in ds.FEATURES]
    arff += ["@ATTRIBUTE class {g,q,t,w,z}", "@DATA"]
    arff += [",".join([*(f"{v:.6g}" for v in row[:-1]), row[-1]]) for row in frame.itertuples(index=False)]
    data = ("\n".join(arff) + "\n").encode()
    description = {
        "id": str(ds.OPENML_ID),
        "name": ds.OPENML_NAME,
        "version": "1",
        "status": "active",
        "format": "ARFF",
        "file_id": str(FILE_ID),
        "default_target_attribute": "class",
        "description": "miniature fixture",
        "url": f"https://api.openml.org/data/v1/download/{FILE_ID}/{ds.OPENML_NAME}.arff",
        "md5_checksum": hashlib.md5(data).hexdigest(),
    }
    features = [
        {
            "index": str(i),
            "name": name,
            "data_type": "numeric",
            "is_target": "false",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
        for i, name in enumerate(ds.FEATURES)
    ]
    features.append(
        {
            "index": str(len(ds.FEATURES)),
            "name": "class",
            "data_type": "nominal",
            "nominal_value": list(ds.CLASSES),
            "is_target": "true",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
    )
    qualities = [{"name": "NumberOfInstances", "value": f"{len(frame)}.0"}]
    json_dir = base / "api" / "v1" / "json" / "data"
    _gz(json_dir / f"{ds.OPENML_ID}.gz", json.dumps({"data_set_description": description}).encode())
    _gz(json_dir / "features" / f"{ds.OPENML_ID}.gz", json.dumps({"data_features": {"feature": features}}).encode())
    _gz(json_dir / "qualities" / f"{ds.OPENML_ID}.gz", json.dumps({"data_qualities": {"quality": qualities}}).encode())
    _gz(base / "data" / "v1" / "download" / str(FILE_ID) / f"{ds.OPENML_NAME}.arff.gz", data)


@pytest.fixture
def offline(monkeypatch):
    """No network, as on CI: any download attempt fails like a DNS failure does."""
    import urllib.error

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("sklearn.datasets._openml.urlopen", refuse)


def test_openml_loads_from_the_cache_and_then_from_the_parsed_copy(tmp_path, offline):
    frame = jets(40)
    openml_cache(tmp_path, frame)
    first = ds.load_openml(tmp_path)
    assert first.name == "openml" and len(first) == 40
    np.testing.assert_allclose(first.X, frame[list(ds.FEATURES)].to_numpy(), rtol=1e-5)
    assert list(first.y) == list(frame["class"])
    parsed = tmp_path / f"{ds.OPENML_NAME}.npz"
    assert parsed.exists()
    (tmp_path / "openml").rename(tmp_path / "moved")  # the second load needs only the parsed copy
    second = ds.load_openml(tmp_path)
    np.testing.assert_array_equal(second.X, first.X)


def test_concurrent_openml_loads_download_once_and_all_read_the_same_jets(tmp_path, offline, monkeypatch):
    """pytest-xdist workers start together: one downloads under the lock, the others read its copy."""
    from concurrent.futures import ThreadPoolExecutor

    import sklearn.datasets

    openml_cache(tmp_path, jets(40))
    real_fetch, fetches = sklearn.datasets.fetch_openml, []

    def slow_fetch(**kwargs):
        fetches.append(kwargs["data_id"])
        time.sleep(0.3)  # a download takes a while: long enough for every worker to arrive
        return real_fetch(**kwargs)

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", slow_fetch)
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: ds.load_openml(tmp_path), range(4)))
    assert fetches == [ds.OPENML_ID]
    for dataset in loaded[1:]:
        np.testing.assert_array_equal(dataset.X, loaded[0].X)


def test_unusable_openml_cache_dir_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetError, match=r"cache directory .*file/cache is not usable \(Not a directory\)"):
        ds.load_openml(tmp_path / "file" / "cache")


def test_openml_offline_is_one_line_naming_the_alternatives(tmp_path, offline):
    with pytest.raises(DatasetError) as info:
        ds.load_openml(tmp_path)
    text = str(info.value)
    assert "cannot download OpenML dataset hls4ml_lhc_jets_hlf" in text
    assert "--dataset=surrogate" in text and "--dataset=PATH" in text and "\n" not in text


def test_openml_corrupt_cache_offline_is_a_dataset_error(tmp_path, offline):
    """scikit-learn discards a corrupt cached file and downloads again, which offline fails cleanly."""
    openml_cache(tmp_path, jets(10))
    arff = next((tmp_path / "openml").rglob("*.arff.gz"))
    arff.write_bytes(gzip.compress(b"@RELATION broken\n"))
    with pytest.raises(DatasetError, match="cannot download OpenML dataset"):
        ds.load_openml(tmp_path)
    assert not (tmp_path / f"{ds.OPENML_NAME}.npz").exists(), "nothing half-parsed is cached"


def own_data_section() -> str:
    """docs/usage.md's "For your own data", where the README sends a user with a file of jets."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    start = text.index("## For your own data")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_the_readme_names_the_columns_and_labels_the_loader_reads(tmp_path):
    """A user builds a file from the docs alone: its column list and label encodings must load."""
    section = own_data_section()
    columns = re.findall(r"`(j_\w+)`", section)
    assert tuple(columns) == ds.FEATURES
    frame = jets(50)[["class", *reversed(columns)]].assign(note="ignored")  # any order, extra columns
    frame.to_csv(tmp_path / "strings.csv", index=False)
    expected = jets(50)[list(ds.FEATURES)].to_numpy(np.float32)
    assert np.array_equal(ds.load_file(tmp_path / "strings.csv").X, expected)
    assert "the integers\n  0–4 as indices into that order (0 = `g`, 4 = `z`)" in section
    frame["class"] = np.arange(50) % 5
    frame.to_csv(tmp_path / "integers.csv", index=False)
    assert list(ds.load_file(tmp_path / "integers.csv").y[:5]) == ["g", "q", "t", "w", "z"]


def test_the_readme_quotes_the_missing_baseline_message_the_harness_prints():
    from harness.experiment import Settings
    from harness.session import Session

    # the README shows the default backend's command; another's adds --backend (tests/test_plugin.py)
    session = Session(Settings(dataset="/data/jets.csv", backend="tensorflow"), artifacts_dir=None)
    assert session.settings.label == "jets-quick" and "`baselines/jets-quick/`" in own_data_section()
    fix = session.update_command("sgd")
    quoted = f"`…/baselines/jets-quick/sgd.json: no baseline; create or update it with: {fix}`"
    assert quoted in own_data_section()


def test_tox_quotes_the_times_the_docs_measured():
    """One measured number per job, the same in both places (tox once said 45 minutes for a 191 s run)."""
    root = Path(__file__).resolve().parent.parent
    docs = "\n".join(page.read_text() for page in [root / "README.md", *(root / "docs").glob("*.md")])
    tox = (root / "tox.ini").read_text()
    quoted = re.findall(r"(\d[\d.]* (?:s|min \d+ s|minutes)) on 2 cores", tox)
    quoted += re.findall(r"(?:quick|full) (\d+–\d+ minutes)", tox)
    assert set(quoted) == {"191 s", "5–7 minutes", "29–33 minutes"}
    assert all(q in docs for q in quoted)
