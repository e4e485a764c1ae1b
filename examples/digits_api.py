"""The Python API on a model that is not RepNet: the shipped digits classifier, scored by a
plain function. Run from the repository: ``.venv/bin/python examples/digits_api.py``."""

import autocompress
from autocompress.models.digits.adapter import load_digits_model
from autocompress.models.digits.network import digits_split, error_rate

model, _ = load_digits_model()
training_images, _ = digits_split(held_out=False)

result = autocompress.search(
    model,
    training_images[:64],  # example inputs; they also calibrate int8
    evaluate=error_rate,  # model -> top-1 error on the 500 held-out images
    objectives=["top1_error"],
    budget_ms=0.8,
    trials=40,
    run_dir="runs/api",
    name="digits-api",
    # 5 of 500 images; without it each error may rise 10 % of the uncompressed 1.0 %: no image
    settings={"max_error_increase": {"top1_error": 0.01}},
)
print(autocompress.pareto(result))
exported = autocompress.export(result, "most-accurate", "runs/api/export", overwrite=True)
print({name: str(path) for name, path in exported.artifacts.items()})
print(exported.measured)
