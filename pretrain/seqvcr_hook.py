"""megatron-core glue for the shared Seq-VCR regulariser (`starforge/modeling/seqvcr.py`): a
forward hook on one `TransformerLayer`, the sequence-parallel gather, and `attach()` registering
the regulariser as a submodule of the model (docs/seqvcr.md)."""

from __future__ import annotations

import torch

from starforge.modeling.seqvcr import SeqVcrConfig, SeqVcrRegularizer


def megatron_hidden(layer_output: torch.Tensor, sequence_parallel: bool = False) -> torch.Tensor:
    """A megatron-core layer output [s(/tp), b, h] as [b, s, h] with the whole sequence: under
    sequence parallelism each TP rank holds a slice of the sequence, gathered here."""
    from megatron.core import parallel_state

    if (sequence_parallel and parallel_state.model_parallel_is_initialized()
            and parallel_state.get_tensor_model_parallel_world_size() > 1):
        from megatron.core.tensor_parallel.mappings import gather_from_sequence_parallel_region

        layer_output = gather_from_sequence_parallel_region(layer_output)
    return layer_output.transpose(0, 1)


class LayerCapture:
    """A forward hook on one megatron-core `TransformerLayer` keeping its output hidden states
    [b, s, h] for the loss (with autograd) and the collapse metric. Removed by `remove()`."""

    def __init__(self, model: torch.nn.Module, layer: int, sequence_parallel: bool = False):
        self.hidden: torch.Tensor | None = None
        self.sequence_parallel = sequence_parallel
        module = model.decoder.layers[layer - 1]
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: torch.nn.Module, args: tuple, output) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output  # (hidden, context)
        self.hidden = megatron_hidden(out, self.sequence_parallel)

    def pop(self) -> torch.Tensor:
        hidden, self.hidden = self.hidden, None
        if hidden is None:
            raise RuntimeError("Seq-VCR: the hooked layer did not run in this forward pass")
        return hidden

    def remove(self) -> None:
        self.handle.remove()


def attach(model: torch.nn.Module, cfg: SeqVcrConfig, num_layers: int, hidden_size: int,
           sequence_parallel: bool = False) -> LayerCapture:
    """Register the regulariser as `model.seqvcr` (so the optimizer, data-parallel averaging,
    gradient clipping and checkpoints see its projection) and hook the chosen layer."""
    layer = cfg.layer_index(num_layers)
    ref = next(model.parameters())
    model.seqvcr = SeqVcrRegularizer(cfg, hidden_size).to(device=ref.device, dtype=ref.dtype)
    return LayerCapture(model, layer, sequence_parallel)
