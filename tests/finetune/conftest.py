"""Shared fixtures: the generated problems and the tiny GPTBigCode, built once per session."""

import pytest
import torch

from finetune.problems import generate_problems, iter_texts, write_problems
from finetune.tiny import TinyModelConfig, make_tiny_model

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def problem_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("problems")
    probs = generate_problems(n_train=600, n_heldout=150, seed=0)
    train = write_problems([p for p in probs if p.split == "train"], root / "train.jsonl")
    held = write_problems([p for p in probs if p.split == "heldout"], root / "heldout.jsonl")
    return {"train": train, "heldout": held, "problems": probs}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, problem_files):
    probs = [p for p in problem_files["problems"] if p.split == "train"]
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", iter_texts(probs), TinyModelConfig())
