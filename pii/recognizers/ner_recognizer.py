"""PII from a local NER model, StarPII-style, when one is configured.

Two kinds load from a directory, nothing is downloaded: a spaCy pipeline (a `config.cfg`
inside) or a Hugging Face token classifier (a `config.json`). Their labels map to our classes
by `LABEL_TO_CLASS`: spaCy's PERSON and CoNLL's PER are names; bigcode/starpii's NAME, EMAIL,
IP_ADDRESS, KEY, PASSWORD and USERNAME are ours by name (after the pipeline's aggregation drops
the B-/I- prefixes); anything else (StarPII's AMBIGUOUS, ORG, O) is dropped. Only the
configured classes are reported.

A token classifier sees at most `model_max_length` tokens at once (512 for StarPII): the
pipeline runs with a stride so that a long text is read in overlapping windows instead of being
truncated after its first window. Models see whole files, so a configured model turns the
analyzer's prefilter off: expect spaCy/transformers speed, not regex speed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult

logger = logging.getLogger(__name__)

LABEL_TO_CLASS = {"PERSON": "name", "PER": "name", "NAME": "name", "EMAIL": "email", "EMAIL_ADDRESS": "email",
                  "IP_ADDRESS": "ip_address", "KEY": "key", "PASSWORD": "password", "USERNAME": "username"}
"""Model label (B-/I- prefix removed, upper case) -> our class."""
_LARGEST_SENSIBLE_MAX_LENGTH = 1_000_000  # tokenizers without a limit report ~1e30


class NerRecognizer(EntityRecognizer):
    def __init__(self, model_dir: Path, entities: dict[str, str]):
        """`entities`: our class -> presidio entity, for the classes to report."""
        self.model_dir = Path(model_dir)
        self.class_to_entity = dict(entities)
        self.stride: int | None = None
        self._spacy = None
        self._pipe = None
        super().__init__(supported_entities=sorted(self.class_to_entity.values()), name="NerRecognizer")

    def load(self) -> None:
        if (self.model_dir / "config.cfg").is_file():
            import spacy

            self._spacy = spacy.load(self.model_dir)
            return
        from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForTokenClassification.from_pretrained(self.model_dir)
        max_length = tokenizer.model_max_length
        if tokenizer.is_fast and 16 <= max_length <= _LARGEST_SENSIBLE_MAX_LENGTH:
            self.stride = max_length // 4
        self._pipe = pipeline("token-classification", model=model, tokenizer=tokenizer,
                              aggregation_strategy="simple", stride=self.stride)

    def labelled_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, label) as the model emits them."""
        if self._spacy is not None:
            return [(e.start_char, e.end_char, e.label_) for e in self._spacy(text).ents]
        return [(e["start"], e["end"], e["entity_group"]) for e in self._pipe(text)]

    def analyze(self, text, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        for start, end, label in self.labelled_spans(text):
            entity = self.class_to_entity.get(LABEL_TO_CLASS.get(label.upper(), ""))
            if entity is None or end <= start or entities and entity not in entities:
                continue
            results.append(RecognizerResult(entity, start, end, 0.7, recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name, RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results


def load_ner_recognizer(model_dir: Path | None, entities: dict[str, str]) -> NerRecognizer | None:
    """The recognizer for `model_dir`, or None (one log line) when unset or unusable."""
    if model_dir is None:
        return None
    model_dir = Path(model_dir)
    if not ((model_dir / "config.cfg").is_file() or (model_dir / "config.json").is_file()):
        logger.info("ner_model %s: no spaCy (config.cfg) or Hugging Face (config.json) model there; "
                    "names are not detected", model_dir)
        return None
    try:
        return NerRecognizer(model_dir, entities)  # presidio's EntityRecognizer.__init__ calls load()
    except (ImportError, OSError, ValueError) as exc:
        logger.info("ner_model %s could not be loaded (%s); names are not detected",
                    model_dir, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
