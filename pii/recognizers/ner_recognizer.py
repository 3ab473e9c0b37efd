"""Person names from a local NER model, StarPII-style, when one is configured.

Two kinds load from a directory, nothing is downloaded: a spaCy pipeline (a `config.cfg`
inside; its PERSON/PER entities) or a Hugging Face token classifier (a `config.json`; labels
NAME/PER/PERSON, as bigcode/starpii's NAME class). Models see whole files, so a configured
model turns the analyzer's prefilter off: expect spaCy/transformers speed, not regex speed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult

logger = logging.getLogger(__name__)

PERSON_LABELS = frozenset({"PERSON", "PER", "NAME", "B-NAME", "I-NAME"})


class NerNameRecognizer(EntityRecognizer):
    ENTITY = "NAME"

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._spacy = None
        self._pipe = None
        super().__init__(supported_entities=[self.ENTITY], name="NerNameRecognizer")

    def load(self) -> None:
        if (self.model_dir / "config.cfg").is_file():
            import spacy

            self._spacy = spacy.load(self.model_dir)
        else:
            from transformers import pipeline

            self._pipe = pipeline("token-classification", model=str(self.model_dir), aggregation_strategy="simple")

    def analyze(self, text, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        if self._spacy is not None:
            spans = [(e.start_char, e.end_char, e.label_) for e in self._spacy(text).ents]
        else:
            spans = [(e["start"], e["end"], e["entity_group"]) for e in self._pipe(text)]
        return [RecognizerResult(self.ENTITY, start, end, 0.7,
                                 recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                                       RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
                for start, end, label in spans if label.upper() in PERSON_LABELS and end > start]


def load_ner_recognizer(model_dir: Path | None) -> NerNameRecognizer | None:
    """The recognizer for `model_dir`, or None (one log line) when unset or unusable."""
    if model_dir is None:
        return None
    model_dir = Path(model_dir)
    if not ((model_dir / "config.cfg").is_file() or (model_dir / "config.json").is_file()):
        logger.info("ner_model %s: no spaCy (config.cfg) or Hugging Face (config.json) model there; "
                    "names are not detected", model_dir)
        return None
    recognizer = NerNameRecognizer(model_dir)
    try:
        recognizer.load()
    except (ImportError, OSError, ValueError) as exc:
        logger.info("ner_model %s could not be loaded (%s); names are not detected", model_dir, exc)
        return None
    recognizer.is_loaded = True
    return recognizer
