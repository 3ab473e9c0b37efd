"""StarCoder-family pretraining on megatron-core: MQA, learned positions, FIM, export to GPTBigCode."""

import logging
import warnings

# megatron-core warns that TransformerEngine/Apex are absent (expected on the CPU), about its own
# deprecations (`tp_group`, `ffn_hidden_size`, cuda-graph scope, torch's `load_state_dict`), and
# logs every shard index it opens at INFO: none of it is actionable for a starforge user, so keep
# megatron's real warnings and errors only.
warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")
warnings.filterwarnings("ignore", message="Apex is not installed")
warnings.filterwarnings("ignore", message="full scope is deprecated")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"megatron\.")
warnings.filterwarnings("ignore", category=FutureWarning, module=r"megatron\.core\.dist_checkpointing")
for _name in ("megatron.core.datasets", "megatron.core.distributed", "megatron.core.dist_checkpointing"):
    logging.getLogger(_name).setLevel(logging.WARNING)
