"""StarCoder-family pretraining on megatron-core: MQA, learned positions, FIM, export to GPTBigCode."""
