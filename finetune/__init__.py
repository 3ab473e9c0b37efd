"""Continued pretraining, instruction tuning and RL from execution feedback."""
