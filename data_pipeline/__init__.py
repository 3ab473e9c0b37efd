"""Code curation on datatrove: read repositories, filter, deduplicate, tokenize into Megatron shards."""
