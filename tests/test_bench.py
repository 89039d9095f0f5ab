"""``python -m harness bench compare``: any pytest-benchmark files, one table, never a traceback."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.bench import results as bench
from harness.bench.results import BenchError
from harness.cli import main
from harness.measure import timing


def result(device: str, medians: dict[str, float], rates: dict[str, float] | None = None) -> dict:
    rates = rates or {}
    return {
        "machine_info": {"jet_harness": {"device": device}, "cpu": {"brand_raw": "cpu"}},
        "benchmarks": [
            {
                "group": "train-epoch",
                "name": name,
                "fullname": f"tests/benchmarks/test_speed.py::{name}",
                "stats": {"median": median},
                "extra_info": {"samples_per_second": rates[name]} if name in rates else {},
            }
            for name, median in medians.items()
        ],
    }


def write(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_table_lines_up_machines_one_line_each_against_the_reference(tmp_path, capsys):
    cpu = write(tmp_path, "cpu.json", result("Xeon (2 cores)", {"epoch": 1.2, "predict": 0.5}, {"epoch": 4e5}))
    gpu = write(tmp_path, "gpu.json", result("NVIDIA H200", {"epoch": 0.3, "extra": 2.0}, {"epoch": 1.6e6}))
    assert main(["bench", "compare", str(cpu), str(gpu)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["[1] Xeon (2 cores) (cpu.json)", "[2] NVIDIA H200 (gpu.json)"]
    epoch = out.index(next(line for line in out if line.startswith("epoch ")))
    assert out[epoch].split()[1:] == ["[1]", "1.200", "s", "—", "400.00k", "reference"]
    assert out[epoch + 1].split() == ["[2]", "300.00", "ms", "—", "1.60M", "0.25×"]
    assert [line.split()[:2] for line in out if line.startswith(("extra", "predict"))] == [
        ["extra", "[2]"],
        ["predict", "[1]"],
    ], "a benchmark missing on one machine has no line there, and no error"
    assert max(len(line) for line in out) < 100, "a terminal shows it"
    assert main(["bench", "compare", str(cpu), str(gpu), "--reference", "gpu.json"]) == 0
    assert "4.00×" in capsys.readouterr().out


def test_time_to_accuracy_is_what_machines_are_compared_on(tmp_path, capsys):
    """The benchmarker's question: faster to the same accuracy, not faster through a whole fit."""

    def tta(device: str, whole: float, to_target: float | None) -> dict:
        doc = result(device, {"test_time_to_accuracy[adam]": whole})
        extra = {"target_val_accuracy": 0.65, "backend": "jax", "time_to_target_median_s": to_target}
        doc["benchmarks"][0]["extra_info"] = extra
        return doc

    a = write(tmp_path, "a.json", tta("Xeon", 40.0, 18.0))
    b = write(tmp_path, "b.json", tta("EPYC", 20.0, 36.0))  # a shorter fit, but twice as long to the target
    c = write(tmp_path, "c.json", tta("ARM", 10.0, None))
    assert main(["bench", "compare", str(a), str(b), str(c), "--plot", str(tmp_path / "tta.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "[1] Xeon, jax (a.json)" in out
    row = out.index(next(line for line in out if line.startswith("test_time_to_accuracy[adam] (val. accuracy 0.65)")))
    assert out[row + 1].split() == ["[2]", "20.000", "s", "36.000", "s", "—", "2.00×"]
    assert out[row + 2].split()[3] == "never" and out[row + 2].split()[-1] == "—"
    assert (tmp_path / "tta.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["bench", "compare", str(a), "--reference", "z.json"]) == 2
    assert "--reference 'z.json' is none of the files compared" in capsys.readouterr().err


def test_markdown_table_for_a_job_summary(tmp_path, capsys):
    one = write(tmp_path, "one.json", result("cpu", {"epoch": 1.0}))
    assert main(["bench", "compare", "--markdown", str(one)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| benchmark | machine | median | to target | samples/s | time vs [1] |"
    assert out[1] == "|---|---|---|---|---|---|"
    assert out[2] == "| epoch | [1] | 1.000 s | — | — | reference |"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "unreadable benchmark file"),
        ("[]", "not a pytest-benchmark result"),
        ('{"benchmarks": []}', "contains no benchmarks"),
        ('{"benchmarks": [{"name": "x"}]}', "a benchmark entry has no 'stats'"),
        (
            '{"benchmarks": [{"name": "x", "stats": {"median": 0}}]}',
            "a benchmark entry lacks a name or a positive median",
        ),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["bench", "compare", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert main(["bench", "compare", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: no benchmark file" in capsys.readouterr().err


names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
medians = st.floats(min_value=1e-6, max_value=1e3)
anything = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(names, medians, min_size=1, max_size=5), min_size=1, max_size=4))
def test_any_mix_of_benchmark_sets_renders(tmp_path_factory, machines):
    folder = tmp_path_factory.mktemp("machines")
    paths = [write(folder, f"m{i}.json", result(f"dev{i}", m)) for i, m in enumerate(machines)]
    loaded = [bench.load(p) for p in paths]
    rows = bench.compare(loaded)
    assert {r.benchmark for r in rows} == set().union(*machines)
    for name in {r.benchmark for r in rows}:
        assert [r.machine for r in rows if r.benchmark == name] == [i for i, m in enumerate(machines) if name in m]
    for markdown in (False, True):
        text = bench.render(loaded, rows, markdown=markdown)
        first = [r for r in rows if r.machine == 0]
        assert text.count("reference") == len(first)


@settings(max_examples=150, deadline=None)
@given(st.one_of(anything, st.fixed_dictionaries({"benchmarks": st.lists(anything, max_size=3)})))
def test_arbitrary_json_loads_or_raises_our_error(tmp_path_factory, doc):
    path = write(tmp_path_factory.mktemp("fuzz"), "x.json", doc)
    try:
        machine = bench.load(path)
    except BenchError as exc:
        assert "\n" not in str(exc)
    else:
        bench.render([machine], bench.compare([machine]))


def test_flops_of_the_notebook_mlp():
    macs = 16 * 64 + 64 * 32 + 32 * 32 + 32 * 5
    assert timing.mlp_forward_flops_per_sample() == 2 * macs == 8512
    assert timing.mlp_train_flops_per_sample() == 6 * macs


def rounds(name: str, times: list[float]) -> dict:
    """A pytest-benchmark entry with these round times."""
    times = sorted(times)
    q1, q3 = times[len(times) // 4], times[(3 * len(times)) // 4]
    median = times[len(times) // 2]
    stats = {"min": times[0], "max": times[-1], "median": median, "q1": q1, "q3": q3, "rounds": len(times)}
    return {"group": "g", "name": name, "fullname": f"t.py::{name}", "stats": stats}


#: The stats of a round time: multiplied when a run is slowed down.
TIMES = {"min", "max", "median", "q1", "q3", "iqr", "mean"}


def scaled(doc: dict, factor: float) -> dict:
    """Every round ``factor`` times slower: a deliberately slowed run."""
    slowed = json.loads(json.dumps(doc))
    for entry in slowed["benchmarks"]:
        entry["stats"] = {k: v * factor if k in TIMES else v for k, v in entry["stats"].items()}
    return slowed


def test_a_change_past_the_threshold_and_beyond_the_spread_fails(tmp_path, capsys):
    a = write(tmp_path, "a.json", {"benchmarks": [rounds("fit", [1.0, 1.05, 1.1])]})
    assert (
        main(
            [
                "bench",
                "compare",
                str(a),
                str(write(tmp_path, "b.json", scaled(json.loads(a.read_text()), 1.5))),
                "--fail-above",
                "10%",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "+50.0%" in out and "REGRESSION" in out and "1 of 1 benchmarks regressed" in out
    assert "1.050 s [IQR 1.000 s–1.100 s, min–max 1.000 s–1.100 s, 3 rounds]" in out


def test_a_slower_median_within_the_spread_is_noise(tmp_path, capsys):
    a = write(tmp_path, "a.json", {"benchmarks": [rounds("fit", [1.0, 1.05, 1.1, 1.6])]})
    b = write(tmp_path, "b.json", {"benchmarks": [rounds("fit", [1.2, 1.25, 1.3, 1.35])]})
    assert main(["bench", "compare", str(a), str(b), "--fail-above", "10%"]) == 0
    assert "slower, within the spread (noise)" in capsys.readouterr().out
    assert main(["bench", "compare", str(a), str(b), "--fail-above", "25%"]) == 0


@pytest.mark.parametrize("args, message", [(["--fail-above", "ten"], "--fail-above takes a percentage such as 10%")])
def test_fail_above_mistakes_are_one_line(tmp_path, capsys, args, message):
    one = write(tmp_path, "one.json", result("cpu", {"epoch": 1.0}))
    assert main(["bench", "compare", str(one), str(one), *args]) == 2
    assert message in capsys.readouterr().err
    assert main(["bench", "compare", str(one), "--fail-above", "10%"]) == 2
    assert "compares exactly two files" in capsys.readouterr().err


BENCHMARKS = Path(__file__).resolve().parent.parent / "baselines" / "benchmarks"
ORDINARY = (BENCHMARKS / "xeon-2core-tensorflow-tta.json", BENCHMARKS / "xeon-2core-tensorflow-tta-rerun.json")


def test_two_ordinary_runs_pass_and_a_slowed_one_fails(tmp_path, capsys):
    """Two time-to-accuracy runs of this machine, one after the other: noise, not a regression. The
    same file with every time × 1.5 is one."""
    a, b = ORDINARY
    assert main(["bench", "compare", str(a), str(b), "--fail-above", "10%"]) == 0
    slowed = write(tmp_path, "slowed.json", scaled(json.loads(a.read_text()), 1.5))
    assert main(["bench", "compare", str(a), str(slowed), "--fail-above", "10%"]) == 1
    out = capsys.readouterr().out
    assert "0 of 6 benchmarks regressed" in out  # the two ordinary runs
    assert "4 of 6 benchmarks regressed" in out  # × 1.5; the other two scattered over more than 1.5× here


def test_time_to_accuracy_reads_the_epoch_clock():
    found = timing.timing([3.0, 4.0, 5.0, 6.5], [0.3, 0.5, 0.6, 0.7], target=0.55)
    assert (found.first_epoch_s, found.steady_epoch_s, found.warmup_s) == (3.0, 1.0, 2.0)
    assert (found.time_to_target_s, found.target_epoch) == (5.0, 3)
    never = timing.timing([1.0, 2.0], [0.2, 0.2], target=0.4)
    assert never.time_to_target_s is None and never.target_epoch is None
    assert timing.timing([], [], target=0.4) is None
