"""One presidio recognizer per PII class; `build_recognizers` makes the set a config asks for."""

from __future__ import annotations

import logging

from presidio_analyzer import EntityRecognizer

from pii.config import PiiConfig
from pii.recognizers.email_recognizer import EmailRecognizer
from pii.recognizers.ip_recognizer import IpRecognizer
from pii.recognizers.key_recognizer import KeyRecognizer
from pii.recognizers.ner_recognizer import load_ner_recognizer
from pii.recognizers.password_recognizer import PasswordRecognizer
from pii.recognizers.username_recognizer import UsernameRecognizer

ENTITY_TO_CLASS = {"EMAIL_ADDRESS": "email", "IP_ADDRESS": "ip_address", "KEY": "key", "PASSWORD": "password",
                   "USERNAME": "username", "NAME": "name"}
CLASS_TO_ENTITY = {v: k for k, v in ENTITY_TO_CLASS.items()}
logger = logging.getLogger(__name__)

__all__ = ["ENTITY_TO_CLASS", "CLASS_TO_ENTITY", "build_recognizers", "EmailRecognizer", "IpRecognizer",
           "KeyRecognizer", "PasswordRecognizer", "UsernameRecognizer"]


def build_recognizers(cfg: PiiConfig) -> list[EntityRecognizer]:
    wanted = set(cfg.classes)
    recognizers: list[EntityRecognizer] = []
    if "email" in wanted:
        recognizers.append(EmailRecognizer(cfg.ignore_email_domains, cfg.ignore_email_local_parts, cfg.fake_markers))
    if "ip_address" in wanted:
        recognizers.append(IpRecognizer(cfg.ip_allowlist))
    if "key" in wanted:
        recognizers.append(KeyRecognizer(cfg.fake_markers, cfg.ignore_uuids, cfg.min_secret_length,
                                         cfg.min_entropy_ratio))
    if "password" in wanted:
        recognizers.append(PasswordRecognizer(cfg.fake_markers, cfg.ignore_email_domains))
    if "username" in wanted:
        recognizers.append(UsernameRecognizer(cfg.ignore_usernames, cfg.fake_markers, cfg.ignore_email_domains))
    if "name" in wanted and cfg.ner_model is None:
        logger.info("class 'name' needs a local NER model (ner_model); names are not detected")
    elif cfg.ner_model is not None:
        ner = load_ner_recognizer(cfg.ner_model, {c: CLASS_TO_ENTITY[c] for c in cfg.classes})
        if ner is not None:
            recognizers.append(ner)
    return recognizers
