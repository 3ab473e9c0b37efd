"""SFT records: every input record becomes a prompt/completion pair, so TRL computes the loss on
the completion only (`completion_only_loss`, its default for such data). Formats:

- problem: `{"prompt", "solution"}` (the generated family, `finetune/problems.py`), or plain
  `{"prompt", "completion"}`: code continuation, the completion ends with the EOS token;
- instruction: `{"instruction", "input"?, "response"}`, one user turn rendered with the chat template;
- chat: `{"messages": [{"role", "content"}, ...]}`; the loss covers the last assistant turn,
  earlier turns are context (a limit: multi-turn data trains on its final answer only);
- commit: `{"before", "message", "after"}` (CommitPack's `old_contents`, `subject`/`message`,
  `new_contents` accepted), as StarCoder's `<commit_before>..<commit_msg>..<commit_after>..`.

Chats are rendered by the tokenizer's `apply_chat_template` (its own template, or StarChat's
that `finetune/models.py` installs): the prompt is the conversation without the last turn plus
the generation prompt, the completion what the full conversation adds to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starforge.errors import FormatError


def chat_pair(tokenizer, messages: list[dict[str, str]], where: str) -> dict[str, str]:
    """The conversation as prompt (all turns but the last, then the assistant's generation
    prompt) and completion (the last turn as the template renders it, then EOS)."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise FormatError(f"{where}: the tokenizer's chat template does not render the conversation as its "
                          "prompt followed by the last assistant turn; it cannot be trained prompt/completion")
    completion = full[len(prompt):]
    eos = tokenizer.eos_token or ""
    return {"prompt": prompt, "completion": completion if completion.rstrip().endswith(eos) else completion + eos}


def record_to_pair(rec: Any, tokenizer, where: str) -> dict[str, str]:
    """One input record as {"prompt", "completion"}; `FormatError` names `where` if it fits no format."""
    if not isinstance(rec, dict):
        raise FormatError(f"{where}: expected a JSON object")
    eos = tokenizer.eos_token or ""

    def text(key: str, *alts: str, required: bool = True) -> str:
        for k in (key, *alts):
            if k in rec:
                if not isinstance(rec[k], str):
                    raise FormatError(f"{where}: field '{k}' must be a string, got {type(rec[k]).__name__}")
                return rec[k]
        if required:
            raise FormatError(f"{where}: missing field '{key}'")
        return ""

    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise FormatError(f"{where}: 'messages' must be a non-empty list of {{role, content}}")
        for i, m in enumerate(msgs):
            if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                raise FormatError(f"{where}: messages[{i}] needs string 'role' and 'content'")
        if msgs[-1]["role"] != "assistant":
            raise FormatError(f"{where}: the last message must be the assistant's (the trained response)")
        return chat_pair(tokenizer, [{"role": m["role"], "content": m["content"]} for m in msgs], where)
    if "instruction" in rec:
        instruction, extra = text("instruction"), text("input", required=False)
        user = instruction + (f"\n\n{extra}" if extra else "")
        return chat_pair(tokenizer, [{"role": "user", "content": user},
                                     {"role": "assistant", "content": text("response", "output")}], where)
    if any(k in rec for k in ("before", "old_contents")):
        before = text("before", "old_contents")
        msg = text("message", "subject")
        return {"prompt": f"<commit_before>{before}<commit_msg>{msg}<commit_after>",
                "completion": text("after", "new_contents") + eos}
    if "prompt" in rec and ("solution" in rec or "completion" in rec):
        return {"prompt": text("prompt"), "completion": text("completion", "solution") + eos}
    raise FormatError(f"{where}: record fits no SFT format; expected instruction/response, messages, "
                      "before/message/after (commit) or prompt/solution")


def read_sft_records(path: Path, tokenizer) -> list[dict[str, str]]:
    """Every record of an SFT JSONL file as a pair; errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: SFT data file not found")
    pairs = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 may sit in a text
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); SFT data is JSON lines") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        pairs.append(record_to_pair(rec, tokenizer, f"{path}:{lineno}"))
    if not pairs:
        raise FormatError(f"{path}: no SFT records")
    return pairs
