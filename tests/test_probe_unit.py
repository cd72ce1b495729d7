"""Probe unit tests (fast, no worker processes): FLOPs, peak table, device choice, plans,
statistics, the timing loop's budget, and the result schema validator."""

from __future__ import annotations

import copy
import time

import pytest

from probe import config, flops, hardware, measure, runner, schema
from tests.probe_synthetic import make_doc


# --- FLOPs --------------------------------------------------------------------------------

@pytest.mark.parametrize("model,batch", [
    (config.CPU.model, 4),
    (config.ModelConfig(vocab_size=512, seq_len=96, n_layer=3, n_head=6, d_model=96), 2),
])
def test_analytic_flops_match_torch_flop_counter(model, batch):
    """6N + attention agrees with FlopCounterMode on a real forward+backward (within 5%)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from probe.backends import torch_gpt

    net = torch_gpt.GPT(model)
    x = torch.randint(0, model.vocab_size, (batch, model.seq_len))
    # The math SDPA path decomposes into bmm, which FlopCounterMode counts (the CPU flash kernel it does not).
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        logits = net(x)
        F.cross_entropy(logits.view(-1, model.vocab_size), x.view(-1)).backward()
    analytic = flops.flops_per_step(model, batch)
    assert counter.get_total_flops() == pytest.approx(analytic["total"], rel=0.05)
    assert sum(p.numel() for p in net.parameters()) == flops.param_counts(model)["total"]


def test_gpu_preset_is_10_to_50m_params():
    total = flops.param_counts(config.GPU.model)["total"]
    assert 10e6 <= total <= 50e6
    assert flops.param_counts(config.CPU.model)["total"] < 1e6


def test_synthetic_batch_is_learnable_and_identical():
    a = config.synthetic_batch(config.CPU.model, config.CPU.train)
    b = config.synthetic_batch(config.CPU.model, config.CPU.train)
    assert (a == b).all() and a.shape == (config.CPU.train.batch_size, config.CPU.model.seq_len + 1)
    # Each row is an arithmetic progression: the next token follows from the previous two.
    diffs = (a[:, 2:] - a[:, 1:-1]) % config.CPU.model.vocab_size
    assert ((diffs - diffs[:, :1]) == 0).all()


# --- Peak table ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,key", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA H200", "H200 SXM"), ("NVIDIA H200 NVL", "H200 NVL"), ("NVIDIA GH200 480GB", "GH200"),
    ("NVIDIA A100-SXM4-80GB", "A100"), ("NVIDIA A100 80GB PCIe", "A100"), ("NVIDIA L4", "L4"), ("NVIDIA L40S", "L40S"),
    ("NVIDIA A10", "A10"), ("Tesla V100-SXM2-16GB", "V100"), ("Tesla T4", "T4"), ("NVIDIA GeForce RTX 4090", "RTX 4090"),
])
def test_gpu_names_match_peak_table(name, key):
    assert hardware.match_gpu(name).key == key


def test_unknown_gpu_has_no_peak_and_says_so():
    assert hardware.match_gpu("NVIDIA A40") is None  # not L4/A10 by accident
    peak = hardware.peak_tflops("cuda", "NVIDIA A40", "bf16", False)
    assert peak["value"] is None and "--peak-tflops" in peak["source"]


def test_peak_column_follows_precision_and_tf32():
    assert hardware.peak_tflops("cuda", "NVIDIA H100 80GB HBM3", "bf16", False)["value"] == pytest.approx(989.4)
    assert hardware.peak_tflops("cuda", "NVIDIA H100 80GB HBM3", "fp32", True)["value"] == pytest.approx(494.7)
    assert hardware.peak_tflops("cuda", "NVIDIA H100 80GB HBM3", "fp32", False)["value"] == pytest.approx(66.9)
    assert hardware.peak_tflops("cuda", "Tesla T4", "bf16", False)["value"] is None
    assert hardware.peak_tflops("cuda", "NVIDIA L4", "bf16", False, override=100.0)["value"] == 100.0
    # Dense figures: half the datasheets' sparsity numbers, never more than them.
    for entry in hardware.PEAKS.values():
        if entry.bf16 and entry.tf32:
            assert entry.bf16 == pytest.approx(2 * entry.tf32, rel=0.02)


def test_cpu_peak_is_marked_estimated():
    peak = hardware.peak_tflops("cpu", "any", "fp32", False)
    assert peak["estimated"] is True
    assert peak["value"] is None or peak["source"].startswith("estimated")


# --- Device choice and plans ----------------------------------------------------------------

GPU = {"name": "NVIDIA H100 80GB HBM3", "driver": "550", "memory_total": "80 GiB", "count": 1}


def test_device_auto_follows_nvidia_smi():
    assert runner.resolve_device("auto", None) == ["cpu"]
    assert runner.resolve_device("auto", GPU) == ["cuda"]
    assert runner.resolve_device("all", GPU) == ["cpu", "cuda"]
    assert runner.resolve_device("all", None) == ["cpu"]
    assert runner.resolve_device("cuda", None) == ["cuda"]  # asked for: reported as skipped, not silently CPU
    with pytest.raises(runner.ProbeUsageError, match="unknown device 'tpu'"):
        runner.resolve_device("tpu", None)


def test_plan_on_cuda_uses_gpu_preset_and_both_precisions():
    plan = runner.make_plan(gpu=GPU)
    assert plan.preset.name == "gpu" and plan.precisions == ["fp32", "bf16"]
    assert {(c["framework"], c["mode"]) for c in plan.cases} == set(config.COMPILERS)
    assert len(plan.cases) == 10 and all(c["device"] == "cuda" for c in plan.cases)


def test_plan_on_cpu_defaults_to_fp32_and_tiny_preset():
    plan = runner.make_plan(gpu=None)
    assert plan.preset.name == "cpu" and plan.precisions == ["fp32"] and len(plan.cases) == 5
    assert not any(c["framework"] == "jax" and c["mode"] == "eager" for c in plan.cases)


@pytest.mark.parametrize("kwargs,message", [
    ({"frameworks": "pytorch,mxnet"}, "unknown framework mxnet"),
    ({"precisions": "fp16"}, "unknown precision fp16"),
    ({"timed_steps": 1}, "at least 2"),
    ({"budget_s": 0}, "positive"),
    ({"config_name": "huge"}, "unknown config 'huge'"),
])
def test_plan_rejects_bad_options(kwargs, message):
    with pytest.raises(runner.ProbeUsageError, match=message):
        runner.make_plan(gpu=None, **kwargs)


def test_absent_framework_is_skipped_without_a_worker(tmp_path, monkeypatch):
    """find_spec None (not installed): skipped with the reason, and the run still completes."""
    real = runner.importlib.util.find_spec
    monkeypatch.setattr(runner.importlib.util, "find_spec", lambda name: None if name == "jax" else real(name))
    plan = runner.make_plan(gpu=None, frameworks="jax", out_dir=tmp_path)
    doc = __import__("json").loads(runner.Runner(plan).run().read_text())
    assert doc["status"] == "complete" and schema.validate(doc) == []
    [case] = doc["cases"]
    assert case["status"] == "skipped" and "not installed" in case["reason"] and "jax" in case["reason"]
    assert doc["environment"]["frameworks"]["jax"] is None


# --- Statistics and the timing loop -----------------------------------------------------------

def test_summarise_median_and_iqr():
    stats = measure.summarise([0.001 * i for i in range(1, 21)])
    assert stats["median"] == pytest.approx(10.5) and stats["n"] == 20
    assert stats["q1"] == pytest.approx(5.75) and stats["q3"] == pytest.approx(15.25) and stats["iqr"] == pytest.approx(9.5)


class FakeBackend:
    def __init__(self, step_s=0.0):
        self.steps, self.syncs, self.step_s = 0, 0, step_s

    def build(self):
        def step():
            self.steps += 1
            time.sleep(self.step_s)
            return 10.0 / self.steps

        def sync(_):
            self.syncs += 1

        return measure.Built(step, sync, float, param_count=7)


def test_run_case_excludes_warmup_and_syncs_every_timed_step():
    fake = FakeBackend()
    preset = config.preset("cpu", timed_steps=20, warmup_steps=3)
    out = measure.run_case(fake.build, preset, True, time.time() + 60)
    assert fake.steps == 23 and out["timed_steps"] == 20 and len(out["losses"]) == 23
    assert fake.syncs >= 1 + 1 + 20  # first step, end of warm-up, every timed step
    assert out["compile_s"] is not None and out["loss_last"] < out["loss_first"] and out["param_count"] == 7


def test_run_case_stops_at_the_deadline():
    fake = FakeBackend(step_s=0.02)
    preset = config.preset("cpu", timed_steps=1000, warmup_steps=1)
    started = time.time()
    with pytest.raises(measure.BudgetSpent, match="timed steps"):
        measure.run_case(fake.build, preset, False, time.time() + 0.3)
    assert time.time() - started < 1.0


def test_run_case_fails_a_diverged_training_instead_of_writing_nan():
    class Diverging(FakeBackend):
        def build(self):
            built = super().build()
            steps = iter([9.0, 8.0, float("nan")] + [1.0] * 100)
            return measure.Built(lambda: next(steps), built.sync, float, param_count=7)

    preset = config.preset("cpu", timed_steps=20, warmup_steps=3)
    with pytest.raises(FloatingPointError, match="diverged: the loss was nan at step 3"):
        measure.run_case(Diverging().build, preset, False, time.time() + 60)


# --- Schema ------------------------------------------------------------------------------------

def test_validator_accepts_a_good_doc_and_names_each_problem():
    doc = make_doc()
    assert schema.validate(doc) == []
    bad = copy.deepcopy(doc)
    del bad["run_id"]
    bad["status"] = "done"
    bad["cases"][0]["step_ms"]["median"] = "fast"
    bad["cases"][1]["tokens_per_s"] = None
    bad["cases"][2] = {**bad["cases"][2], "status": "skipped", "reason": None}
    bad["config"]["tf32"] = 1
    problems = schema.validate(bad)
    joined = "\n".join(problems)
    for expected in ("run_id is missing", "status is 'done'", "cases[0].step_ms.median is str", "cases[1].tokens_per_s is null",
                     "cases[2] is skipped without a reason", "config.tf32 is int"):
        assert expected in joined
    assert schema.validate([]) == ["the document is not a JSON object"]


def test_tf32_policy_is_pinned_in_torch_and_jax():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    from probe.backends import jax_gpt, torch_gpt

    try:
        torch_gpt.set_tf32(True)
        assert torch.get_float32_matmul_precision() == "high" and torch.backends.cudnn.allow_tf32
        torch_gpt.set_tf32(False)
        assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.allow_tf32
        jax_gpt.set_tf32(True)
        assert jax.config.jax_default_matmul_precision == "tensorfloat32"
        jax_gpt.set_tf32(False)
        assert jax.config.jax_default_matmul_precision == "highest"
    finally:
        torch_gpt.set_tf32(False)
        jax.config.update("jax_default_matmul_precision", None)


def test_nvidia_smi_is_parsed_and_drives_auto_device(tmp_path, monkeypatch):
    """A fake nvidia-smi on PATH (the real one's CSV shape): GPU facts recorded, 'auto' picks CUDA."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    gpu = hardware.nvidia_smi()
    assert gpu == {"name": "NVIDIA H100 80GB HBM3", "driver": "550.54.15", "memory_total": "81559 MiB", "count": 1}
    plan = runner.make_plan()
    assert plan.devices == ["cuda"] and plan.preset.name == "gpu"
    assert hardware.environment()["gpu"]["driver"] == "550.54.15"
    fake.write_text("#!/bin/sh\nexit 9\n")
    assert hardware.nvidia_smi() is None and runner.make_plan().devices == ["cpu"]
