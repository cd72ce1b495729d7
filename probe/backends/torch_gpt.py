"""PyTorch: the probe's GPT in plain nn.Modules; eager, or the model under torch.compile."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from probe.config import ModelConfig, Preset, synthetic_batch
from probe.measure import Built


def version() -> str:
    return torch.__version__


def threads() -> dict:
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def set_threads(n: int) -> None:
    torch.set_num_threads(n)


def cuda_available() -> tuple[bool, str]:
    if torch.cuda.is_available():
        return True, ""
    build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build"
    return False, f"torch.cuda.is_available() is False ({build})"


def bf16_support(device: str) -> tuple[bool, str]:
    if device == "cuda":
        return (True, "") if torch.cuda.is_bf16_supported() else (False, "this GPU has no bf16 support (torch.cuda.is_bf16_supported)")
    return True, ""  # CPU autocast supports bf16


def device_name(device: str) -> str | None:
    return torch.cuda.get_device_name(0) if device == "cuda" else None


def cuda_runtime() -> str | None:
    return torch.version.cuda


class Attention(nn.Module):
    def __init__(self, m: ModelConfig):
        super().__init__()
        self.n_head = m.n_head
        self.qkv = nn.Linear(m.d_model, 3 * m.d_model, bias=False)
        self.proj = nn.Linear(m.d_model, m.d_model, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, m: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(m.d_model, eps=m.ln_eps)
        self.attn = Attention(m)
        self.ln2 = nn.LayerNorm(m.d_model, eps=m.ln_eps)
        self.fc = nn.Linear(m.d_model, m.mlp_ratio * m.d_model, bias=False)
        self.fc_proj = nn.Linear(m.mlp_ratio * m.d_model, m.d_model, bias=False)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, m: ModelConfig):
        super().__init__()
        self.wte = nn.Embedding(m.vocab_size, m.d_model)
        self.wpe = nn.Embedding(m.seq_len, m.d_model)
        self.blocks = nn.ModuleList(Block(m) for _ in range(m.n_layer))
        self.ln_f = nn.LayerNorm(m.d_model, eps=m.ln_eps)
        for name, p in self.named_parameters():
            if p.dim() == 2:  # every weight matrix and embedding; LayerNorms keep 1 and 0
                std = m.init_std / math.sqrt(2 * m.n_layer) if name.endswith("proj.weight") else m.init_std
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # tied LM head


def set_tf32(enabled: bool) -> None:
    torch.set_float32_matmul_precision("high" if enabled else "highest")
    torch.backends.cudnn.allow_tf32 = enabled


def build(preset: Preset, mode: str, precision: str, device: str, tf32: bool) -> Built:
    m, t = preset.model, preset.train
    set_tf32(tf32)
    torch.manual_seed(t.seed)
    dev = torch.device(device)
    data = torch.from_numpy(synthetic_batch(m, t)).long().to(dev)
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()
    model = GPT(m).to(dev)
    # On CUDA the fused AdamW kernel: the other frameworks' compiled steps fuse the update too (XLA).
    fused = device == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay, fused=fused)
    notes = ("AdamW fused=True (CUDA)",) if fused else ("AdamW default for-loop implementation (CPU)",)
    forward = torch.compile(model) if mode == "compiled" else model
    use_bf16 = precision == "bf16"
    n_params = sum(p.numel() for p in model.parameters())

    def step():
        # Mixed bf16: fp32 master weights and optimizer state, matmuls in bf16, loss in fp32.
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = forward(x)
        loss = F.cross_entropy(logits.float().view(-1, m.vocab_size), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

        def sync(_loss):
            torch.cuda.synchronize()

        return Built(step, sync, lambda v: float(v.item()), lambda: int(torch.cuda.max_memory_allocated()), "cuda max_memory_allocated", n_params, notes)
    # CPU kernels run synchronously: the step has finished when it returns.
    return Built(step, lambda _loss: None, lambda v: float(v.item()), memory_kind="n/a (CPU)", param_count=n_params, notes=notes)
