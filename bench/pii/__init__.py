"""PII detection accuracy and speed: our presidio-based detector against a bigcode-style baseline.

    python -m bench.pii [--labelled-mb 8] [--clean-mb 8] [--seed 0]

The labelled set is built reproducibly (same interpreter and packages, same seed, same set;
the file list's fingerprint is printed) from real code nobody here wrote: the standard library
and installed packages (.py, .js, .json, .yaml, .cfg, .md), each file named by a key relative to
its root (`stdlib/json/decoder.py`, `site-packages/nltk/help.py`) and taken in the order of
sha256(seed:key), so installing a package adds files without reshuffling the others. Host files
get 1-4 synthetic PII values each, inserted as new lines in realistic places for their type
(string literals, comments, config values, connection strings, docstrings, Markdown prose and
code), with known spans; about half also get one decoy line from the issue's list of things to
ignore (example.com and noreply addresses, private IPs, version strings, UUIDs, AWS's
documented example key, environment lookups, templated values, package hashes). A disjoint set
of untouched files measures false positives.

Scoring, per class (email, ip_address, key, password; username for ours): a prediction on an
inserted line is a true positive when it overlaps a planted value of its class, else a false
positive; a planted value no prediction of its class overlaps is a false negative. Predictions
on the host files' own lines are left to the untouched set.

Untouched files hold PII of their own (authors' e-mail addresses in file headers, mostly), so
they carry reviewed labels, `bench/pii/labels.json`. Labelling rule: every candidate in the
default untouched set (seed 0, `--clean-mb 8`) was read by eye: our detector's findings, the
baseline's, and a loose sweep of every `x@y.z` string and every global IP literal. A value is
labelled PII when it is a real instance of a class we redact: an address that reaches, or
reveals, a real person's or organisation's mailbox (author headers, `__email__`, a gmane relay
or an anti-spam-munged address of a named person); a public IP address used as a machine's
address; a working secret or password. Not labelled: documentation personas and placeholders
(`bill@amazon.com` beside `bill@example.com` in AWS examples, `t@e.com` and `password =
'python'` for a fake test server), message-ids, and whatever is not of the class (versions,
slices, decorators). Labels name the file by key, the line, and the value by length and sha256,
never the value, and are matched on the text alone, so they do not depend on any detector's
output at run time. A finding that overlaps a labelled value of its class is a true positive of
the `preexisting` tally (labelled values nobody found are its misses); every other finding on an
untouched file is a false positive (`fp_per_mb`); `findings_per_mb` counts them all. A smaller
`--clean-mb` takes a prefix of the same order, so it stays covered; files no one reviewed
(another seed, a larger set, new packages) have no labels: all their findings count as false
positives, and the bench says how many such files there were.

The baseline re-implements bigcode-dataset's `pii/` detection as StarCoder ran it: its email
and IPv4/IPv6 regexes with `ip_has_digit`, `matches_date_pattern`, `filter_versions` and
`not_ip_address`, the redaction step's private-IP and popular-DNS exclusions, and
detect-secrets `scan_file` on a temp file per document with bigcode's plugin list and filters
and its `is_hash` check. Its gibberish filter is left out (it needs a trained
gibberish-detector model that is not available offline), which can only raise its key recall
and lower its key precision. It has no password class.

Throughput is CPU seconds (time.process_time) of each detector over both sets, one process:
MB/s per core. Last line: one JSON object.

The bench is split by concern: `corpus` (the source pool and the two sets), `synthetic` (PII
values), `planting` (lines inserted at known spans), `baseline` (the bigcode-style detector),
`scoring` (per-class scores and the reviewed labels), `report` (both runs, the tables, the
JSON line).
"""

CLASSES = ("email", "ip_address", "key", "password", "username")
REPORTED = ("email", "ip_address", "key", "password")
