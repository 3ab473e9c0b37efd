"""Fill-in-the-middle (FIM) rearrangement of pretraining samples (Bavarian et al., arXiv 2207.14255).

Matches the FIM of bigcode's Megatron-LM fork, which trained StarCoder: `permute` and
`GPTDataset.__getitem__` in `megatron/data/gpt_dataset.py` (default branch multi-query-attention;
the same since November 2022, save `split_sample`, added in November 2023). Per sample of
`seq_length + 1` token ids:

- the sample is cut at `<|endoftext|>` and each document is rearranged on its own, the
  separators kept (the paper's context-level FIM);
- a document is rearranged with probability `rate`: decoded to text, two cut points drawn
  uniformly over its characters (equal cuts and cuts at either end allowed), the three pieces
  re-encoded and laid out, with probability `spm_rate`, as the fork's SPM
  `<fim_prefix><fim_suffix>` suffix `<fim_middle>` prefix middle ("SPM variant 2" there),
  otherwise as PSM `<fim_prefix>` prefix `<fim_suffix>` suffix `<fim_middle>` middle;
- with `split_sample` set (the fork's `--fim-split-sample`), a document holding that token is
  rearranged with probability `rate`, and then each fragment between those tokens with
  probability `fragment_rate` (repository samples, one fragment per file);
- with `no_prefix` set, a document or fragment whose text starts with it stays as it is, after
  its draw (`no_fim_prefix` of later ports of this code, e.g. nanotron; not in the fork);
- the sample keeps its length: by default the joined result is cut at the end or padded at the
  end with `<fim_pad>`, as `__getitem__` does; `fix_length="document"` instead brings each
  rearranged document back to its own length by cutting its suffix (leaving the document as it
  was when the suffix is too short) or padding the suffix, as `permute(truncate_or_pad=True)`.

Where we differ from the fork, on purpose: every `<|endoftext|>` and split token is kept (the
fork drops the one after an empty document, and rearranges an empty last document into three
bare sentinels); pieces are encoded under the escaping policy (starforge/formats/tokenizer.py), so code that
spells `<fim_prefix>` stays text; special tokens already in a document (`<filename>`, ...) keep their
ids, and a cut point that falls inside one moves to its start. Not handled, as in the fork: a
multi-byte character split at the sample's edges decodes to U+FFFD and is re-encoded as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import tokenizers

from starforge.errors import ConfigError, PretrainError
from starforge.formats.tokenizer import EOD, FIM_MIDDLE, FIM_PAD, FIM_PREFIX, FIM_SUFFIX, encode_text


@dataclass
class FimConfig:
    rate: float = 0.5
    """Share of samples rearranged for fill-in-the-middle (StarCoder used 0.5)."""
    spm_rate: float = 0.5
    """Of those, share in suffix-prefix-middle (SPM) rather than PSM order."""
    split_sample: str | None = None
    """Token that splits a document into fragments rearranged one by one, e.g. a file separator in
    repository samples (the fork's --fim-split-sample; None, its default and what StarCoder
    used: the option came after StarCoder was trained)."""
    fragment_rate: float = 0.5
    """With split_sample: share of fragments rearranged in a document picked for FIM (the fork's
    --fragment-fim-rate, default 0.5)."""
    no_prefix: str | None = None
    """Leave a document or fragment whose text starts with this string as it is, e.g. '<jupyter_start>'
    (`no_fim_prefix` of later ports of the fork's code, e.g. nanotron; None, the default: no exemption)."""
    per_document: bool = True
    """Rearrange each <|endoftext|>-separated document of a sample on its own, separators kept, as
    the fork always does (StarCoder); false treats the whole sample as one text."""
    fix_length: Literal["sample", "document"] = "sample"
    """How the length is kept: 'sample' cuts or pads (<fim_pad>) the joined sample at its end, as the
    fork's GPTDataset does (StarCoder); 'document' cuts or pads each rearranged document's suffix,
    leaving a document unchanged when its suffix is too short, as the fork's permute() by default."""

    def __post_init__(self) -> None:
        for key in ("rate", "spm_rate", "fragment_rate"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fim.{key} = {value!r}: must be a probability in [0, 1]")
        if self.fix_length not in ("sample", "document"):
            raise ConfigError(f"fim.fix_length = {self.fix_length!r}: must be 'sample' or 'document'")
        if self.no_prefix == "":
            raise ConfigError("fim.no_prefix is empty: it would exempt every document; use null for none")
        if self.split_sample == "":
            raise ConfigError("fim.split_sample is empty: give a token such as '<file_sep>', or null for none")


class FimTransform:
    """Rearranges one sample of token ids; the data loader calls it with its own generator."""

    def __init__(self, cfg: FimConfig, tokenizer: tokenizers.Tokenizer, eod_token: str = EOD):
        """`eod_token`: the document separator of the shards, `<|endoftext|>` for ours, a public
        tokenizer's own EOS (`tokenizer_config.json`) for shards made with it."""
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.eod_token = eod_token
        self.prefix_id, self.middle_id, self.suffix_id, self.pad_id, self.eod_id = (
            self._token_id(tok) for tok in (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, eod_token))
        self.split_id = None if cfg.split_sample is None else self._token_id(cfg.split_sample, "fim.split_sample")
        # Special tokens inside a document are carried through by id, never re-encoded from text.
        self._special_text = {i: tok.content for i, tok in tokenizer.get_added_tokens_decoder().items() if tok.special}
        self._special_ids = np.array(sorted(self._special_text), dtype=np.int64)

    def _token_id(self, token: str, key: str | None = None) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            where = f" (named by {key})" if key else ""
            raise PretrainError(f"tokenizer has no '{token}' token{where}; FIM needs a tokenizer with "
                                f"{FIM_PREFIX}, {FIM_MIDDLE}, {FIM_SUFFIX}, {FIM_PAD} and {self.eod_token}, as "
                                "StarCoder's")
        return token_id

    def __call__(self, sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sample = np.asarray(sample, dtype=np.int64)
        if self.cfg.rate == 0:
            return sample.copy()
        if self.cfg.per_document:
            out = self._join(sample, self.eod_id, lambda doc: self._document(doc, rng))
        else:
            out = self._document(sample, rng)
        if out.shape[0] > sample.shape[0]:
            out = out[: sample.shape[0]]
        elif out.shape[0] < sample.shape[0]:
            out = np.concatenate([out, np.full(sample.shape[0] - out.shape[0], self.pad_id, dtype=np.int64)])
        return out

    def _document(self, doc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The fork's `fim_split_and_permute_sequence`: one draw for the document, then per fragment."""
        if self.split_id is None or not np.any(doc == self.split_id):
            return self._permute(doc, rng, self.cfg.rate)
        if rng.random() >= self.cfg.rate:
            return doc
        return self._join(doc, self.split_id, lambda frag: self._permute(frag, rng, self.cfg.fragment_rate))

    @staticmethod
    def _join(tokens: np.ndarray, sep: int, rearrange: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Apply `rearrange` to each non-empty run between `sep` tokens, keeping every `sep`."""
        cuts = np.flatnonzero(tokens == sep)
        parts, start = [], 0
        for end in [*cuts.tolist(), tokens.shape[0]]:
            run = tokens[start:end]
            parts.append(rearrange(run) if run.shape[0] else run)
            if end < tokens.shape[0]:
                parts.append(tokens[end : end + 1])
            start = end + 1
        return np.concatenate(parts)

    def _permute(self, tokens: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
        """The fork's `permute`, same order of random draws: apply?, two cuts, then SPM?"""
        if tokens.shape[0] == 0 or rng.random() >= rate:
            return tokens
        text, spans = self._decode(tokens)
        if self.cfg.no_prefix is not None and text.startswith(self.cfg.no_prefix):
            return tokens
        lo, hi = sorted(int(c) for c in rng.integers(0, len(text) + 1, size=2))
        lo, hi = self._snap(lo, spans), self._snap(hi, spans)
        prefix = self._encode(text, spans, 0, lo)
        middle = self._encode(text, spans, lo, hi)
        suffix = self._encode(text, spans, hi, len(text))
        if self.cfg.fix_length == "document":
            excess = prefix.shape[0] + middle.shape[0] + suffix.shape[0] + 3 - tokens.shape[0]
            if excess > 0:
                if suffix.shape[0] <= excess:
                    return tokens
                suffix = suffix[: suffix.shape[0] - excess]
            elif excess < 0:
                suffix = np.concatenate([suffix, np.full(-excess, self.pad_id, dtype=np.int64)])
        p, m, s = (np.array([i], dtype=np.int64) for i in (self.prefix_id, self.middle_id, self.suffix_id))
        if rng.random() < self.cfg.spm_rate:
            return np.concatenate([p, s, suffix, m, prefix, middle])
        return np.concatenate([p, prefix, s, suffix, m, middle])

    def _decode(self, tokens: np.ndarray) -> tuple[str, list[tuple[int, int, int]]]:
        """Text of `tokens`, and (start, end, id) of each special token's text within it."""
        special = np.isin(tokens, self._special_ids)
        if not special.any():
            return self.tokenizer.decode(tokens.tolist(), skip_special_tokens=False), []
        parts: list[str] = []
        spans: list[tuple[int, int, int]] = []
        pos = 0
        for run in np.split(tokens, np.flatnonzero(np.diff(special.astype(np.int8))) + 1):
            if int(run[0]) in self._special_text:
                for tok in run.tolist():
                    piece = self._special_text[tok]
                    spans.append((pos, pos + len(piece), tok))
                    parts.append(piece)
                    pos += len(piece)
            else:
                piece = self.tokenizer.decode(run.tolist(), skip_special_tokens=False)
                parts.append(piece)
                pos += len(piece)
        return "".join(parts), spans

    @staticmethod
    def _snap(cut: int, spans: list[tuple[int, int, int]]) -> int:
        for start, end, _ in spans:
            if start < cut < end:
                return start
        return cut

    def _encode(self, text: str, spans: list[tuple[int, int, int]], start: int, end: int) -> np.ndarray:
        """Ids of text[start:end]: plain text never becomes a special token; `spans` keep their ids."""
        ids: list[int] = []
        pos = start
        for s_start, s_end, tok in spans:
            if s_start < start or s_end > end:
                continue
            if s_start > pos:
                ids += encode_text(self.tokenizer, text[pos:s_start])
            ids.append(tok)
            pos = s_end
        if end > pos:
            ids += encode_text(self.tokenizer, text[pos:end])
        return np.array(ids, dtype=np.int64)
