"""TensorFlow/Keras: the probe's GPT in Keras 3 layers on the TensorFlow backend, trained with a
GradientTape step run eagerly, or under tf.function(jit_compile=True) (XLA)."""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from probe.config import ModelConfig, Preset, synthetic_batch  # noqa: E402
from probe.measure import Built  # noqa: E402


def version() -> str:
    return f"{tf.__version__} (keras {keras.__version__})"


def threads() -> dict:
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)",
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default"}


def set_threads(n: int) -> None:
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def cuda_available() -> tuple[bool, str]:
    if tf.config.list_physical_devices("GPU"):
        return True, ""
    return False, "TensorFlow sees no GPU (tensorflow-cpu, or no CUDA-enabled tensorflow installed)"


def device_name(device: str) -> str | None:
    gpus = tf.config.list_physical_devices("GPU")
    if device != "cuda" or not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name")


def bf16_support(device: str) -> tuple[bool, str]:
    if device == "cuda":
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        cc = details.get("compute_capability")
        if cc and cc < (8, 0):
            return False, f"compute capability {cc} < 8.0 has no bf16 tensor cores"
    return True, ""


def _normal(std: float):
    return keras.initializers.RandomNormal(mean=0.0, stddev=std)


class Block(keras.layers.Layer):
    def __init__(self, m: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        self.m = m
        proj_std = m.init_std / math.sqrt(2 * m.n_layer)
        d = m.d_model
        self.ln1 = keras.layers.LayerNormalization(epsilon=m.ln_eps, dtype=self.dtype_policy)
        self.qkv = keras.layers.Dense(3 * d, use_bias=False, kernel_initializer=_normal(m.init_std), dtype=self.dtype_policy)
        self.proj = keras.layers.Dense(d, use_bias=False, kernel_initializer=_normal(proj_std), dtype=self.dtype_policy)
        self.ln2 = keras.layers.LayerNormalization(epsilon=m.ln_eps, dtype=self.dtype_policy)
        self.fc = keras.layers.Dense(m.mlp_ratio * d, use_bias=False, kernel_initializer=_normal(m.init_std), dtype=self.dtype_policy)
        self.fc_proj = keras.layers.Dense(d, use_bias=False, kernel_initializer=_normal(proj_std), dtype=self.dtype_policy)

    def call(self, x):
        m = self.m
        B, T = tf.shape(x)[0], tf.shape(x)[1]
        q, k, v = tf.split(self.qkv(self.ln1(x)), 3, axis=-1)
        q, k, v = (tf.transpose(tf.reshape(t, (B, T, m.n_head, m.head_dim)), (0, 2, 1, 3)) for t in (q, k, v))
        scores = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32) / math.sqrt(m.head_dim)
        mask = tf.linalg.band_part(tf.ones((T, T), tf.bool), -1, 0)
        att = tf.cast(tf.nn.softmax(tf.where(mask, scores, -1e9), axis=-1), x.dtype)
        y = tf.reshape(tf.transpose(tf.matmul(att, v), (0, 2, 1, 3)), (B, T, m.d_model))
        x = x + self.proj(y)
        return x + self.fc_proj(tf.nn.gelu(self.fc(self.ln2(x)), approximate=True))


class GPT(keras.Model):
    def __init__(self, m: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        self.m = m
        self.wte = keras.layers.Embedding(m.vocab_size, m.d_model, embeddings_initializer=_normal(m.init_std))
        self.wpe = keras.layers.Embedding(m.seq_len, m.d_model, embeddings_initializer=_normal(m.init_std))
        self.blocks = [Block(m, dtype=self.dtype_policy) for _ in range(m.n_layer)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=m.ln_eps, dtype=self.dtype_policy)

    def call(self, idx):
        compute = self.compute_dtype
        x = tf.cast(self.wte(idx) + self.wpe(tf.range(tf.shape(idx)[1])), compute)
        for block in self.blocks:
            x = block(x)
        # Tied LM head; the fp32 embedding table is cast to the compute dtype for the matmul.
        return tf.matmul(self.ln_f(x), tf.cast(self.wte.embeddings, compute), transpose_b=True)


def build(preset: Preset, mode: str, precision: str, device: str, tf32: bool) -> Built:
    m, t = preset.model, preset.train
    tf.config.experimental.enable_tensor_float_32_execution(tf32)
    keras.utils.set_random_seed(t.seed)
    placement = "/GPU:0" if device == "cuda" else "/CPU:0"
    # Mixed bf16: fp32 variables and optimizer state, layer compute in bf16, loss in fp32.
    policy = "mixed_bfloat16" if precision == "bf16" else "float32"
    with tf.device(placement):
        data = tf.constant(synthetic_batch(m, t))
        x, y = data[:, :-1], data[:, 1:]
        model = GPT(m, dtype=policy)
        model(x[:1])  # create the variables
        opt = keras.optimizers.AdamW(learning_rate=t.lr, weight_decay=t.weight_decay, beta_1=t.beta1, beta_2=t.beta2, epsilon=t.eps)
        opt.build(model.trainable_variables)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    n_params = int(sum(math.prod(v.shape) for v in model.trainable_variables))
    fn = tf.function(train_step, jit_compile=True) if mode == "compiled" else train_step

    def step():
        with tf.device(placement):
            return fn(x, y)

    def sync(loss):
        # sync_devices waits for every queued kernel; .numpy() would also copy the loss back.
        sync_devices = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
        sync_devices() if sync_devices else loss.numpy()

    if device == "cuda":
        tf.config.experimental.reset_memory_stats("GPU:0")
        return Built(step, sync, lambda v: float(v.numpy()), lambda: int(tf.config.experimental.get_memory_info("GPU:0")["peak"]), "tf get_memory_info peak", n_params)
    return Built(step, sync, lambda v: float(v.numpy()), memory_kind="n/a (CPU)", param_count=n_params)
