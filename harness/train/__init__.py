"""Stage 4, training: the notebook's MLP under one variant, alone (:mod:`.training`) or many seeds in one
``model.fit`` (:mod:`.side_by_side`), each run cached once per session (:mod:`.run_cache`).

Its modules import Keras, so none is imported before the backend is chosen; all but :mod:`.record` (a run as
data, which whatever only reads runs imports).
"""
