"""Framework Pulse training-speed probe: the same small GPT trained in PyTorch, TensorFlow/Keras
and JAX, eager and compiled, on CPU or CUDA; one JSON result file per run.

Standalone on purpose: it imports neither the dashboard nor the database (a test checks), so
it runs on any GPU host with only the frameworks installed. `python -m probe --help`.
"""

__version__ = "1.0"
