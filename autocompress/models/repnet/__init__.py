"""RepNet (Dwibedi et al., CVPR 2020): the network, its weights, counting QUVA videos, training
on synthetic repetitions, and what compression must know about it."""
