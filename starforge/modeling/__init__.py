"""Model pieces both trainers use: the Seq-VCR regulariser and its collapse metric
(`seqvcr`), pause tokens (`pause`). Plain torch and tokenizer code: each trainer hooks them into
its own model (pretrain's megatron-core glue is `pretrain/seqvcr_hook.py`; finetune's is its
Hugging Face trainer subclass), so neither trainer imports the other."""
