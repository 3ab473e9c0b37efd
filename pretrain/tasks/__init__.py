"""Synthetic reasoning tasks used to test trainer options (Seq-VCR, pause tokens)."""
