"""The lecture's model, in NumPy alone: the recurrence a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a) and
the output ŷ<t> = g2(W_ya a<t> + b_y), their backpropagation through time, a gated recurrent unit
beside it (gru.py), the optimisers, a CRF output layer, and the checks (gradcheck, the textbook
reference, PyTorch interop).

Nothing here knows about words, files or entities: that is rnnkit.data and rnnkit.ner.
"""
