"""From files and text to the model's inputs: CoNLL files, raw-text documents, the tokeniser,
the vocabulary and feature groups that turn tokens into the ids of x<t>, and padded batches."""
