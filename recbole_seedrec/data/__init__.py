"""Data tools: the atomic-file converter, the word-sememe pipeline and the item-sememe table."""
