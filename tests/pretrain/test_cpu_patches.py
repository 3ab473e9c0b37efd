"""The CPU patches are applied only without CUDA, and make megatron-core's CUDA-only spots run."""

import torch
from megatron.core import utils as mcore_utils
from megatron.core.models.common.language_module.language_module import LanguageModule
from megatron.core.pipeline_parallel import p2p_communication, schedules
from megatron.core.tensor_parallel import mappings as mcore_mappings
from megatron.core.tensor_parallel import random as mcore_random

from pretrain import cpu_patches


def test_not_applied_when_cuda_is_present():
    was = cpu_patches.is_applied()
    cpu_patches.revert()
    try:
        original = mcore_utils.GlobalMemoryBuffer.get_tensor
        fork = mcore_random.CudaRNGStatesTracker.fork
        gather = mcore_mappings._gather_along_last_dim
        setup = LanguageModule.setup_embeddings_and_output_layer
        assert cpu_patches.apply(cuda_available=True) is False
        assert schedules.torch is torch and p2p_communication.torch is torch
        assert LanguageModule.setup_embeddings_and_output_layer is setup
        assert mcore_utils.GlobalMemoryBuffer.get_tensor is original
        assert mcore_random.CudaRNGStatesTracker.fork is fork
        assert mcore_mappings._gather_along_last_dim is gather
        assert not cpu_patches.is_applied()
    finally:
        if was:
            cpu_patches.apply(cuda_available=False)


def test_applied_without_cuda_and_revertible():
    was = cpu_patches.is_applied()
    cpu_patches.revert()
    try:
        assert cpu_patches.apply(cuda_available=False) is True
        buf = mcore_utils.GlobalMemoryBuffer().get_tensor((2, 3, 4), torch.float32, "mpu")
        assert buf.shape == (2, 3, 4) and buf.device.type == "cpu"
        assert mcore_mappings._gather_along_last_dim is not cpu_patches._ORIGINALS["_gather_along_last_dim"]
        # Pipeline schedules and p2p: "cuda" allocations land on the CPU.
        assert schedules.torch.zeros([], dtype=torch.int, device="cuda").device.type == "cpu"
        assert p2p_communication.torch.cuda.current_device() == "cpu"
        cpu_patches.revert()
        assert not cpu_patches.is_applied()
        assert schedules.torch is torch and p2p_communication.torch is torch
        assert mcore_mappings._gather_along_last_dim.__module__ == "megatron.core.tensor_parallel.mappings"
    finally:
        if was:
            cpu_patches.apply(cuda_available=False)


def test_rng_tracker_fork_is_seeded_and_restores_the_outer_state():
    cpu_patches.apply(cuda_available=False)
    tracker = mcore_random.CudaRNGStatesTracker()
    tracker.add("model-parallel-rng", 42)
    torch.manual_seed(0)
    outer_before = torch.rand(3)
    torch.manual_seed(0)
    with tracker.fork():
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), outer_before)  # outer stream untouched by the fork
    expected = torch.rand(3, generator=torch.Generator().manual_seed(42))
    assert torch.equal(inside, expected)
    with tracker.fork():
        assert not torch.equal(torch.rand(3), expected)  # the named stream advanced
