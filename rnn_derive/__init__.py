"""The command line of rnn-derivations: it sits on top of rnn_num, rnn_sym, rnn_check and derivations."""
