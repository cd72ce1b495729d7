"""Analytic parameter and FLOP counts for the probe's model (the nanoGPT/PaLM estimate).

FLOPs per training step = 6 * N_matmul * tokens + 12 * n_layer * d_model * seq_len^2 * batch:
6N for the forward (2N) and backward (4N) matmuls against every weight, plus the attention
score and value matmuls (QK^T and AV, forward and backward), counted over the full T x T
square as FlopCounterMode counts them. N_matmul is every weight that enters a matmul: the
blocks' linear layers and the tied token embedding (it is the LM head); position embeddings,
LayerNorm parameters, softmax, GELU and the optimizer update are left out (they are small).
"""

from __future__ import annotations

from probe.config import ModelConfig


def param_counts(m: ModelConfig) -> dict[str, int]:
    """Parameter counts: total, matmul (the N of 6N), embeddings, per block."""
    d, hidden = m.d_model, m.d_model * m.mlp_ratio
    attn = d * 3 * d + d * d  # qkv and output projection, no biases
    mlp = d * hidden + hidden * d
    norms = 2 * 2 * d  # two LayerNorms with scale and bias
    block = attn + mlp + norms
    token_emb = m.vocab_size * d  # tied with the LM head
    pos_emb = m.seq_len * d
    final_norm = 2 * d
    total = m.n_layer * block + token_emb + pos_emb + final_norm
    matmul = m.n_layer * (attn + mlp) + token_emb
    return {"total": total, "matmul": matmul, "token_embedding": token_emb, "position_embedding": pos_emb, "per_block": block}


def flops_per_step(m: ModelConfig, batch_size: int) -> dict[str, float]:
    """Forward+backward FLOPs of one step, split into the 6N term and the attention term."""
    tokens = batch_size * m.seq_len
    dense = 6 * param_counts(m)["matmul"] * tokens
    attention = 12 * m.n_layer * m.d_model * m.seq_len * m.seq_len * batch_size
    return {"dense": float(dense), "attention": float(attention), "total": float(dense + attention), "tokens": tokens}
