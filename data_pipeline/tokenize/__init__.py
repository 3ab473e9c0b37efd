"""Tokenizer training (`train`) and Megatron shard writing (`shards`); the special-token escaping
policy both follow is in `special_tokens`."""
