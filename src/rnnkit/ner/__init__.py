"""Named-entity tagging with the lecture's RNN: tasks and tag schemes (what y<t> is), training
with checkpoints, the tagger that applies a trained model, pipelines over many texts, metrics."""
