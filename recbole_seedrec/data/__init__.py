"""Run-time data: the data set with its sememe fields, the word-sememe pipeline, training batches,
evaluation loaders and negatives, few-shot users and data fingerprints (the offline converter:
``prepare/``)."""
