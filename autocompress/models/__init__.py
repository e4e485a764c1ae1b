"""The models autocompress ships, each with what the search must know about it.

Importing this package registers their compression structure (prune groups, custom pruners,
distillation), so a RepNet is pruned by its stages wherever it comes from.
"""

from autocompress.models import repnet_structure  # noqa: F401  registers RepNet's structure
