"""A small residual CNN on scikit-learn's handwritten digits: the second shipped model."""
