"""What the probe runs: the model, the training step and the timing method, stated up front.

Every framework builds the same GPT-style decoder from a ModelConfig and trains it with
the same TrainConfig; nothing framework-specific lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class ModelConfig:
    """A nanoGPT-like decoder: pre-LayerNorm blocks, causal attention, GELU MLP, tied LM head."""

    vocab_size: int
    seq_len: int
    n_layer: int
    n_head: int
    d_model: int
    mlp_ratio: int = 4
    ln_eps: float = 1e-5
    init_std: float = 0.02  # normal(0, 0.02); residual projections 0.02/sqrt(2*n_layer), as nanoGPT

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


@dataclass(frozen=True)
class TrainConfig:
    """One training step: a fixed synthetic batch, AdamW, mean next-token cross-entropy."""

    batch_size: int
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1  # applied to every parameter, in every framework (decoupled, AdamW)
    warmup_steps: int = 3  # excluded from every statistic
    timed_steps: int = 20  # at least 20: median and IQR need them
    seed: int = 1234


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig
    note: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "note": self.note, "model": asdict(self.model), "train": asdict(self.train)}


# Tiny on purpose: the CPU run of every framework and mode fits the default 60 s budget.
CPU = Preset(
    "cpu",
    ModelConfig(vocab_size=256, seq_len=64, n_layer=2, n_head=4, d_model=64),
    TrainConfig(batch_size=8, warmup_steps=3, timed_steps=20),
    note="tiny CPU-sized config (about 0.1M parameters)",
)

# About 29M parameters (25M in the blocks, 4M in the tied embedding): big enough for tensor
# cores to matter, small enough that one run of every case fits a few minutes on one GPU.
GPU = Preset(
    "gpu",
    ModelConfig(vocab_size=8192, seq_len=512, n_layer=8, n_head=8, d_model=512),
    TrainConfig(batch_size=32, lr=6e-4, warmup_steps=5, timed_steps=50),
    note="GPU-sized config (about 29M parameters)",
)

PRESETS = {p.name: p for p in (CPU, GPU)}

# The modes, in the order they run. "compiled" means torch.compile, tf.function(jit_compile=True)
# (XLA) and jax.jit respectively; JAX has no eager training mode worth timing.
MODES = ("eager", "compiled")
PRECISIONS = ("fp32", "bf16")
FRAMEWORKS = ("pytorch", "tensorflow", "jax")
FRAMEWORK_MODES = {"pytorch": ("eager", "compiled"), "tensorflow": ("eager", "compiled"), "jax": ("compiled",)}
COMPILERS = {
    ("pytorch", "eager"): "none (eager)",
    ("pytorch", "compiled"): "torch.compile (inductor)",
    ("tensorflow", "eager"): "none (Keras layers, tf eager)",
    ("tensorflow", "compiled"): "tf.function(jit_compile=True) (XLA)",
    ("jax", "compiled"): "jax.jit (XLA)",
}


def preset(name: str, *, timed_steps: int | None = None, warmup_steps: int | None = None, batch_size: int | None = None) -> Preset:
    """A preset by name, with optional overrides of the step counts and batch."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown config '{name}'; choose one of {', '.join(PRESETS)}") from None
    changes = {k: v for k, v in (("timed_steps", timed_steps), ("warmup_steps", warmup_steps), ("batch_size", batch_size)) if v is not None}
    return replace(base, train=replace(base.train, **changes)) if changes else base


def from_dict(data: dict) -> Preset:
    return Preset(data["name"], ModelConfig(**data["model"]), TrainConfig(**data["train"]), data.get("note", ""))


def synthetic_batch(model: ModelConfig, train: TrainConfig):
    """The fixed synthetic batch (numpy int32, shape [B, T+1]), identical in every framework.

    Each row is an arithmetic progression mod vocab with its own start and stride, so the
    next token is predictable from the previous two: a learnable task whose loss falls.
    """
    import numpy as np

    rng = np.random.default_rng(train.seed)
    start = rng.integers(0, model.vocab_size, size=(train.batch_size, 1))
    stride = rng.integers(1, 8, size=(train.batch_size, 1))
    steps = np.arange(model.seq_len + 1)[None, :]
    return ((start + stride * steps) % model.vocab_size).astype(np.int32)
