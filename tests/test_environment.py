"""The fingerprint: what it compares per backend, what it refuses, and the lock it checks against."""

from __future__ import annotations

import json

import pytest

from harness.core import environment
from harness.core.environment import lock_drift, training_settings_problem
from harness.judge import exact


def test_every_backend_compares_the_common_keys_and_its_own():
    for backend, own in environment.BACKEND_KEYS.items():
        keys = environment.exact_keys(backend)
        assert set(environment.COMMON_KEYS) <= set(keys) and set(own) <= set(keys)
    assert "cpu_model" not in environment.exact_keys("tensorflow")  # oneDNN matched across vendors (measured)
    assert {"device", "backend_version"} <= set(environment.exact_keys("jax"))


def test_a_gpu_is_another_environment():
    env = {**environment.fingerprint(), "backend": "jax"}
    assert exact.environment_key(env) != exact.environment_key({**env, "device": "gpu NVIDIA H200"})


def read_cpu(monkeypatch, tmp_path, cpuinfo: str) -> tuple[str, str, str, str]:
    real = environment.Path

    def fake_path(*parts):
        return real(tmp_path / "cpuinfo") if parts == ("/proc/cpuinfo",) else real(*parts)

    (tmp_path / "cpuinfo").write_text(cpuinfo)
    monkeypatch.setattr(environment, "Path", fake_path)
    environment._cpu.cache_clear()
    try:
        return environment._cpu()
    finally:
        environment._cpu.cache_clear()


def test_isa_flags_keep_instruction_sets_and_drop_mitigations(monkeypatch, tmp_path):
    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n"
    cpuinfo += "flags\t\t: fpu avx2 avx512f avx512_bf16 md_clear ibrs fma sse4_2 hypervisor amx_tile\n\n"
    cpuinfo += "processor\t: 1\nvendor_id\t: OtherVendor\nflags\t\t: sse2\n"
    model, cpu_model, isa, flags = read_cpu(monkeypatch, tmp_path, cpuinfo)
    assert (model, cpu_model, isa) == ("AMD EPYC", "AuthenticAMD 25 17", "avx512f")
    assert flags == "amx_tile avx2 avx512_bf16 avx512f fma sse4_2"


def test_an_arm_cpu_is_told_apart_by_its_part_numbers_which_follow_its_features(monkeypatch, tmp_path):
    def neoverse(part: str) -> str:
        return (
            "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes crc32 sve\n"
            f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: {part}\n\n"
        )

    n1 = read_cpu(monkeypatch, tmp_path, neoverse("0xd0c"))
    v1 = read_cpu(monkeypatch, tmp_path, neoverse("0xd40"))
    assert n1[1] == "0x41 0x1 0xd0c" and v1[1] == "0x41 0x1 0xd40"
    assert n1[2] == "asimd" and n1[3] == "aes asimd sve"


def test_another_build_of_tensorflow_is_named_with_its_version(monkeypatch):
    """``tensorflow-cpu`` installs the ``tensorflow`` module: it must not read as "absent" and match everything."""
    monkeypatch.setattr(environment, "_distributions", lambda: {"tensorflow": ["tf-nightly"]})
    monkeypatch.setattr(
        environment, "_version", lambda name: "2.22.0.dev20261201" if name == "tf-nightly" else "absent"
    )
    assert environment._distribution_version("tensorflow") == "tf-nightly 2.22.0.dev20261201"


@pytest.mark.parametrize(
    "environ, refused",
    [
        ({}, None),
        ({"KERAS_MAX_EPOCHS": "5"}, "KERAS_MAX_EPOCHS=5"),
        ({"KERAS_MAX_STEPS_PER_EPOCH": "3"}, "KERAS_MAX_STEPS_PER_EPOCH=3"),
        ({"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, "TF_SET_ONEDNN_FPMATH_MODE=BF16"),
        ({"TF_SET_ONEDNN_FPMATH_MODE": "strict"}, None),
    ],
)
def test_settings_that_change_what_is_trained_are_refused_by_name(tmp_path, environ, refused):
    problem = training_settings_problem({**environ, "KERAS_HOME": str(tmp_path)})
    assert (problem is None) if refused is None else problem.startswith(refused)


def test_a_keras_json_that_changes_the_float_type_is_refused(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"floatx": "float64", "backend": "jax"}))
    problem = training_settings_problem({"KERAS_HOME": str(tmp_path)})
    assert problem == f"{tmp_path / 'keras.json'} sets floatx='float64', which changes what the exercises train " + (
        "(they use 'float32')"
    )
    (tmp_path / "keras.json").write_text(json.dumps({"floatx": "float32", "backend": "jax"}))
    assert training_settings_problem({"KERAS_HOME": str(tmp_path)}) is None


def test_packages_other_than_the_lock_say_so_once_and_how_to_get_the_exact_tier(tmp_path):
    keras = environment._version("keras")
    (tmp_path / "constraints.txt").write_text(f"# header\nkeras=={keras}\nnumpy=={environment._version('numpy')}\n")
    assert lock_drift(tmp_path) is None
    (tmp_path / "constraints.txt").write_text("keras==0.0.1\n")
    drift = lock_drift(tmp_path)
    assert f"keras {keras}, not 0.0.1" in drift and f"pip install -c {tmp_path / 'constraints.txt'}" in drift
    assert lock_drift(tmp_path / "elsewhere") is None
    # another backend's package: its records are not this backend's, so its version changes nothing here
    (tmp_path / "constraints.txt").write_text(f"keras=={keras}\njax==0.0.1\njaxlib==0.0.1\n")
    assert lock_drift(tmp_path, "tensorflow") is None
    if environment._version("jax") != "absent":
        assert "jax " in lock_drift(tmp_path, "jax")


def test_the_committed_lock_pins_what_the_committed_records_hold():
    """The lock and the records are written together: a record of versions the lock does not pin would
    never apply on a CI that installs the lock."""
    from harness.judge import baseline
    from harness.session import DEFAULT_BASELINES

    pins = dict(
        line.split("==") for line in (DEFAULT_BASELINES / "constraints.txt").read_text().splitlines() if "==" in line
    )
    path = DEFAULT_BASELINES / "surrogate-quick" / "sgd.json"
    for record in baseline.load(path).exact:
        env = record.environment
        assert env["keras"] == pins["keras"] and env["numpy"] == pins["numpy"], record.id
        assert env["backend_version"].split("+")[0] == pins[env["backend"]], record.id


def test_the_machine_entries_are_recorded_on_every_backend():
    env = environment.fingerprint()
    for key in environment.EXACT_KEYS:
        assert key in env, key
