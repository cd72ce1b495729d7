"""JAX: the probe's GPT as pure functions over a parameter dict, AdamW by hand, under jax.jit.

AdamW is written out (torch.optim.AdamW's update, bias-corrected) so that the probe needs only
jax itself and the optimizer maths matches PyTorch's exactly.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from probe.config import ModelConfig, Preset, synthetic_batch
from probe.measure import Built


def version() -> str:
    return jax.__version__


def threads() -> dict:
    return {"intra_op": "XLA default (all usable cores)"}


def set_threads(n: int) -> None:  # XLA's CPU thread pool is fixed at start-up; recorded as default
    return None


def _gpus():
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def cuda_available() -> tuple[bool, str]:
    return (True, "") if _gpus() else (False, f"jax has no GPU backend here (backend: {jax.default_backend()}; install jax[cuda12])")


def device_name(device: str) -> str | None:
    gpus = _gpus()
    return gpus[0].device_kind if device == "cuda" and gpus else None


def bf16_support(device: str) -> tuple[bool, str]:
    if device == "cuda":
        cc = getattr(_gpus()[0], "compute_capability", None)
        if cc is not None and float(cc) < 8.0:
            return False, f"compute capability {cc} < 8.0 has no bf16 tensor cores"
    return True, ""


def init_params(m: ModelConfig, key) -> dict:
    def normal(key, shape, std):
        return jax.random.normal(key, shape, jnp.float32) * std

    keys = iter(jax.random.split(key, 2 + 4 * m.n_layer))
    d, h = m.d_model, m.mlp_ratio * m.d_model
    proj_std = m.init_std / math.sqrt(2 * m.n_layer)
    blocks = []
    for _ in range(m.n_layer):
        blocks.append({
            "ln1_g": jnp.ones(d), "ln1_b": jnp.zeros(d),
            "qkv": normal(next(keys), (d, 3 * d), m.init_std), "proj": normal(next(keys), (d, d), proj_std),
            "ln2_g": jnp.ones(d), "ln2_b": jnp.zeros(d),
            "fc": normal(next(keys), (d, h), m.init_std), "fc_proj": normal(next(keys), (h, d), proj_std),
        })
    return {
        "wte": normal(next(keys), (m.vocab_size, d), m.init_std),
        "wpe": normal(next(keys), (m.seq_len, d), m.init_std),
        "blocks": blocks, "lnf_g": jnp.ones(d), "lnf_b": jnp.zeros(d),
    }


def _layer_norm(x, g, b, eps):
    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    var = ((x32 - mean) ** 2).mean(-1, keepdims=True)
    return ((x32 - mean) * jax.lax.rsqrt(var + eps) * g + b).astype(x.dtype)


def forward(params: dict, idx, m: ModelConfig, dtype):
    B, T = idx.shape
    H, hd = m.n_head, m.head_dim
    x = (params["wte"][idx] + params["wpe"][:T]).astype(dtype)
    mask = jnp.tril(jnp.ones((T, T), bool))
    for p in params["blocks"]:
        a = _layer_norm(x, p["ln1_g"], p["ln1_b"], m.ln_eps)
        q, k, v = jnp.split(a @ p["qkv"].astype(dtype), 3, axis=-1)
        q, k, v = (t.reshape(B, T, H, hd).transpose(0, 2, 1, 3) for t in (q, k, v))
        scores = jnp.einsum("bhqd,bhkd->bhqk", q, k).astype(jnp.float32) / math.sqrt(hd)
        att = jax.nn.softmax(jnp.where(mask, scores, -jnp.inf), axis=-1).astype(dtype)
        y = jnp.einsum("bhqk,bhkd->bhqd", att, v).transpose(0, 2, 1, 3).reshape(B, T, m.d_model)
        x = x + y @ p["proj"].astype(dtype)
        a = _layer_norm(x, p["ln2_g"], p["ln2_b"], m.ln_eps)
        x = x + jax.nn.gelu(a @ p["fc"].astype(dtype), approximate=True) @ p["fc_proj"].astype(dtype)
    x = _layer_norm(x, params["lnf_g"], params["lnf_b"], m.ln_eps)
    return (x @ params["wte"].astype(dtype).T).astype(jnp.float32)


def loss_fn(params, x, y, m, dtype):
    logits = forward(params, x, m, dtype)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, y[..., None], axis=-1).mean()


def make_step(preset: Preset, dtype):
    m, t = preset.model, preset.train

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, m, dtype)
        count = opt_state["count"] + 1
        b1c, b2c = 1 - t.beta1 ** count, 1 - t.beta2 ** count
        mu = jax.tree.map(lambda mu, g: t.beta1 * mu + (1 - t.beta1) * g, opt_state["mu"], grads)
        nu = jax.tree.map(lambda nu, g: t.beta2 * nu + (1 - t.beta2) * g * g, opt_state["nu"], grads)

        def update(p, mu, nu):  # torch.optim.AdamW: decay first, then the Adam step
            p = p * (1 - t.lr * t.weight_decay)
            return p - t.lr * (mu / b1c) / (jnp.sqrt(nu / b2c) + t.eps)

        params = jax.tree.map(update, params, mu, nu)
        return params, {"mu": mu, "nu": nu, "count": count}, loss

    return step


def set_tf32(enabled: bool) -> None:
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if enabled else "highest")


def build(preset: Preset, mode: str, precision: str, device: str, tf32: bool) -> Built:
    if mode != "compiled":
        raise ValueError("JAX is timed under jax.jit only")
    set_tf32(tf32)
    dev = _gpus()[0] if device == "cuda" else jax.devices("cpu")[0]
    dtype = jnp.bfloat16 if precision == "bf16" else jnp.float32
    data = jax.device_put(jnp.asarray(synthetic_batch(preset.model, preset.train)), dev)
    x, y = data[:, :-1], data[:, 1:]
    params = jax.device_put(init_params(preset.model, jax.random.PRNGKey(preset.train.seed)), dev)
    zeros = jax.tree.map(jnp.zeros_like, params)
    state = {"params": params, "opt": {"mu": zeros, "nu": jax.tree.map(jnp.zeros_like, params), "count": jnp.zeros((), jnp.int32)}}
    jitted = jax.jit(make_step(preset, dtype), donate_argnums=(0, 1))

    def step():
        state["params"], state["opt"], loss = jitted(state["params"], state["opt"], x, y)
        return loss

    def peak():
        stats = dev.memory_stats() or {}
        return stats.get("peak_bytes_in_use")

    kind = "jax memory_stats peak_bytes_in_use (process peak)" if device == "cuda" else "n/a (CPU)"
    n_params = sum(int(leaf.size) for leaf in jax.tree.leaves(params))
    return Built(step, lambda loss: jax.block_until_ready(loss), lambda v: float(v), peak if device == "cuda" else (lambda: None), kind, n_params)
