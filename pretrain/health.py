"""Stop training on a non-finite loss or gradient norm, before the update that would spread it.

The check is megatron-core's: `RerunStateMachine.validate_result` (`megatron/core/
rerun_state_machine.py`), the call megatron's own `loss_func` (pretrain_gpt.py) and its DDP
gradient buffers (`distributed/param_and_grad_buffer.py`, `check_grads`) make with
`torch.isnan` / `torch.isinf` as rejection functions. We run it in its default mode, DISABLED
(no re-run of the step, no fault attribution: those need its checkpoint/resume protocol), where a
fatal rejection raises a RuntimeError; that becomes one line naming the step and the value. Both
values are the same on every rank (the loss is all-reduced over data and pipeline ranks, the norm
over the model-parallel group and computed from data-parallel-averaged gradients), so every
rank stops at the same step and none waits in a collective. Nothing is saved at that step: the
last checkpoint written is the last one with finite weights.
"""

from __future__ import annotations

import torch

from starforge.errors import PretrainError


def _not_finite(value: torch.Tensor) -> bool:
    return bool(torch.isnan(value) | torch.isinf(value))


def check_finite(step: int, loss: float, grad_norm: float, lr: float) -> None:
    """PretrainError at the first of `loss`, `grad_norm` that is NaN or infinite (`step`: 1-based)."""
    from megatron.core.rerun_state_machine import get_rerun_state_machine

    machine = get_rerun_state_machine()
    for name, value in (("loss", loss), ("gradient norm", grad_norm)):
        try:
            machine.validate_result(result=torch.tensor(value, dtype=torch.float64), rejection_func=_not_finite,
                                    message=f"{name} is not finite", fatal=True)
        except RuntimeError:
            raise PretrainError(f"step {step}: {name} is {value} (not finite; lr {lr:.3g}); stopped before the "
                                "update, nothing saved at this step; lower optim.lr or check the data, then "
                                "--resume from the last checkpoint") from None
