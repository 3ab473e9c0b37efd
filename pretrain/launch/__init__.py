"""Launchers: Slurm sbatch scripts that start torchrun on every node."""
