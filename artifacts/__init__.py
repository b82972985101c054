"""From a chosen architecture to deployable files: the final training (resumable), weights
as safetensors, ONNX in fp32 and int8, scoring in ONNX Runtime, and compression.

Imports ``search`` (data, training helpers) and ``space``; no database, no HTTP, no Ray: the
workers store what it makes and the agents time it.
"""
