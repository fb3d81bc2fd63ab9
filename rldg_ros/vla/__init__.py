"""Generalist policies (issue #8): action tokenization and normalization shared by the OpenVLA-style and Octo-style
models, the common policy interface, and (later in #8) the models and their fine-tuning."""
