"""Steps that change a document's training form, not whether it is kept: metadata prefixes,
Jupyter notebook conversion."""
