"""Shared pytest setup: run single-threaded torch so tests behave the same on 2-core CI; the
sandbox (warm and cold) and HumanEval, which eval's, finetune's and the sandbox's tests share."""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def humaneval():
    from eval.tasks import get_task

    return get_task("humaneval")


@pytest.fixture(scope="session", params=["warm", "cold"])
def sandbox(request):
    """Both execution paths: warm forked workers and one fresh sandbox process per sample."""
    from starforge.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(timeout=2.0, workers=2, warm=request.param == "warm")) as box:
        yield box
