"""Model size as deployed: the length of the serialized artifact (see autocompress.backends),
in MiB.

MiB (2**20 bytes) throughout, as the case study's "MB" is (25.67 M float32 parameters = 97.9).
Counting parameters would miss int8 packing, quantization parameters and graph overhead.
"""

__all__ = ["MIB"]

MIB = 2**20
