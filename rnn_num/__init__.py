"""rnn_num: the NumPy reference for the canonical RNN (no SymPy anywhere in it)."""
