"""Stages 1 and 2: where the jets come from (:mod:`.dataset`, :mod:`.surrogate`), and the split (:mod:`.prepare`)."""
