"""One module per framework, each with the same interface: MODULE (what to import),
version(), bf16_support(device), threads(), set_threads(n) and build(preset, mode, precision,
device, tf32) -> measure.Built. Backends are imported only inside a worker process."""

BACKENDS = {"pytorch": "probe.backends.torch_gpt", "tensorflow": "probe.backends.tf_gpt", "jax": "probe.backends.jax_gpt"}
IMPORTS = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
