"""The Python API with no labels: a Hugging Face BERT (built from a config, random weights,
no download) searched on its fidelity alone, how far its outputs move from the uncompressed
model's. Run from the repository (transformers installed, as `make test` does):
``.venv/bin/python examples/label_free.py``."""

import torch
from transformers import BertConfig, BertModel

import autocompress

torch.manual_seed(0)
config = BertConfig(
    vocab_size=1000,
    hidden_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=512,
)
model = BertModel(config).eval()
ids = torch.randint(0, 1000, (32, 64))  # 32 sentences: the inputs fidelity is averaged over
mask = torch.ones_like(ids)

result = autocompress.search(
    model,
    (ids[:1], mask[:1]),  # example inputs: one sentence, as the device sees it
    calibration=(ids, mask),  # the rows that calibrate int8 and that fidelity reads
    trials=30,
    run_dir="runs/label-free",
    name="bert-label-free",
    settings={"sampler": "random"},
)
print(autocompress.pareto(result))
exported = autocompress.export(result, "fastest", "runs/label-free/export", overwrite=True)
print(exported)
