"""Recovery's engine: distilling a compressed model toward the uncompressed one, used by the
finetune technique (autocompress.compression.finetune)."""
