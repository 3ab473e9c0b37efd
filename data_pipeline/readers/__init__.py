"""Readers: which files make up a corpus (`sources`) and the datatrove block that reads them."""
