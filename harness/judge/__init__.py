"""Stage 6, judging a run: its behaviour (:mod:`.checks`), its initial weights (:mod:`.initial`), and the
regression guard's two tiers (:mod:`.exact`, :mod:`.guard`) against the stored baselines (:mod:`.baseline`),
all carried by one verdict type (:mod:`.verdict`)."""
