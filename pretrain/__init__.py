"""StarCoder-family pretraining on megatron-core: MQA, learned positions, FIM, export to GPTBigCode."""

import logging
import warnings

# megatron-core warns at import that TransformerEngine/Apex are absent (expected on the CPU) and
# logs every shard index it opens at INFO; keep its warnings and errors only.
warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")
for _name in ("megatron.core.datasets", "megatron.core.distributed", "megatron.core.dist_checkpointing"):
    logging.getLogger(_name).setLevel(logging.WARNING)
